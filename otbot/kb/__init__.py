"""The knowledge base: read the knowledge folder and validate it into an immutable model."""

from otbot.kb.loader import iter_sentences, load_knowledge, read_knowledge
from otbot.kb.model import (
    ANY,
    DOCTOR,
    NONE,
    Decline,
    Entry,
    KnowledgeBase,
    KnowledgeError,
    Level,
    LinearModel,
    SmallTalk,
    SmallTalkKind,
    Theme,
    Urgent,
    UrgentKind,
)
from otbot.kb.reader import ID_PATTERN, default_dir

__all__ = [
    "ANY",
    "DOCTOR",
    "ID_PATTERN",
    "NONE",
    "Decline",
    "Entry",
    "KnowledgeBase",
    "KnowledgeError",
    "Level",
    "LinearModel",
    "SmallTalk",
    "SmallTalkKind",
    "Theme",
    "Urgent",
    "UrgentKind",
    "default_dir",
    "iter_sentences",
    "load_knowledge",
    "read_knowledge",
]
