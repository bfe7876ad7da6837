"""BM25's average document length follows CHUNK_TOKENS wherever an encoder is built.

BM25 normalises a passage's term frequencies by its length against the average; an average
that assumes another chunk size over- or under-rates every long passage. The splitters and
the average both come from `chunk_size(settings)`; no encoder may assume its own.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from app.answer.extractive import ExtractiveAnswerer
from app.config import Settings
from app.embeddings import Bm25Encoder, chunk_size
from app.retrieval import Retriever
from app.store.embedded import EmbeddedStore


def test_an_encoder_needs_its_average_length() -> None:
    with pytest.raises(TypeError, match="average_words"):
        Bm25Encoder(language="english")  # type: ignore[call-arg]


def test_every_encoder_follows_the_chunk_size(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Another default chunk size, as a change to app/config.py would make it.
    monkeypatch.setattr(Settings.model_fields["CHUNK_TOKENS"], "default", 600)
    expected = chunk_size(Settings.model_construct()).average_words
    assert expected == chunk_size(Settings(CHUNK_TOKENS=600)).average_words

    built = {
        "from the settings": Bm25Encoder.from_settings(Settings(CHUNK_TOKENS=600)).average_words,
        "Retriever's own": Retriever(EmbeddedStore(tmp_path, "documents")).sparse.average_words,
        "ExtractiveAnswerer's own": ExtractiveAnswerer()._encoder.average_words,
    }
    assert built == dict.fromkeys(built, expected)
