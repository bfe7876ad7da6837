"""Retrieval quality on a labelled question set: recall@k (the share of questions whose
answering document is among the top k hits). `make bench` prints it; a test asserts it.
Test and bench code: it lives with the tests, not in the package the image ships."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from app.retrieval import Retriever
from app.store.base import Mode

__all__ = ["LabelledQuestion", "RecallResult", "load_labelled", "recall_at_k"]

LABELLED_QUESTIONS = Path(__file__).resolve().parent / "app" / "data" / "labelled_questions.json"


@dataclass(frozen=True, slots=True)
class LabelledQuestion:
    question: str
    document: str


@dataclass(frozen=True, slots=True)
class RecallResult:
    k: int
    mode: Mode
    found: int
    total: int
    missed: list[LabelledQuestion]

    @property
    def recall(self) -> float:
        return self.found / self.total if self.total else 0.0


def load_labelled(path: Path = LABELLED_QUESTIONS) -> list[LabelledQuestion]:
    data = json.loads(path.read_text())
    return [LabelledQuestion(q["question"], q["document"]) for q in data["questions"]]


def recall_at_k(
    retriever: Retriever,
    questions: Sequence[LabelledQuestion],
    *,
    k: int = 4,
    mode: Mode = "sparse",
) -> RecallResult:
    missed = []
    for item in questions:
        hits = retriever.retrieve(item.question, top_k=k, mode=mode).hits
        if item.document not in {hit.chunk.document for hit in hits}:
            missed.append(item)
    return RecallResult(
        k=k, mode=mode, found=len(questions) - len(missed), total=len(questions), missed=missed
    )
