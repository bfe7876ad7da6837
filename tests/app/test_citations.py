"""Citation checking (app/answer/citations.py): the stream's text, however a model's tokens
cut it, is the text /ask returns, and no removed number is ever sent."""

from __future__ import annotations

import itertools

import pytest

from app.answer.citations import CitationFilter, check, strip_citations

REPLY = "Roll back [1][7]. Check [0] the SHA [2, 9]; images expire [12].  Done [3] "


def _streamed(deltas: list[str], passages: int) -> tuple[list[str], str]:
    citations = CitationFilter(passages)
    sent = [citations.feed(delta) for delta in deltas]
    sent.append(citations.finish().text)
    return sent, "".join(sent)


def test_check_removes_what_names_no_passage_and_keeps_the_rest() -> None:
    checked = check(REPLY, 4)
    assert checked.text == "Roll back [1]. Check the SHA [2]; images expire.  Done [3]"
    assert (checked.cited, checked.removed) == ([1, 2, 3], [0, 7, 9, 12])


@pytest.mark.parametrize("cut", range(1, 4))
def test_every_way_of_cutting_the_reply_streams_the_same_text(cut: int) -> None:
    expected = check(REPLY, 4).text
    for points in itertools.combinations(range(1, len(REPLY)), cut):
        bounds = [0, *points, len(REPLY)]
        deltas = [REPLY[a:b] for a, b in itertools.pairwise(bounds)]
        sent, text = _streamed(deltas, 4)
        assert text.strip() == expected, deltas
        assert not any(n in piece for piece in sent for n in ("7", "9", "12", "[0")), deltas


def test_a_bracket_that_never_closes_is_sent_as_text() -> None:
    sent, text = _streamed(["The list [1, 2, 3", " and then some more words of it" * 3], 4)
    assert text == "The list [1, 2, 3" + " and then some more words of it" * 3
    assert sent[0] == "The list"  # held only while it could still be a citation


def test_earlier_answers_lose_their_numbers() -> None:
    assert strip_citations("Roll back [1]. Then [2, 3] check.") == "Roll back. Then check."
