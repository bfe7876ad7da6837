"""Ingestion: `python -m app.ingest SRC...` (see `app.ingest.__main__`), and `ingest_texts`
for loading in-memory texts (the benchmark's corpus)."""

from app.ingest.pipeline import Ingestor, IngestReport, chunk_document, ingest_texts, point_id

__all__ = ["IngestReport", "Ingestor", "chunk_document", "ingest_texts", "point_id"]
