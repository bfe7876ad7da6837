"""Load documents into the vector store.

Usage:
    python -m app.ingest SRC... [--recreate]

SRC is a file, a folder (read recursively) or s3://bucket/prefix. PDF (page numbers kept),
Markdown, plain text and HTML are read; other files in folders are skipped and counted.
A run is a sync: unchanged documents are skipped (no embedding calls), changed ones
rewritten, and documents gone from a folder or prefix given are deleted. The last line says
how many were added, changed, unchanged and deleted. --recreate drops the collection first
(needed after changing BM25_LANGUAGE or the embedding dimensions).
The embedded store is used unless QDRANT_URL is set; dense vectors are added when
BEDROCK_EMBEDDING_MODEL_ID is set (see the README's settings table).

Exit status:
    0  every document was stored
    1  some documents could not be read or were over MAX_FILE_BYTES (each is named on
       stderr); the others were stored, and nothing of the unread ones was deleted
    2  bad arguments, settings, a source that does not exist, or two files with the same
       name (nothing was stored)
    3  the vector store or the embedding model is unavailable, or the collection has another
       vector configuration or BM25 language (re-run with --recreate); what was stored
       before stays, and running it again resumes
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from pydantic import ValidationError
from tqdm import tqdm

from app.config import Settings, settings_problems
from app.errors import SourceError, SourceReadError, UnreadableDocument
from app.ingest.pipeline import Ingestor, IngestReport, content_hash
from app.ingest.readers import read_document
from app.ingest.sources import Listing, Source, list_sources
from app.retrieval import build_embedder
from app.store import StoreError, open_store

if TYPE_CHECKING:
    from mypy_boto3_bedrock_runtime import BedrockRuntimeClient
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


def _titan_on(settings: Settings) -> bool:
    return bool(settings.BEDROCK_EMBEDDING_MODEL_ID)


def _titan_client(settings: Settings) -> BedrockRuntimeClient:
    """bedrock-runtime for a batch: botocore's `adaptive` retry mode (standard retries plus a
    client-side rate limiter that slows every call down once Titan throttles), so a long run
    rides out a throttle instead of failing; a throttle that outlasts BEDROCK_MAX_ATTEMPTS
    still exits 3, and the next run resumes from the stored hashes."""
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=settings.BEDROCK_CONNECT_TIMEOUT_S,
        read_timeout=settings.BEDROCK_READ_TIMEOUT_S,
        retries={"mode": "adaptive", "total_max_attempts": settings.BEDROCK_MAX_ATTEMPTS},
    )
    return boto3.client("bedrock-runtime", region_name=settings.AWS_REGION, config=config)


def _too_big(size: int, limit: int) -> str:
    return f"{size:,} bytes, over MAX_FILE_BYTES={limit:,} (raise it, or split the file)"


def _fetch(source: Source, limit: int) -> tuple[bytes | None, str | None]:
    """(bytes, None) or (None, reason)."""
    if source.size is not None and source.size > limit:
        return None, _too_big(source.size, limit)
    try:
        data = source.read()
    except SourceReadError as exc:
        return None, str(exc)
    except OSError as exc:
        return None, exc.strerror or str(exc)
    if len(data) > limit:
        return None, _too_big(len(data), limit)
    return data, None


def _sync_one(source: Source, ingestor: Ingestor, report: IngestReport) -> None:
    data, reason = _fetch(source, ingestor.settings.MAX_FILE_BYTES)
    if data is None:
        report.failures.append(f"{source.origin}: {reason}")
        return
    digest = content_hash(data, ingestor.settings)
    status = ingestor.status(source.uri, source.name, digest)
    if status == "unchanged":
        report.count(status)
        return
    try:
        document = read_document(source.name, data)
    except UnreadableDocument as exc:
        report.failures.append(f"{source.origin}: {exc}")
        return
    if document.image_only_pages:
        pages = ", ".join(str(p) for p in document.image_only_pages)
        report.image_only_pages.append(f"{source.origin}: pages {pages}")
    report.chunks += ingestor.add(document, source=source.uri, digest=digest)
    report.documents += 1
    report.count(status)


def ingest_sources(listing: Listing, ingestor: Ingestor, *, progress: bool = False) -> IngestReport:
    report = IngestReport(skipped=listing.skipped)
    started = time.perf_counter()
    sources = listing.sources
    with tqdm(total=len(sources), unit="doc", disable=not progress, file=sys.stderr) as bar:
        for source in sources:
            _sync_one(source, ingestor, report)
            bar.update(1)
        # Documents that failed to read are still "seen": a bad file never deletes a good copy.
        report.deleted = ingestor.delete_gone(listing.roots, {s.uri for s in sources})
        ingestor.finish()
    report.seconds = time.perf_counter() - started
    return report


def main(argv: list[str] | None = None, *, settings: Settings | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = settings or Settings()
    except ValidationError as exc:
        print(f"error: invalid settings ({settings_problems(exc)})", file=sys.stderr)
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
    dense = build_embedder(settings, _titan_client(settings)) if _titan_on(settings) else None
    # botocore is imported only when Bedrock is in use; `except ()` catches nothing.
    bedrock_errors: tuple[type[Exception], ...] = ()
    if dense is not None:
        from botocore.exceptions import BotoCoreError, ClientError

        bedrock_errors = (BotoCoreError, ClientError)
    store = open_store(settings)
    try:
        ingestor = Ingestor(store, settings, dense=dense)
        ingestor.prepare(recreate=args.recreate)
        report = ingest_sources(listing, ingestor, progress=sys.stderr.isatty())
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
    for failure in report.failures:
        print(f"error: {failure}", file=sys.stderr)
    for pages in report.image_only_pages:
        print(f"warning: {pages} have no text (scanned images? no OCR here)", file=sys.stderr)
    print(report.summary())
    return EXIT_SOME_FAILED if report.failures else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
