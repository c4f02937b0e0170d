"""otbot: answers parents' questions about occupational therapy for children."""

__version__ = "0.1.0"
