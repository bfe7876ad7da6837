"""Overlapping neighbours take one passage slot (issue 14 item 7): chunks n and n+1 of one
document repeat the splitter's overlap, and both used to fill the top-k with the same words.
Through the ingestion pipeline's splitter and the real embedded Qdrant."""

from __future__ import annotations

from pathlib import Path

from app.config import Settings
from app.ingest import ingest_texts
from app.retrieval import Retriever, build_retriever
from app.store import open_store

# 50-token chunks (200 characters) overlapping by 20 tokens: every sentence of the drill is
# in two neighbouring chunks.
SMALL_CHUNKS = {"CHUNK_TOKENS": "50", "CHUNK_OVERLAP_TOKENS": "20"}
TOPICS = ["backups", "alarms", "tagging", "budgets", "patching", "logging", "scaling", "access"]
DRILL = " ".join(
    f"Sentence {i} explains {topic} for region {i} in a few plain words."
    if i != 4
    else "Sentence 4 says the failover drill needs the quorum witness online."
    for i, topic in enumerate(TOPICS)
)
OTHER = "The quorum witness of the failover drill lives in a third region, never in a primary."


def _retriever(tmp_path: Path) -> tuple[Retriever, Settings]:
    settings = Settings.from_env({"QDRANT_PATH": str(tmp_path), **SMALL_CHUNKS})
    store = open_store(settings)
    ingest_texts(store, [("drill.txt", DRILL), ("witness.txt", OTHER)], settings)
    return build_retriever(settings, store), settings


def test_overlapping_neighbours_share_one_passage_slot(tmp_path: Path) -> None:
    retriever, _ = _retriever(tmp_path)
    try:
        # Sentence 4 is in chunks 1 and 2 of drill.txt (their overlap), and only there.
        hits = retriever.retrieve("failover drill quorum witness", top_k=3, mode="sparse").hits
    finally:
        retriever.store.close()

    documents = [h.chunk.document for h in hits]
    assert documents.count("drill.txt") == 1, documents
    assert "witness.txt" in documents  # the slot went to another passage
    [drill] = [h.chunk for h in hits if h.chunk.document == "drill.txt"]
    # One passage with both chunks' words, the overlap said once.
    assert "Sentence 2 explains" in drill.text
    assert "Sentence 6 explains" in drill.text
    assert drill.text.count("Sentence 4 says") == 1
    assert drill.chunk == 1


def test_neighbours_that_do_not_overlap_stay_apart(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {"QDRANT_PATH": str(tmp_path), "CHUNK_TOKENS": "50", "CHUNK_OVERLAP_TOKENS": "0"}
    )
    store = open_store(settings)
    ingest_texts(store, [("drill.txt", DRILL)], settings)
    try:
        hits = (
            build_retriever(settings, store)
            .retrieve("region plain words", top_k=3, mode="sparse")
            .hits
        )
    finally:
        store.close()
    assert len(hits) == 3
    assert len({h.chunk.chunk for h in hits}) == 3
