"""The dialog: an event and the parent's stored state in, replies and new state out."""
