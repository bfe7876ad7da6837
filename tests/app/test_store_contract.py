"""One contract, two stores: the embedded engine (qdrant-edge on tmp_path) and the server code
path (qdrant-client against QdrantClient(":memory:"), the same client API as a cluster)."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from qdrant_client import QdrantClient

from app.config import Settings
from app.embeddings import Bm25Encoder
from app.ingest import point_id
from app.store import (
    Chunk,
    CollectionMismatch,
    CollectionMissing,
    EmbeddedStore,
    Hit,
    Point,
    Query,
    ServerStore,
    StoreUnavailable,
    VectorStore,
    open_store,
)
from tests.servers import HTTPServerThread, QuietHandler, free_port, silent_port

# Local mode says payload indexes do nothing there; the server path still creates them.
# The loopback stand-ins speak plain HTTP, which qdrant-client warns about when given a key.
pytestmark = [
    pytest.mark.filterwarnings("ignore:Payload indexes have no effect:UserWarning"),
    pytest.mark.filterwarnings("ignore:Api key is used with an insecure connection:UserWarning"),
]

BM25 = Bm25Encoder.from_settings()

# Four passages with hand-made 4-d "dense" vectors: each points along its own axis, so the
# dense ranking is known exactly and independent of the words.
PASSAGES = [
    ("rollback.md", 0, "Roll back a release by redeploying the previous image digest.", None, 0),
    ("rollback.md", 1, "The rollback workflow waits for the service to become stable.", None, 0),
    ("qdrant-key.md", 0, "Rotate the Qdrant API key in Secrets Manager, then restart.", None, 1),
    ("costs.pdf", 0, "Fargate tasks and the NAT gateway dominate the monthly bill.", 3, 2),
    ("plan.md", 0, "The plan comment lists resources to add, change and destroy.", None, 3),
]


def uri(document: str) -> str:
    return f"file:///docs/{document}"


def axis(i: int) -> list[float]:
    return [1.0 if j == i else 0.0 for j in range(4)]


def points(dense: bool) -> list[Point]:
    return [
        Point(
            id=point_id(uri(doc), n),
            chunk=Chunk(
                document=doc,
                chunk=n,
                text=text,
                page=page,
                source=uri(doc),
                hash=f"sha256:{doc}",
                last=n == max(m for d, m, *_ in PASSAGES if d == doc),
            ),
            sparse=BM25.document(text),
            dense=axis(a) if dense else None,
        )
        for doc, n, text, page, a in PASSAGES
    ]


def query(text: str, dense_axis: int | None = None) -> Query:
    dense = axis(dense_axis) if dense_axis is not None else None
    return Query(text=text, sparse=BM25.query(text), dense=dense)


@pytest.fixture(params=["embedded", "server"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[VectorStore]:
    s: VectorStore
    if request.param == "embedded":
        s = EmbeddedStore(tmp_path / "qdrant", "documents")
    else:
        s = ServerStore(QdrantClient(":memory:"), "documents")
    yield s
    s.close()


@pytest.fixture(params=["embedded", "server"])
def two_languages(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[VectorStore, VectorStore]]:
    """(an English store, a German store) over the same collection."""
    stores: tuple[VectorStore, VectorStore]
    if request.param == "embedded":
        stores = (
            EmbeddedStore(tmp_path / "qdrant", "documents"),
            EmbeddedStore(tmp_path / "qdrant", "documents", bm25_language="german"),
        )
    else:
        client = QdrantClient(":memory:")
        stores = (
            ServerStore(client, "documents"),
            ServerStore(client, "documents", bm25_language="german"),
        )
    yield stores
    for s in stores:
        s.close()


def test_markers_are_first_and_last_chunks_without_text(store: VectorStore) -> None:
    store.ensure_collection(dense_size=None)
    store.upsert(points(dense=False))
    found = {(m.document, m.chunk, m.last, m.text, m.hash) for m in store.markers()}
    assert found == {
        ("rollback.md", 0, False, "", "sha256:rollback.md"),
        ("rollback.md", 1, True, "", "sha256:rollback.md"),
        ("qdrant-key.md", 0, True, "", "sha256:qdrant-key.md"),
        ("costs.pdf", 0, True, "", "sha256:costs.pdf"),
        ("plan.md", 0, True, "", "sha256:plan.md"),
    }


def test_delete_sources_removes_every_chunk_of_those_documents(store: VectorStore) -> None:
    store.ensure_collection(dense_size=None)
    store.upsert(points(dense=False))
    store.delete_sources([uri("rollback.md"), uri("plan.md")])
    store.flush()
    assert store.info().documents == ["costs.pdf", "qdrant-key.md"]
    [hit] = store.search(query("monthly bill"), top_k=1, mode="sparse")
    assert (hit.chunk.source, hit.chunk.page) == (uri("costs.pdf"), 3)


def test_a_collection_of_another_bm25_language_is_refused_until_recreated(
    two_languages: tuple[VectorStore, VectorStore],
) -> None:
    english, german = two_languages
    english.ensure_collection(dense_size=None)
    english.upsert(points(dense=False))
    if isinstance(english, EmbeddedStore):
        english.close()  # its lock: one process (or store) at a time
    with pytest.raises(CollectionMismatch, match="BM25_LANGUAGE=english, not german"):
        german.ensure_collection(dense_size=None)
    with pytest.raises(CollectionMismatch, match="set BM25_LANGUAGE=english, or re-ingest"):
        german.dense_size()
    german.ensure_collection(dense_size=None, recreate=True)
    assert german.info().bm25_language == "german"
    assert german.info().points == 0


def test_nothing_ingested_raises_collection_missing(store: VectorStore) -> None:
    with pytest.raises(CollectionMissing, match="ingest"):
        store.info()
    with pytest.raises(CollectionMissing):
        store.search(query("rollback"), top_k=3, mode="sparse")


def test_upsert_twice_keeps_one_point_per_chunk(store: VectorStore) -> None:
    store.ensure_collection(dense_size=None)
    store.upsert(points(dense=False))
    store.upsert(points(dense=False))
    info = store.info()
    assert info.points == len(PASSAGES)
    assert info.documents == ["costs.pdf", "plan.md", "qdrant-key.md", "rollback.md"]
    assert info.dense_size is None


def test_ensure_collection_keeps_points_and_recreate_empties(store: VectorStore) -> None:
    store.ensure_collection(dense_size=None)
    store.upsert(points(dense=False))
    store.ensure_collection(dense_size=None)
    assert store.info().points == len(PASSAGES)
    store.ensure_collection(dense_size=None, recreate=True)
    assert store.info().points == 0


def test_other_dense_size_is_refused_without_recreate(store: VectorStore) -> None:
    store.ensure_collection(dense_size=None)
    with pytest.raises(CollectionMismatch, match="--recreate"):
        store.ensure_collection(dense_size=4)
    store.ensure_collection(dense_size=4, recreate=True)
    assert store.info().dense_size == 4


def test_dense_size_tells_whether_the_collection_has_dense_vectors(store: VectorStore) -> None:
    with pytest.raises(CollectionMissing):
        store.dense_size()
    store.ensure_collection(dense_size=None)
    assert store.dense_size() is None
    store.ensure_collection(dense_size=4, recreate=True)
    assert store.dense_size() == 4


def test_server_store_reads_the_dense_size_again_after_a_recreate_elsewhere(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import app.store.server

    client = QdrantClient(":memory:")
    serving, ingesting = ServerStore(client, "documents"), ServerStore(client, "documents")
    ingesting.ensure_collection(dense_size=None)
    assert serving.dense_size() is None
    ingesting.ensure_collection(dense_size=4, recreate=True)  # e.g. ingest --recreate
    assert serving.dense_size() is None  # remembered: no call per query
    monkeypatch.setattr(app.store.server, "DENSE_SIZE_TTL_S", 0.0)
    assert serving.dense_size() == 4
    client.close()


def test_sparse_search_ranks_the_passage_sharing_rare_words_first(store: VectorStore) -> None:
    store.ensure_collection(dense_size=None)
    store.upsert(points(dense=False))
    hits = store.search(query("how do I rotate the Qdrant key?"), top_k=3, mode="sparse")
    assert hits[0].chunk == Chunk(
        "qdrant-key.md",
        0,
        PASSAGES[2][2],
        None,
        source=uri("qdrant-key.md"),
        hash="sha256:qdrant-key.md",
        last=True,
    )
    assert all(a.score >= b.score for a, b in itertools.pairwise(hits))


def test_page_numbers_round_trip(store: VectorStore) -> None:
    store.ensure_collection(dense_size=None)
    store.upsert(points(dense=False))
    [hit] = store.search(query("NAT gateway monthly bill"), top_k=1, mode="sparse")
    assert (hit.chunk.document, hit.chunk.page) == ("costs.pdf", 3)


def test_documents_filter_keeps_only_named_documents(store: VectorStore) -> None:
    store.ensure_collection(dense_size=None)
    store.upsert(points(dense=False))
    q = query("roll back the release and rotate the key")
    unfiltered = {h.chunk.document for h in store.search(q, top_k=5, mode="sparse")}
    assert {"rollback.md", "qdrant-key.md"} <= unfiltered
    hits = store.search(q, top_k=5, mode="sparse", documents=["qdrant-key.md"])
    assert [h.chunk.document for h in hits] == ["qdrant-key.md"]


def test_documents_lists_the_stored_names_from_either_call(store: VectorStore) -> None:
    store.ensure_collection(dense_size=None)
    store.upsert(points(dense=False))
    expected = {"rollback.md", "qdrant-key.md", "costs.pdf", "plan.md"}
    assert store.documents() == expected
    assert asyncio.run(store.adocuments()) == expected
    store.delete_sources([uri("plan.md")])
    assert store.documents() == expected - {"plan.md"}


def test_a_document_ingested_after_the_names_were_read_is_known_at_once(
    store: VectorStore,
) -> None:
    # The retriever remembers the names; a name it does not know makes it read them again
    # (at most once a second), so a document ingested a moment ago is not a 422.
    from app.errors import UnknownDocumentsError
    from app.retrieval import Retriever

    store.ensure_collection(dense_size=None)
    store.upsert(points(dense=False)[:2])  # rollback.md only
    retriever = Retriever(store)
    asyncio.run(retriever.acheck_documents(["rollback.md"]))
    with pytest.raises(UnknownDocumentsError, match=r"'plan\.md' names no stored document"):
        asyncio.run(retriever.acheck_documents(["plan.md"]))
    store.upsert(points(dense=False)[4:])  # plan.md
    time.sleep(1.05)
    asyncio.run(retriever.acheck_documents(["plan.md", "rollback.md"]))


def test_dense_search_follows_the_vectors_not_the_words(store: VectorStore) -> None:
    store.ensure_collection(dense_size=4)
    store.upsert(points(dense=True))
    # The words say "rollback"; the vector points at the plan passage (axis 3).
    hits = store.search(query("rollback", dense_axis=3), top_k=1, mode="dense")
    assert hits[0].chunk.document == "plan.md"


def test_hybrid_fuses_dense_and_sparse_candidates(store: VectorStore) -> None:
    store.ensure_collection(dense_size=4)
    store.upsert(points(dense=True))
    q = query("rotate the Qdrant key", dense_axis=2)  # words -> qdrant-key, vector -> costs
    sparse = [h.chunk.document for h in store.search(q, top_k=2, mode="sparse")]
    hybrid = [h.chunk.document for h in store.search(q, top_k=2, mode="hybrid")]
    assert "costs.pdf" not in sparse
    assert set(hybrid) == {"qdrant-key.md", "costs.pdf"}
    filtered = store.search(q, top_k=5, mode="hybrid", documents=["costs.pdf"])
    assert {h.chunk.document for h in filtered} == {"costs.pdf"}


def test_hybrid_without_dense_vectors_is_sparse(store: VectorStore) -> None:
    store.ensure_collection(dense_size=None)
    store.upsert(points(dense=False))
    q = query("rollback workflow stable")
    sparse = store.search(q, top_k=3, mode="sparse")
    assert sparse, "the words match rollback.md: an empty result would prove nothing"
    assert sparse[0].chunk.document == "rollback.md"
    assert store.search(q, top_k=3, mode="hybrid") == sparse


def test_the_event_loop_calls_answer_as_the_blocking_ones_do(store: VectorStore) -> None:
    # asearch/adense_size are what the API awaits; they must give what search/dense_size give.
    store.ensure_collection(dense_size=4)
    store.upsert(points(dense=True))
    q = query("rotate the Qdrant key", dense_axis=2)

    async def from_the_loop() -> tuple[int | None, list[Hit]]:
        return await store.adense_size(), await store.asearch(q, top_k=3, mode="hybrid")

    size, hits = asyncio.run(from_the_loop())
    assert size == store.dense_size() == 4
    assert hits == store.search(q, top_k=3, mode="hybrid")
    assert {h.chunk.document for h in hits} >= {"qdrant-key.md", "costs.pdf"}


def test_prune_deletes_chunks_beyond_the_new_length(store: VectorStore) -> None:
    store.ensure_collection(dense_size=None)
    store.upsert(points(dense=False))
    store.prune(uri("rollback.md"), keep=1)
    store.flush()
    assert store.info().points == len(PASSAGES) - 1
    hits = store.search(query("rollback workflow stable service"), top_k=5, mode="sparse")
    assert ("rollback.md", 1) not in {(h.chunk.document, h.chunk.chunk) for h in hits}


# --- what only one implementation can show -----------------------------------------------


def test_embedded_store_opens_a_collection_created_after_it_started(tmp_path: Path) -> None:
    server = EmbeddedStore(tmp_path, "documents")  # like the API, started before ingestion
    with pytest.raises(CollectionMissing):
        server.info()
    ingest = EmbeddedStore(tmp_path, "documents")
    ingest.ensure_collection(dense_size=None)
    ingest.upsert(points(dense=False))
    ingest.close()
    assert server.info().points == len(PASSAGES)
    server.close()


def test_embedded_store_in_use_elsewhere_is_unavailable_with_a_reason(tmp_path: Path) -> None:
    first = EmbeddedStore(tmp_path, "documents")
    first.ensure_collection(dense_size=None)
    second = EmbeddedStore(tmp_path, "documents")
    with pytest.raises(StoreUnavailable, match="open in another process"):
        second.info()
    with pytest.raises(StoreUnavailable, match="open in another process"):
        second.ensure_collection(dense_size=None, recreate=True)
    first.upsert(points(dense=False))  # the holder's files were left alone
    assert first.info().points == len(PASSAGES)
    first.close()


def test_unreachable_server_is_unavailable_quickly() -> None:
    port = free_port()  # a port nobody listens on
    settings = Settings.from_env(
        {"QDRANT_URL": f"http://127.0.0.1:{port}", "QDRANT_TIMEOUT_S": "1"}
    )
    store = open_store(settings)
    assert isinstance(store, ServerStore)
    with pytest.raises(StoreUnavailable, match="did not answer"):
        store.info()
    store.close()


def test_server_that_never_answers_is_unavailable_within_the_timeout() -> None:
    with silent_port() as port:  # accepts connections, never answers
        url = f"http://127.0.0.1:{port}"
        store = open_store(Settings.from_env({"QDRANT_URL": url, "QDRANT_TIMEOUT_S": "1"}))
        started = time.monotonic()
        with pytest.raises(StoreUnavailable, match="ReadTimeout"):
            store.search(query("rollback"), top_k=3, mode="sparse")
        assert time.monotonic() - started < 3
        store.close()


class _Refuses(QuietHandler):
    """A Qdrant that rejects the API key, as after a botched key rotation."""

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.reply_json(401, {"status": {"error": "Invalid api-key"}})


def test_a_rejected_api_key_is_unavailable_with_a_hint_and_no_key() -> None:
    with HTTPServerThread(_Refuses) as server:
        settings = Settings.from_env({"QDRANT_URL": server.url, "QDRANT_API_KEY": "old-key-4f2a"})
        store = open_store(settings)
        with pytest.raises(StoreUnavailable) as caught:
            store.info()
        assert "answered 401" in str(caught.value)
        assert "check QDRANT_API_KEY" in str(caught.value)
        assert "old-key-4f2a" not in str(caught.value)
        store.close()


def test_open_store_defaults_to_embedded_at_qdrant_path(tmp_path: Path) -> None:
    store = open_store(Settings.from_env({"QDRANT_PATH": str(tmp_path)}))
    assert isinstance(store, EmbeddedStore)
    store.ensure_collection(dense_size=None)
    assert (tmp_path / "documents").is_dir()
    store.close()
