"""The extractive answerer on generic and hostile passages (issue 14, "the extractive
answerer on questions it has not seen"): what a sentence is about comes from the headings
above it too, and a question about a thing the passages never name is not answered from
the words it shares with them."""

from __future__ import annotations

import asyncio

from app.answer._base import NO_ANSWER, Turn
from app.answer.extractive import ExtractiveAnswerer
from app.config import Settings
from app.embeddings import Bm25Encoder
from app.store.base import Chunk, Hit

HANDBOOK = """# Upload handbook

## Size limit

Each upload is capped at 10 MB; larger files are refused.

## Colours

Uploads show a green badge once they are scanned.
"""


def _answer(question: str, *texts: str, answerer: ExtractiveAnswerer | None = None) -> str:
    hits = [
        Hit(Chunk(document=f"doc{n}.md", chunk=0, text=text), score=1.0)
        for n, text in enumerate(texts)
    ]
    return asyncio.run((answerer or ExtractiveAnswerer()).answer(question, hits)).text


def test_the_heading_above_a_sentence_says_what_it_answers() -> None:
    # "size" and "limit" are only in the heading: the sentence alone shares one term. The
    # "Colours" sentence shares "upload" and is not quoted: its heading replaced "Size limit".
    answer = _answer("What is the size limit of an upload?", HANDBOOK)
    assert answer == "Each upload is capped at 10 MB; larger files are refused. [1]"


def test_the_chunks_heading_path_counts_when_the_heading_is_in_an_earlier_chunk() -> None:
    # The chunk starts under "## Size limit", which an earlier chunk holds; the store gives
    # the path as `section`.
    chunk = Chunk(
        document="handbook.md",
        chunk=1,
        text="Each upload is capped at 10 MB; larger files are refused.",
        title="Upload handbook",
        section="Upload handbook > Size limit",
    )
    hits = [Hit(chunk, score=1.0)]
    answer = asyncio.run(ExtractiveAnswerer().answer("What is the size limit of an upload?", hits))
    assert answer.text == "Each upload is capped at 10 MB; larger files are refused. [1]"


def test_a_heading_alone_does_not_make_a_sentence_an_answer() -> None:
    # Both question terms in the heading, none in the sentence: nothing to quote.
    assert _answer("What is the size limit?", HANDBOOK) == NO_ANSWER


ROLLBACK = """# Rolling back a release

To roll back, run the rollout workflow with an older commit.
The last 50 images are kept; that is the rollback window.
Deploy the service again to update it.
"""


def test_a_question_naming_something_the_passages_never_mention_abstains() -> None:
    # They share "roll back", "update", "deploy", "service"; stemming even matches
    # "Windows" with "window". They never say "Windows", "Azure" or "OpenAI".
    for question in (
        "How do I roll back a Windows update?",
        "How do I deploy the service to Azure App Service?",
        "How do I roll back a release of the OpenAI SDK?",
    ):
        assert _answer(question, ROLLBACK) == NO_ANSWER, question


def test_a_name_the_passages_mention_in_any_case_is_answered() -> None:
    text = "Releases go to ECR first. The GitHub workflow rolls back a bad release."
    assert _answer("How does the GITHUB workflow roll back a release?", text).endswith("[1]")
    assert _answer("Which ECRs get the release first?", text).endswith("[1]")


def test_names_are_an_english_rule_german_nouns_are_capitalised() -> None:
    # German capitalises every noun: "Datenbank" is not a name the passage must repeat.
    text = "Der Schlüssel wird jeden Monat erneuert, damit alte Schlüssel ungültig werden."
    german = ExtractiveAnswerer(
        Bm25Encoder.from_settings(Settings.model_construct(BM25_LANGUAGE="german"))
    )
    answer = _answer("Wann wird der Schlüssel der Datenbank erneuert?", text, answerer=german)
    assert answer.endswith("[1]"), answer


def test_a_sentence_is_read_with_the_rest_of_its_paragraph() -> None:
    # "Files over 10 MB are refused." shares only "refused"; the sentence before it says
    # what is refused. A sentence of another paragraph gets no such help.
    text = (
        "Every upload goes through the scanner first. Files over 10 MB are refused.\n\n"
        "Refused payments are retried the next day."
    )
    answer = _answer("Which uploads does the scanner refuse?", text)
    assert answer == (
        "Every upload goes through the scanner first. [1] Files over 10 MB are refused. [1]"
    )


def test_a_question_in_capitals_or_title_case_names_nothing() -> None:
    # Every word has a capital there: none of them is a name the passage must repeat.
    for question in ("HOW DO I ROLL BACK A RELEASE?", "How Do I Roll Back A Release?"):
        assert _answer(question, ROLLBACK).endswith("[1]"), question
    # Numbers have no case: many of them do not make a question Title Case.
    assert _answer("Do 5, 5, 5, 5 or 5 roll back an Azure update?", ROLLBACK) == NO_ANSWER


def test_a_follow_ups_first_word_is_not_a_name() -> None:
    # A follow-up is searched with the question before it: "How" starts a sentence there.
    text = "The ECR lifecycle policy keeps the last 50 images; that is the rollback window."
    hits = [Hit(Chunk(document="rollback.md", chunk=0, text=text), score=1.0)]
    history = [
        Turn("user", "Which images does ECR keep for a rollback?"),
        Turn("assistant", "The last 50 images [1]."),
    ]
    answer = asyncio.run(
        ExtractiveAnswerer().answer("How long is that window?", hits, history=history)
    )
    assert answer.text == f"{text} [1]"
