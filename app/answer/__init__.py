"""Turning retrieved passages into an answer that cites them as [1], [2], ...

Answerer (protocol, in `_base`)
 ├── ExtractiveAnswerer  (no LLM: the passages' best sentences, quoted; the default)
 └── BedrockAnswerer     (Converse / ConverseStream, confined to the numbered passages)
"""

from app.answer._base import (
    BLOCKED,
    TRUNCATED,
    Answer,
    Answerer,
    Delta,
    Done,
    StreamEvent,
    TokenUsage,
    Turn,
)

__all__ = [
    "BLOCKED",
    "TRUNCATED",
    "Answer",
    "Answerer",
    "Delta",
    "Done",
    "StreamEvent",
    "TokenUsage",
    "Turn",
]
