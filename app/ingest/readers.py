"""Bytes of one file -> its text, by kind: PDF (per page), Markdown, plain text, HTML.

A file that cannot be read raises `UnreadableDocument` with a reason that names the line or
page where that applies; the caller reports it and moves on to the next file.
"""

from __future__ import annotations

import io
import logging
import re
from dataclasses import dataclass
from pathlib import PurePosixPath

import pypdf
from bs4 import BeautifulSoup

__all__ = ["SUPPORTED", "Document", "Section", "UnreadableDocument", "kind_of", "read_document"]

SUPPORTED = {
    ".pdf": "pdf",
    ".md": "markdown",
    ".markdown": "markdown",
    ".txt": "text",
    ".text": "text",
    ".rst": "text",
    ".html": "html",
    ".htm": "html",
}


class UnreadableDocument(Exception):  # noqa: N818 - reads as the reason it is raised
    """The file could not be turned into text; the message says why (and where)."""


@dataclass(frozen=True, slots=True)
class Section:
    text: str
    page: int | None = None  # 1-based, PDFs only


@dataclass(frozen=True, slots=True)
class Document:
    name: str
    kind: str  # one of SUPPORTED's values
    sections: list[Section]


def kind_of(name: str) -> str | None:
    return SUPPORTED.get(PurePosixPath(name).suffix.lower())


def read_document(name: str, data: bytes, kind: str | None = None) -> Document:
    kind = kind or kind_of(name)
    if kind is None:
        raise UnreadableDocument(
            f"unsupported file type (supported: {', '.join(sorted(SUPPORTED))})"
        )
    if kind == "pdf":
        sections = _read_pdf(data)
    elif kind == "html":
        sections = [Section(_html_text(_decode(data)))]
    else:
        sections = [Section(_decode(data))]
    sections = [s for s in sections if s.text.strip()]
    if not sections:
        reason = "no extractable text (a scanned PDF?)" if kind == "pdf" else "the file is empty"
        raise UnreadableDocument(reason)
    return Document(name=name, kind=kind, sections=sections)


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise UnreadableDocument(
            f"line {line}, column {column}: not UTF-8 text (byte 0x{data[exc.start]:02x})"
        ) from exc


def _read_pdf(data: bytes) -> list[Section]:
    # pypdf logs recoverable damage as warnings on its own logger; the caller reports failures.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        decrypted = not reader.is_encrypted or bool(reader.decrypt(""))
        pages = list(reader.pages) if decrypted else []
    except Exception as exc:  # pypdf raises many types for damaged files; all mean "unreadable"
        raise UnreadableDocument(f"not a readable PDF ({_reason(exc)})") from exc
    if not decrypted:
        raise UnreadableDocument("the PDF is encrypted with a password")
    sections = []
    for number, page in enumerate(pages, start=1):
        try:
            text = page.extract_text()
        except Exception as exc:
            raise UnreadableDocument(f"page {number}: {_reason(exc)}") from exc
        sections.append(Section(_tidy(text), page=number))
    return sections


_BLOCKS = [
    "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "figcaption",
    "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "ol", "p", "pre",
    "section", "table", "td", "th", "title", "tr", "ul",
]  # fmt: skip


def _html_text(markup: str) -> str:
    soup = BeautifulSoup(markup, "html.parser")
    for tag in soup(["script", "style", "noscript", "template", "nav", "footer"]):
        tag.decompose()
    # Inline tags (<a>, <code>) stay inside their sentence; block tags end a paragraph.
    for tag in soup(_BLOCKS):
        tag.append("\n\n")
    return _tidy(soup.get_text())


_BLANKS = re.compile(r"[ \t\r\f\v]+")
_MANY_NEWLINES = re.compile(r"\n\s*\n+")


def _tidy(text: str) -> str:
    lines = (_BLANKS.sub(" ", line).strip() for line in text.splitlines())
    return _MANY_NEWLINES.sub("\n\n", "\n".join(lines)).strip()


def _reason(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
