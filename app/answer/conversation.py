"""Follow-up questions: what to search the documents with when the question is the last turn
of a conversation ("And how long is that window?" names nothing to search for)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from app.answer._base import Turn
from app.answer.citations import strip_citations

__all__ = ["QUERY_CHARS", "follow_up_query", "transcript"]

QUERY_CHARS = 2000  # as long as a question may be
_FOLLOW_UP_TURNS = 3  # the question and the two user turns before it


def follow_up_query(history: Sequence[Turn], question: str) -> str:
    """Without a model to rewrite it: the user's own last questions, oldest first, at most
    QUERY_CHARS. The question before "And how long is that window?" ("Which images does ECR
    keep for a rollback?") holds what "that" refers to. The assistant's turns are left out:
    their words would find again the passages already quoted (tried on docs/sample: they
    pulled retrieval to other documents), not the ones the new question is about."""
    asked = [turn.text for turn in history if turn.role == "user"]
    kept = [question]
    for text in reversed(asked[-(_FOLLOW_UP_TURNS - 1) :]):
        if sum(map(len, kept)) + len(kept) + len(text) > QUERY_CHARS:
            break
        kept.insert(0, text)
    return " ".join(kept)


def transcript(history: Sequence[Turn]) -> str:
    """The earlier turns as escaped <turn> elements, for the query-rewriting call: text the
    asker (or an earlier answer quoting a document) wrote cannot pass for the frame."""
    return "\n".join(
        f'<turn role="{turn.role}">{escape(strip_citations(turn.text), quote=False)}</turn>'
        for turn in history
    )
