"""Load documents into the vector store.

Usage:
    python -m app.ingest SRC... [--recreate]

SRC is a file, a folder (read recursively) or s3://bucket/prefix. PDF (page numbers kept),
Markdown, plain text and HTML are read; other files in folders are skipped and counted.
Running it again over the same files changes nothing; --recreate drops the collection first.
The embedded store is used unless QDRANT_URL is set; dense vectors are added when
BEDROCK_EMBEDDING_MODEL_ID is set (see the README's settings table).

Exit status:
    0  every document was stored
    1  some documents could not be read (each is named on stderr); the others were stored
    2  bad arguments, settings, or a source that does not exist (nothing was stored)
    3  the vector store or the embedding model is unavailable, or the collection has another
       vector configuration (re-run with --recreate)
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from pydantic import ValidationError
from tqdm import tqdm

from app.config import Settings
from app.ingest.pipeline import Ingestor, IngestReport
from app.ingest.readers import Document, UnreadableDocument, read_document
from app.ingest.sources import Source, SourceError, SourceReadError, list_sources
from app.retrieval import build_embedder
from app.store import StoreError, open_store

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

EXIT_OK = 0
EXIT_SOME_FAILED = 1
EXIT_USAGE = 2
EXIT_UNAVAILABLE = 3


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m app.ingest",
        description="Load documents (files, folders, s3://bucket/prefix) into the vector store.",
        epilog="Exit status: 0 all stored, 1 some files unreadable, 2 bad source or settings, "
        "3 store or embedding model unavailable.",
    )
    parser.add_argument(
        "sources", nargs="+", metavar="SRC", help="file, folder or s3://bucket/prefix"
    )
    parser.add_argument(
        "--recreate", action="store_true", help="drop the collection and start over"
    )
    return parser


def _read(source: Source) -> tuple[Document | None, str | None]:
    """(document, None) or (None, reason)."""
    try:
        return read_document(source.name, source.read()), None
    except UnreadableDocument as exc:
        return None, str(exc)
    except SourceReadError as exc:
        return None, str(exc)
    except OSError as exc:
        return None, exc.strerror or str(exc)


def ingest_sources(
    sources: list[Source], ingestor: Ingestor, *, progress: bool = False
) -> IngestReport:
    report = IngestReport()
    started = time.perf_counter()
    with tqdm(total=len(sources), unit="doc", disable=not progress, file=sys.stderr) as bar:
        for source in sources:
            document, reason = _read(source)
            if document is None:
                report.failures.append(f"{source.origin}: {reason}")
            else:
                report.chunks += ingestor.add(document)
                report.documents += 1
            bar.update(1)
        ingestor.finish()
    report.seconds = time.perf_counter() - started
    return report


def _settings_error(exc: ValidationError) -> str:
    problems = "; ".join(
        f"{'.'.join(str(part) for part in error['loc']) or 'settings'}: {error['msg']}"
        for error in exc.errors()
    )
    return f"invalid settings ({problems})"


def main(argv: list[str] | None = None, *, settings: Settings | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = settings or Settings()
    except ValidationError as exc:
        print(f"error: {_settings_error(exc)}", file=sys.stderr)
        return EXIT_USAGE

    def s3() -> S3Client:
        from app.aws import s3 as s3_client

        return s3_client(settings)

    s3_factory: Callable[[], S3Client] = s3
    try:
        listing = list_sources(args.sources, s3=s3_factory)
    except SourceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    dense = build_embedder(settings)
    # botocore is imported only when Bedrock is in use; `except ()` catches nothing.
    bedrock_errors: tuple[type[Exception], ...] = ()
    if dense is not None:
        from botocore.exceptions import BotoCoreError, ClientError

        bedrock_errors = (BotoCoreError, ClientError)
    store = open_store(settings)
    try:
        ingestor = Ingestor(store, settings, dense=dense)
        ingestor.prepare(recreate=args.recreate)
        report = ingest_sources(listing.sources, ingestor, progress=sys.stderr.isatty())
    except StoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    except bedrock_errors as exc:
        print(
            f"error: embedding with {settings.BEDROCK_EMBEDDING_MODEL_ID} failed: {exc}",
            file=sys.stderr,
        )
        return EXIT_UNAVAILABLE
    finally:
        store.close()
    report.skipped = listing.skipped
    for failure in report.failures:
        print(f"error: {failure}", file=sys.stderr)
    print(report.summary())
    return EXIT_SOME_FAILED if report.failures else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
