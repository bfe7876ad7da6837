"""What every answerer returns; the passages are the retriever's hits, numbered from 1."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from typing import Protocol

from app.store.base import Hit

NO_ANSWER = "I don't know from these documents."
# Said instead of an answer Bedrock's content filter stopped: not "I don't know", which would
# pass a refusal off as an honest abstention.
FILTERED_ANSWER = "The model's content filter stopped this answer; nothing of it is shown."

# Converse's stopReason values (botocore's bedrock-runtime service model, shape StopReason:
# end_turn, tool_use, max_tokens, stop_sequence, guardrail_intervened, content_filtered,
# malformed_model_output, malformed_tool_use, model_context_window_exceeded), plus this
# service's own `no_answer` (nothing retrieved, or the extractive answerer found no quote).
TRUNCATED = frozenset({"max_tokens", "model_context_window_exceeded"})
BLOCKED = frozenset({"guardrail_intervened", "content_filtered"})


@dataclass(frozen=True, slots=True)
class Turn:
    """One earlier message of a conversation: `user` or `assistant`, and its text."""

    role: str
    text: str


@dataclass(frozen=True, slots=True)
class TokenUsage:
    input_tokens: int
    output_tokens: int
    total_tokens: int


@dataclass(frozen=True, slots=True)
class Answer:
    text: str
    stop_reason: str
    usage: TokenUsage | None = None


@dataclass(frozen=True, slots=True)
class Delta:
    text: str


@dataclass(frozen=True, slots=True)
class Done:
    stop_reason: str
    usage: TokenUsage | None = None


StreamEvent = Delta | Done


class Answerer(Protocol):
    """Awaited on the event loop; each answerer decides where its work runs: the extractive
    one in place (CPU only, well under a millisecond), Bedrock's calls in worker threads
    (`app.offload`), so that a slow model never holds the event loop."""

    @property
    def model(self) -> str:
        """`extractive` or the Bedrock model id, reported in every response."""

    async def answer(
        self,
        question: str,
        passages: Sequence[Hit],
        *,
        temperature: float | None,
        history: Sequence[Turn] = (),
    ) -> Answer:
        """`history`: the conversation before `question`, oldest first (empty for one
        question)."""

    def stream(
        self,
        question: str,
        passages: Sequence[Hit],
        *,
        temperature: float | None,
        history: Sequence[Turn] = (),
    ) -> AsyncGenerator[StreamEvent, None]:
        """Delta events, then exactly one Done."""

    async def search_query(self, history: Sequence[Turn], question: str) -> str:
        """What to search the documents with for `question`, the last turn of a conversation
        whose earlier turns are `history` (non-empty)."""

    def close(self) -> None: ...
