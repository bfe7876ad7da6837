"""Markdown -> the text a person reads, for snippets and quotes.

Passages are stored as written (the extractive answerer splits them on their Markdown
structure, and a model reads Markdown well); what `/ask` shows is cleaned here: heading
markers, fences, emphasis, inline-code backticks and link syntax go (a link keeps its text),
and a table row `| a | b |` reads "a — b". Only documents with a Markdown name are cleaned:
in a .txt or a PDF, `*` and `#` are the author's characters.

A small function rather than a parser: no Markdown library is a runtime dependency, and this
runs on every `/ask` (see `make bench`).
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import PurePosixPath

__all__ = ["TABLE_ROW", "TABLE_RULE", "inline", "is_markdown", "plain", "table_cells"]

_MARKDOWN_SUFFIXES = frozenset({".md", ".markdown"})
# The first characters of the block markup below ("" for a blank line).
_BLOCK_MARKS = frozenset("#|`~>-*+_")
_FENCE = re.compile(r"^\s*(?:```|~~~)")
_HEADING = re.compile(r"^\s{0,3}#{1,6}(?:\s+|$)(.*?)(?:\s+#+)?\s*$")
TABLE_ROW = re.compile(r"^\s*\|")
TABLE_RULE = re.compile(r"^[\s|:-]+$")
_QUOTE = re.compile(r"^\s*(?:>\s?)+")
_BULLET = re.compile(r"^(\s*)[-*+]\s+")
_RULE = re.compile(r"^\s{0,3}(?:[-*_]\s*){3,}$")
# One alternation, scanned left to right: a code span is taken whole, so `**/*.md` inside
# backticks is never read as emphasis. Emphasis follows CommonMark's flanking rules closely
# enough for prose: `*` and `_` open before a non-space and close after one, and `_` never
# inside a word (snake_case stays).
_INLINE = re.compile(
    # The lookahead first: without it every character tries every branch (3x slower).
    r"(?=[`!\[<*_\\])(?:"
    r"(?P<tick>`+)(?P<code>.+?)(?P=tick)"
    r"|!?\[(?P<label>[^\]]*)\]\([^)\s]*(?:\s+\"[^\"]*\")?\)"
    r"|\[(?P<ref>[^\]]+)\]\[[^\]]*\]"
    r"|<(?P<url>(?:https?://|mailto:)[^>\s]+)>"
    r"|(?P<strong>\*\*|__)(?=\S)(?P<bold>.+?)(?<=\S)(?P=strong)"
    r"|(?<![\w*])\*(?=[^\s*])(?P<star>.+?)(?<=[^\s*])\*(?![\w*])"
    r"|(?<![\w_])_(?=[^\s_])(?P<under>.+?)(?<=[^\s_])_(?![\w_])"
    r"|\\(?P<escaped>[!-/:-@\[-`{-~]))",
    re.DOTALL,
)
# Every character that can start markup above: text without any is returned as it is.
_MARKUP_CHARS = re.compile(r"[`\[<*_\\]")


def _replace(match: re.Match[str]) -> str:
    groups = match.groupdict()
    if groups["code"] is not None:
        return groups["code"].strip() or groups["code"]  # `` `x` `` pads with spaces
    for name in ("label", "ref", "bold", "star", "under"):
        if groups[name] is not None:
            return inline(groups[name])  # **[a link](x)** holds markup of its own
    if groups["url"] is not None:
        return groups["url"]
    return groups["escaped"]


def inline(text: str) -> str:
    """`text` without emphasis, backticks and link syntax (a link keeps its text)."""
    if _MARKUP_CHARS.search(text) is None:
        return text
    return _INLINE.sub(_replace, text)


def table_cells(line: str) -> str:
    """'| `A` | | b |' -> '`A` — b': the cells of a table row, empty ones dropped."""
    cells = (cell.strip() for cell in line.strip().strip("|").split("|"))
    return " — ".join(cell for cell in cells if cell)


def plain(text: str) -> str:
    """Markdown -> readable text, line breaks kept; code blocks keep their text untouched."""
    segments: list[tuple[bool, list[str]]] = [(False, [])]  # (is code, lines)
    in_code = in_table = False
    for line in text.splitlines():
        lines = segments[-1][1]
        is_row = not in_code and TABLE_ROW.match(line) is not None
        if in_table and not is_row:
            # Rows end with ";" so they do not run together once lines are joined; the last
            # one ends the statement.
            lines[-1] = lines[-1][:-1] + "."
        in_table = is_row and (in_table or not TABLE_RULE.match(line))
        if _FENCE.match(line):
            in_code = not in_code
            segments.append((in_code, []))
            continue  # the fence and its language tag go; the code itself stays
        if in_code or line.lstrip()[:1] not in _BLOCK_MARKS:
            lines.append(line)  # code, or prose: most lines
            continue
        heading = _HEADING.match(line)
        if heading:
            title = heading.group(1).strip()
            if title:
                # Its own sentence, so that it does not run into the paragraph below.
                lines.append(title if title[-1] in ".:?!" else title + ".")
        elif is_row:
            if not TABLE_RULE.match(line):
                lines.append(table_cells(line) + ";")
        elif not _RULE.match(line):
            lines.append(_BULLET.sub(r"\1• ", _QUOTE.sub("", line)))
    if in_table:
        lines = segments[-1][1]
        lines[-1] = lines[-1][:-1] + "."
    # Inline markup may wrap across the lines of a paragraph: cleaned per segment, not line.
    parts = ("\n".join(lines) if code else inline("\n".join(lines)) for code, lines in segments)
    return "\n".join(part for part in parts if part)


@lru_cache(maxsize=1024)
def is_markdown(document: str) -> bool:
    """By the name's suffix, as ingestion decides (app.ingest.readers.SUPPORTED, not imported:
    it would load pypdf and bs4 into the API)."""
    return PurePosixPath(document).suffix.lower() in _MARKDOWN_SUFFIXES
