"""The question sets the extractive answerer is measured on (tests/evaluation.py) hold what
they claim, checked against the documents and never against an answer: every document named
exists in docs/sample, every expected phrase is one of that document's own (what a right
answer must quote), no question is in two sets, and the held-out set is at least as large as
the set it replaced (22 answerable, 6 off-topic). And the answerer keeps its quality on the
development sets (the held-out set's score is only printed, by `make bench`: a test on it
would make it a set to tune on)."""

from __future__ import annotations

import pytest

from app.ingest.readers import read_document
from app.plaintext import inline, is_markdown
from app.retrieval import Retriever
from tests.evaluation import answer_quality, question_sets
from tests.servers import SAMPLE_DOCS


def _normal(text: str) -> str:
    return " ".join(text.split()).casefold()


def _documents() -> dict[str, str]:
    """Each sample document's words as a quote shows them (Markdown inline syntax gone)."""
    out = {}
    for path in SAMPLE_DOCS.iterdir():
        if path.is_file():
            document = read_document(path.name, path.read_bytes())
            text = "\n".join(section.text for section in document.sections)
            out[path.name] = _normal(inline(text) if is_markdown(path.name) else text)
    return out


def test_every_expected_phrase_is_the_named_documents_own() -> None:
    documents = _documents()
    for name, questions in question_sets().items():
        for item in questions:
            assert set(item.documents) <= set(documents), (name, item.question)
            for phrase in item.expect:
                assert any(_normal(phrase) in documents[d] for d in item.documents), (
                    name,
                    item.question,
                    phrase,
                )


def test_no_question_is_in_two_sets_and_the_held_out_set_is_large_enough() -> None:
    seen: dict[str, str] = {}
    for name, questions in question_sets().items():
        for item in questions:
            key = _normal(item.question)
            assert key not in seen, (item.question, seen.get(key), name)
            seen[key] = name
    held_out = question_sets()["held-out set (never tuned on)"]
    assert sum(not q.off_topic for q in held_out) >= 22
    assert sum(q.off_topic for q in held_out) >= 6


@pytest.mark.parametrize(
    ("name", "least"),
    [
        ("labelled set (development)", 0.95),
        ("second set (development)", 0.9),
        ("off-topic set (development)", 1.0),
    ],
)
def test_the_development_sets_keep_their_quality(
    sample_retriever: Retriever, name: str, least: float
) -> None:
    score = answer_quality(sample_retriever, question_sets()[name])
    wrong = "; ".join(f"{q.question!r} -> {text[:80]!r}" for q, text in score.wrong)
    assert score.quality >= least, f"{score.summary()}: {wrong}"
