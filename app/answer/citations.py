"""The model's `[n]` citations checked against the passages it was given (issue 14).

A citation that names no passage (`[0]`, or `[7]` with 4 passages) is removed from the
answer and its number reported in `citations_removed`. Removed rather than only flagged:
`[n]` is `sources[n-1]`, and a reader (or the page, which links each `[n]`) would follow a
number that points at nothing, or, once a client renumbers, at the wrong passage. The
numbers are still reported, so a model that keeps inventing them can be seen. Every
retrieved passage stays in `sources`, in retrieval order, cited or not (dropping the uncited
ones would renumber the rest, and the stream has announced them all before the answer);
`cited` lists the numbers the answer does cite.

A list such as `[1, 7]` keeps its valid numbers (`[1]`). The stream holds back trailing
whitespace and an unfinished `[...` until the next delta shows how it ends, so that it sends
exactly the text /ask returns: no out-of-range number ever reaches a client.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = ["Checked", "CitationFilter", "check", "strip_citations"]

# `[3]`, `[2, 3]`, `[2,3]`. Starting with the bracket lets the search skip to each `[`.
_CITATION = re.compile(r"\[(\s*\d{1,4}(?:\s*,\s*\d{1,4})*\s*)\]")
_SPACED_CITATION = re.compile(r"\s*" + _CITATION.pattern)
# After an unclosed `[`: what the next delta could still turn into a citation.
_OPEN_LIST = re.compile(r"[\d\s,]*")
_HOLD_AT_MOST = 64  # longer than any real citation: send it as text


def _unfinished(text: str) -> int:
    """Where the part of `text` the next delta could turn into a citation to remove begins:
    an unclosed `[` of digits and commas, and the whitespace before it (or at the end).
    Scanned from the end (a regex search from each position was ~25 µs an answer)."""
    start = len(text)
    bracket = text.rfind("[", max(0, start - _HOLD_AT_MOST))
    if bracket != -1 and _OPEN_LIST.fullmatch(text, bracket + 1):
        start = bracket
    while start and text[start - 1].isspace():
        start -= 1
    return start


@dataclass(slots=True)
class Checked:
    text: str
    cited: list[int] = field(default_factory=list)
    removed: list[int] = field(default_factory=list)


class CitationFilter:
    """Checks text as it arrives (`feed`, then `finish`), against `passages` passages."""

    def __init__(self, passages: int) -> None:
        self._passages = passages
        self._held = ""
        self._cited: set[int] = set()
        self._removed: set[int] = set()

    def _checked(self, text: str) -> str:
        """`text` with each citation's out-of-range numbers removed, and a citation left with
        none removed whole, with the whitespace before it."""
        out: list[str] = []
        last = 0
        for match in _CITATION.finditer(text):
            numbers = [int(n) for n in match.group(1).split(",")]
            kept = [n for n in numbers if 1 <= n <= self._passages]
            self._cited.update(kept)
            if len(kept) == len(numbers):
                continue
            self._removed.update(n for n in numbers if n not in kept)
            before = text[last : match.start()]
            out.append(before.rstrip() if not kept else before)
            out.append(f"[{', '.join(map(str, kept))}]" if kept else "")
            last = match.end()
        if not out:
            return text
        out.append(text[last:])
        return "".join(out)

    def feed(self, text: str) -> str:
        """The part of what has arrived that can be sent now, checked."""
        text = self._held + text
        start = _unfinished(text)
        if len(text) - start > _HOLD_AT_MOST:
            start = len(text)
        self._held = text[start:]
        return self._checked(text[:start])

    def finish(self) -> Checked:
        """The rest of the text, checked, and what was cited and removed in all. Trailing
        whitespace is dropped, as /ask drops it: no delta of blanks ends a stream."""
        rest = self._checked(self._held).rstrip()
        self._held = ""
        return Checked(rest, sorted(self._cited), sorted(self._removed))


def check(text: str, passages: int) -> Checked:
    """`text` with its out-of-range citations removed, and the numbers cited and removed."""
    citations = CitationFilter(passages)
    head = citations.feed(text)
    checked = citations.finish()
    checked.text = (head + checked.text).strip()
    return checked


def strip_citations(text: str) -> str:
    """`text` without its `[n]`: an earlier answer's numbers name passages that are not sent
    again, so to the model they would be citations of the wrong passages."""
    return _SPACED_CITATION.sub("", text).strip()
