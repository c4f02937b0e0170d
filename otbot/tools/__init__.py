"""The maintainers' tools: evaluation, reports, misses, overlaps, import and checks."""
