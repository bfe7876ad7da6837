"""Quality on the question sets over docs/sample. `make bench` prints it; tests assert it.
Test and bench code: it lives with the tests, not in the package the image ships.

- recall@k: the share of labelled questions whose answering document is among the top k hits;
- answer quality: what the extractive answerer says, through the same `Retriever` and
  answerer as /ask. An answer is *right* when it cites a passage of an expected document
  (and, where the set lists `expect`, quotes one of those phrases); an off-topic question is
  right only when it abstains. An abstention on an answerable question is *honest*: not
  right, not wrong. The issue's bar, "8/10-level", is (right + honest) / total >= 0.8.

Development sets (the answerer is tuned on them): `labelled_questions.json`,
`development_questions.json` and `off_topic_questions.json`. The held-out set,
`held_out_questions.json`, was written from the documents and committed before it was first
run; it is never tuned on, and its score is only measured (issue 14).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from app.answer._base import NO_ANSWER
from app.answer.extractive import ExtractiveAnswerer
from app.retrieval import Retriever
from app.store.base import Mode

__all__ = [
    "DEVELOPMENT_QUESTIONS",
    "HELD_OUT_QUESTIONS",
    "LABELLED_QUESTIONS",
    "OFF_TOPIC_QUESTIONS",
    "AnswerScore",
    "LabelledQuestion",
    "RecallResult",
    "answer_quality",
    "load_labelled",
    "load_off_topic",
    "question_sets",
    "recall_at_k",
]

DATA = Path(__file__).resolve().parent / "app" / "data"
LABELLED_QUESTIONS = DATA / "labelled_questions.json"
DEVELOPMENT_QUESTIONS = DATA / "development_questions.json"
HELD_OUT_QUESTIONS = DATA / "held_out_questions.json"
OFF_TOPIC_QUESTIONS = DATA / "off_topic_questions.json"
_CITATION = re.compile(r"\[(\d+)\]")


@dataclass(frozen=True, slots=True)
class LabelledQuestion:
    question: str
    document: str  # the first of `documents`, "" for an off-topic question
    documents: tuple[str, ...] = ()
    expect: tuple[str, ...] = ()

    @property
    def off_topic(self) -> bool:
        return not self.documents


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


@dataclass(slots=True)
class AnswerScore:
    right: int = 0
    honest: int = 0  # abstained on an answerable question
    wrong: list[tuple[LabelledQuestion, str]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.right + self.honest + len(self.wrong)

    @property
    def quality(self) -> float:
        return (self.right + self.honest) / self.total if self.total else 0.0

    def summary(self) -> str:
        return (
            f"{self.quality:.2f} ({self.right} right, {self.honest} abstained, "
            f"{len(self.wrong)} wrong of {self.total})"
        )


def load_labelled(path: Path = LABELLED_QUESTIONS) -> list[LabelledQuestion]:
    """Either set: `document` (one name) or `documents` (several, [] for off-topic)."""
    data = json.loads(path.read_text())
    out = []
    for q in data["questions"]:
        documents = tuple(q["documents"]) if "documents" in q else (q["document"],)
        out.append(
            LabelledQuestion(
                q["question"],
                documents[0] if documents else "",
                documents,
                tuple(q.get("expect", ())),
            )
        )
    return out


def load_off_topic(path: Path = OFF_TOPIC_QUESTIONS) -> list[str]:
    return list(json.loads(path.read_text())["questions"])


def question_sets() -> dict[str, list[LabelledQuestion]]:
    """Every set `make bench` scores, by the name it prints: the development sets, then the
    held-out one."""
    return {
        "labelled set (development)": load_labelled(),
        "second set (development)": load_labelled(DEVELOPMENT_QUESTIONS),
        "off-topic set (development)": [LabelledQuestion(q, "") for q in load_off_topic()],
        "held-out set (never tuned on)": load_labelled(HELD_OUT_QUESTIONS),
    }


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


def _normal(text: str) -> str:
    return " ".join(text.split()).casefold()


def answer_quality(
    retriever: Retriever,
    questions: Sequence[LabelledQuestion],
    *,
    k: int = 4,
    mode: Mode = "hybrid",
) -> AnswerScore:
    """Each question through `retriever` and the extractive answerer, as /ask does."""
    answerer = ExtractiveAnswerer(retriever.sparse)
    score = AnswerScore()

    async def run() -> None:
        for item in questions:
            hits = retriever.retrieve(item.question, top_k=k, mode=mode).hits
            text = (await answerer.answer(item.question, hits)).text
            abstained = text == NO_ANSWER
            if item.off_topic:
                if abstained:
                    score.right += 1
                else:
                    score.wrong.append((item, text))
                continue
            if abstained:
                score.honest += 1
                continue
            cited = {
                hits[int(n) - 1].chunk.document
                for n in _CITATION.findall(text)
                if 0 < int(n) <= len(hits)
            }
            quoted = not item.expect or any(_normal(e) in _normal(text) for e in item.expect)
            if cited & set(item.documents) and quoted:
                score.right += 1
            else:
                score.wrong.append((item, text))

    asyncio.run(run())
    return score
