"""The terminal adapter: the same conversation as numbered choices in a terminal."""
