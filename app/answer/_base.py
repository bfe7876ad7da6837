"""What every answerer returns; the passages are the retriever's hits, numbered from 1."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from app.store.base import Hit

NO_ANSWER = "I don't know from these documents."


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
        self, question: str, passages: Sequence[Hit], *, temperature: float | None
    ) -> Answer: ...

    def stream(
        self, question: str, passages: Sequence[Hit], *, temperature: float | None
    ) -> AsyncIterator[StreamEvent]:
        """Delta events, then exactly one Done."""

    def close(self) -> None: ...
