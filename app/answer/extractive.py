"""The answerer that needs no model: it quotes the passages' sentences that best match the
question, each followed by its passage number, and says it does not know when no passage
shares enough of the question's terms. It only ever repeats the documents' own words.

Terms are the BM25 encoder's (stemmed, stop words removed), the same ones retrieval uses,
so "rotating keys" matches "rotate the key". A term is worth more when few of the candidate
sentences contain it (inverse document frequency over the sentences at hand). A sentence is
read with the headings above it and the rest of its paragraph, which say what it is about;
and a question naming something the passages never mention is not answered from them.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import AsyncGenerator, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache

from app.answer._base import NO_ANSWER, Answer, Delta, Done, StreamEvent, Turn
from app.answer.conversation import follow_up_query
from app.embeddings import Bm25Encoder
from app.plaintext import TABLE_ROW, TABLE_RULE, inline, is_markdown, table_cells
from app.store.base import Hit

__all__ = ["ExtractiveAnswerer", "sentences"]

# A line that starts a new block rather than continuing a hard-wrapped paragraph.
_BLOCK_START = re.compile(r"^\s*(?:#{1,6}\s|[-*+>]\s|\d{1,3}[.)]\s|\||```)")
_HEADING = re.compile(r"^\s*#{1,6}\s")
_LINE_MARKUP = re.compile(r"^\s*(?:[-*+>]\s+|\d{1,3}[.)]\s+)+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[`*A-Z0-9])")
_MIN_WORDS = 4
# Between a sentence and the command it introduces: the command is quoted, but does not
# count as the sentence's words when its share of the question's terms is weighed.
_COMMAND = "\x1f"
_MAX_SENTENCE_CHARS = 400
# The words of a question, as `_names` reads them ("GitHub's", "Retry-After", "e.g.").
_WORD = re.compile(r"[\w][\w.'-]*")
_QUESTION_END = re.compile(r"(?<=[.!?])\s+")
# What a question term found only around a sentence (its headings, the rest of its
# paragraph) is worth, against one in the sentence itself.
_CONTEXT_WEIGHT = 0.5


def _blocks(text: str, base: Sequence[str] = ()) -> Iterator[tuple[str, tuple[str, ...]]]:
    """Paragraphs, list items and table rows, hard-wrapped lines joined; no headings. Code
    is quoted only where a block introduces it ("..., so start new tasks:"): the command is
    the answer then, and the block without it promises one and stops. Each block comes with
    the headings above it (`base`, the chunk's heading path, then the chunk's own)."""
    yield from _with_commands(_raw_blocks(text, base))


def _with_commands(
    blocks: Iterator[tuple[str, bool, tuple[str, ...]]],
) -> Iterator[tuple[str, tuple[str, ...]]]:
    held: tuple[str, tuple[str, ...]] | None = None  # the last prose block, until we know
    for block, code, headings in blocks:  # whether code follows it
        if code:
            if held is not None and held[0].endswith(":") and _COMMAND not in held[0]:
                held = (f"{held[0]} {_COMMAND}{block}", held[1])
            continue  # code nothing introduces reads badly as a quote
        if held is not None:
            yield held
        held = (block, headings)
    if held is not None:
        yield held


def _command(lines: list[str]) -> str:
    """A fenced block as one line: shell continuations joined, whitespace collapsed."""
    return " ".join(" ".join(line.rstrip().removesuffix("\\").split()) for line in lines).strip()


def _raw_blocks(text: str, base: Sequence[str] = ()) -> Iterator[tuple[str, bool, tuple[str, ...]]]:
    """(block, is_code, headings above it) in order: prose blocks as `_blocks` describes,
    and each fenced code block as one line."""
    current: list[str] = []
    code: list[str] | None = None  # the lines of the fenced block being read
    # (level, heading): the chunk's heading path counts as levels 1.., its own headings by
    # their `#`s, so "## When there is no plan" replaces the "## Size limit" above it.
    path = [(level, heading) for level, heading in enumerate(base, start=1)]

    def headings() -> tuple[str, ...]:
        return tuple(heading for _, heading in path)

    for line in [*text.splitlines(), ""]:
        if line.lstrip().startswith("```"):
            if code is None:
                if current:
                    yield " ".join(current), False, headings()
                current, code = [], []
            else:
                if code:
                    yield _command(code), True, headings()
                code = None
            continue
        if code is not None:
            code.append(line)
            continue
        if not line.strip() or _BLOCK_START.match(line):
            if current:
                yield " ".join(current), False, headings()
            current = []
            if TABLE_ROW.match(line):
                # A row is one statement ("`MAX_BODY_BYTES` | `65536` | largest body"), read
                # as "a — b — c"; the rule under the header row is not.
                if not TABLE_RULE.match(line):
                    yield table_cells(line), False, headings()
                continue
            if _HEADING.match(line):
                marks, _, heading = line.strip().partition(" ")
                path = [(level, h) for level, h in path if level < len(marks)]
                path.append((len(marks), heading.strip()))
            if not line.strip() or _HEADING.match(line):
                continue  # titles repeat the question's words but answer nothing by themselves
        current.append(line.strip())


def sentences(text: str, *, markdown: bool = True) -> Iterator[str]:
    """The quotable sentences of a passage, Markdown list markers removed and, in a Markdown
    document, emphasis, backticks and link syntax too (split first: backticks and `*` help
    find where a sentence starts)."""
    return (quote for quote, *_ in _quotes(text, markdown=markdown))


def _quotes(
    text: str, *, markdown: bool, base: Sequence[str] = ()
) -> Iterator[tuple[str, str, tuple[str, ...], int]]:
    """(sentence, its prose without an introduced command, the headings above it, the number
    of its block) for each quotable sentence."""
    for number, (block, headings) in enumerate(_blocks(text, base)):
        for raw in _SENTENCE_END.split(_LINE_MARKUP.sub("", block)):
            sentence = inline(raw).strip() if markdown else raw.strip()
            prose = sentence.split(_COMMAND, 1)[0]
            sentence = sentence.replace(_COMMAND, "")
            if len(sentence.split()) < _MIN_WORDS:
                continue
            if len(sentence) > _MAX_SENTENCE_CHARS:
                sentence = sentence[:_MAX_SENTENCE_CHARS].rsplit(" ", 1)[0] + " …"
            yield sentence, prose, headings, number


@dataclass(frozen=True, slots=True)
class _Passage:
    """A passage split once: its sentences, how many terms each has, which sentences hold
    each term (so a question visits only the sentences that share its terms), and the terms
    around each sentence (its headings, the rest of its paragraph) that it does not hold."""

    sentences: tuple[str, ...]
    sizes: tuple[int, ...]
    where: dict[int, tuple[int, ...]]
    context: tuple[frozenset[int], ...]
    words: frozenset[str]  # casefolded, headings included: what names it mentions (`_words`)


@dataclass(slots=True)  # not frozen: a frozen dataclass is slower to create, and /ask makes many
class _Candidate:
    passage: int  # 1-based, as cited
    position: int
    text: str
    shared: frozenset[int]  # the question's terms it holds
    size: int  # all its terms
    context: frozenset[int]  # the question's terms only its headings and paragraph hold


def _names(question: str) -> set[str]:
    """The things an English question names: words with a capital letter, each sentence's
    first word ("How", "Which": a follow-up is searched with the questions before it) and
    "I" aside. None in a question typed in capitals or in Title Case: there a capital marks
    nothing."""
    found = []
    for sentence in _QUESTION_END.split(question):
        words = sentence.split(None, 1)
        rest = words[1] if len(words) > 1 else ""
        found += _words(rest)
    capitals = [w for w in found if w[:1].isalpha() and not w.islower()]
    if 2 * len(capitals) > len(found):
        return set()
    return set(capitals) - {"I"}


def _words(text: str) -> list[str]:
    """Words as names are read: "GitHub's" is "GitHub", "ECR." is "ECR"."""
    return [word.rstrip(".-'").removesuffix("'s") for word in _WORD.findall(text)]


def _missing_name(names: set[str], words: frozenset[str]) -> bool:
    """Whether the passages (their `words`, casefolded) leave out a thing the question names.
    A question about "Azure App Service" or "a Windows update" is not answered by passages
    that never say "Azure" or "Windows", however many of its other words ("deploy",
    "service", "roll back") they share; stemming would even match "Windows" with a
    "rollback window"."""
    for name in names:
        forms = [name.casefold()]
        if name.endswith("s") and name[:-1].isupper():
            forms.append(name[:-1].casefold())  # "ECRs", "APIs"
        if not any(form in words for form in forms):
            return True
    return False


class ExtractiveAnswerer:
    """Quotes up to `max_sentences` sentences, best first by the question terms they share."""

    model = "extractive"

    def __init__(
        self,
        encoder: Bm25Encoder | None = None,
        *,
        max_sentences: int = 3,
        min_coverage: float = 0.4,
    ) -> None:
        self._encoder = encoder or Bm25Encoder.from_settings()
        self._max_sentences = max_sentences
        self._min_coverage = min_coverage
        # The same passages come back for many questions; splitting and encoding them is
        # most of this answerer's time, so remember the last few thousand.
        self._split = lru_cache(maxsize=2048)(self._split_uncached)

    async def search_query(self, history: Sequence[Turn], question: str) -> str:
        return follow_up_query(history, question)

    # Both run in place on the event loop: CPU only and well under a millisecond, so a thread
    # hop would cost more than the answer. A follow-up's quotes are chosen by the words it is
    # searched with (`follow_up_query`): its own may name nothing ("that window").
    async def answer(
        self,
        question: str,
        passages: Sequence[Hit],
        *,
        temperature: float | None = None,
        history: Sequence[Turn] = (),
    ) -> Answer:
        quotes = self._select(follow_up_query(history, question), passages)
        if not quotes:
            return Answer(text=NO_ANSWER, stop_reason="no_answer")
        return Answer(text=" ".join(quotes), stop_reason="end_turn")

    async def stream(
        self,
        question: str,
        passages: Sequence[Hit],
        *,
        temperature: float | None = None,
        history: Sequence[Turn] = (),
    ) -> AsyncGenerator[StreamEvent, None]:
        quotes = self._select(follow_up_query(history, question), passages)
        if not quotes:
            yield Delta(NO_ANSWER)
            yield Done(stop_reason="no_answer")
            return
        for index, quote in enumerate(quotes):
            yield Delta(quote if index == 0 else " " + quote)
        yield Done(stop_reason="end_turn")

    def close(self) -> None:
        return None

    def _split_uncached(self, text: str, markdown: bool, base: tuple[str, ...]) -> _Passage:
        kept: list[str] = []
        sizes: list[int] = []
        where: dict[int, list[int]] = {}
        own: list[frozenset[int]] = []
        around: list[tuple[tuple[str, ...], int]] = []  # (headings, block) of each sentence
        heading_terms: dict[tuple[str, ...], frozenset[int]] = {}
        block_terms: dict[int, set[int]] = {}
        for position, (sentence, prose, headings, block) in enumerate(
            _quotes(text, markdown=markdown, base=base)
        ):
            if position == 0 and sentence[:1].islower():
                continue  # a chunk can start mid-sentence (chunks overlap): not a quote
            terms = frozenset(self._encoder.document(sentence).indices)
            for term in terms:
                where.setdefault(term, []).append(len(kept))
            kept.append(sentence)
            # Density counts the prose only: a command's flags are not words of the sentence.
            sizes.append(
                len(set(self._encoder.document(prose).indices)) if prose != sentence else len(terms)
            )
            if headings not in heading_terms:
                joined = inline(" ".join(headings)) if markdown else " ".join(headings)
                heading_terms[headings] = frozenset(self._encoder.document(joined).indices)
            own.append(terms)
            around.append((headings, block))
            block_terms.setdefault(block, set()).update(terms)
        # A sentence is read with its headings and the rest of its paragraph: "GitHub comments
        # are limited to 65,536 characters." is about plan comments and their diff being cut
        # because "## Size limit" and the next sentence say so.
        context = tuple(
            (heading_terms[headings] | block_terms[block]) - terms
            for terms, (headings, block) in zip(own, around, strict=True)
        )
        words = frozenset(w.casefold() for w in _words("\n".join((*base, text))))
        return _Passage(
            tuple(kept), tuple(sizes), {t: tuple(i) for t, i in where.items()}, context, words
        )

    def _select(self, question: str, passages: Sequence[Hit]) -> list[str]:
        wanted = frozenset(self._encoder.query(question).indices)
        if not wanted or not passages:
            return []
        split = []
        for hit in passages:
            chunk = hit.chunk
            split.append(self._split(chunk.text, is_markdown(chunk.document), chunk.headings))
        # Only in English does a capital inside a sentence mark a name (German capitalises
        # every noun).
        names = _names(question) if self._encoder.language == "english" else set()
        if names and _missing_name(names, frozenset().union(*(p.words for p in split))):
            return []
        # A quote must share two of the question's terms (one if the question has one): a
        # sentence that merely repeats "deploy" does not answer "How do I deploy to Azure?".
        # The headings above a sentence and the rest of its paragraph say what it is about
        # (`_split_uncached`), so their terms count too, for less, and never alone: the
        # sentence must hold one term itself.
        least = min(2, len(wanted))
        candidates: list[_Candidate] = []
        for number, passage in enumerate(split, start=1):
            shared: dict[int, set[int]] = {}
            for term in wanted:
                for index in passage.where.get(term, ()):
                    shared.setdefault(index, set()).add(term)
            for i, terms in shared.items():
                around = passage.context[i] & wanted
                if len(terms) + len(around) >= least:
                    candidates.append(
                        _Candidate(
                            number,
                            i,
                            passage.sentences[i],
                            frozenset(terms),
                            passage.sizes[i],
                            around,
                        )
                    )
        if not candidates:
            return []
        frequency = Counter(term for c in candidates for term in c.shared | c.context)
        weight = {t: 1.0 + math.log(len(candidates) / n) for t, n in frequency.items()}

        def score(c: _Candidate) -> float:
            value = sum(map(weight.__getitem__, c.shared)) + 0.5 * len(c.shared) / c.size
            value += _CONTEXT_WEIGHT * sum(map(weight.__getitem__, c.context))
            if c.text.endswith(":"):
                value -= 0.5  # introduces a list that is not quoted
            return value - 0.2 * (c.passage - 1)  # retrieval ranked the passages already

        chosen: list[_Candidate] = []
        seen: set[str] = set()
        for candidate in sorted(candidates, key=lambda c: (-score(c), c.passage, c.position)):
            if len(chosen) == self._max_sentences:
                break
            if candidate.text.casefold() not in seen:
                chosen.append(candidate)
                seen.add(candidate.text.casefold())
        covered = frozenset().union(*(c.shared | c.context for c in chosen))
        if len(covered) < max(1, math.ceil(len(wanted) * self._min_coverage)):
            return []
        chosen.sort(key=lambda c: (c.passage, c.position))
        return [f"{c.text} [{c.passage}]" for c in chosen]
