"""The ingestion CLI end to end: real files (and S3 through moto) into the embedded store."""

from __future__ import annotations

import contextlib
import io
import os
import struct
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import boto3
import pypdf
import pytest

from app.config import Settings
from app.ingest import Ingestor, ingest_texts
from app.ingest.__main__ import EXIT_OK, EXIT_SOME_FAILED, EXIT_UNAVAILABLE, EXIT_USAGE, main
from app.ingest.readers import read_document
from app.retrieval import Retriever
from app.store import CollectionMismatch, EmbeddedStore, Point, VectorStore, open_store
from tests.app.pdfs import SAMPLE_PAGES, SAMPLE_PDF, make_pdf
from tests.servers import SAMPLE_DOCS, free_port


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.from_env({"QDRANT_PATH": str(tmp_path / "store")})


def info(settings: Settings) -> tuple[int, list[str]]:
    store = open_store(settings)
    try:
        i = store.info()
        return i.points, i.documents
    finally:
        store.close()


def search(settings: Settings, question: str, top_k: int = 3) -> list[tuple[str, int | None, str]]:
    store = open_store(settings)
    try:
        hits = Retriever(store).retrieve(question, top_k=top_k, mode="sparse").hits
        return [(h.chunk.document, h.chunk.page, h.chunk.text) for h in hits]
    finally:
        store.close()


def test_ingesting_twice_keeps_the_same_points(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([str(SAMPLE_DOCS)], settings=settings) == EXIT_OK
    first = info(settings)
    points, documents = first
    summary = capsys.readouterr().out.strip().splitlines()[-1]
    assert summary.startswith(f"ingested {len(documents)} documents, {points} chunks in ")
    assert summary.endswith(f": {len(documents)} added, 0 changed, 0 unchanged, 0 deleted")
    assert main([str(SAMPLE_DOCS)], settings=settings) == EXIT_OK
    assert info(settings) == first
    assert {"rollback.md", "incident-checklist.pdf"} <= set(documents)
    summary = capsys.readouterr().out.strip().splitlines()[-1]
    assert summary.startswith("ingested 0 documents, 0 chunks in ")
    assert summary.endswith(f": 0 added, 0 changed, {len(documents)} unchanged, 0 deleted")


def test_broken_pdf_is_named_and_the_other_files_are_stored(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    good = make_pdf([["The failover runbook covers regional outages."]])
    (docs / "good.pdf").write_bytes(good)
    (docs / "broken.pdf").write_bytes(good[: len(good) // 3])  # cut short: no xref, no EOF
    (docs / "notes.md").write_text("# Notes\n\nThe pager rotation changes on Mondays.\n")

    assert main([str(docs)], settings=settings) == EXIT_SOME_FAILED

    err = capsys.readouterr().err
    assert f"{docs / 'broken.pdf'}: not a readable PDF" in err
    assert "Traceback" not in err
    assert info(settings)[1] == ["good.pdf", "notes.md"]


def test_pdf_chunks_keep_their_page_numbers(settings: Settings) -> None:
    assert main([str(SAMPLE_PDF)], settings=settings) == EXIT_OK
    [(document, page, text)] = search(settings, "blameless post-incident review", top_k=1)
    assert (document, page) == ("incident-checklist.pdf", 3)
    assert "blameless" in text
    [(_, page, _)] = search(settings, "unset BEDROCK_MODEL_ID extractive answers", top_k=1)
    assert page == 2


def test_committed_sample_pdf_is_what_the_generator_writes() -> None:
    assert SAMPLE_PDF.read_bytes() == make_pdf(SAMPLE_PAGES), "run: python -m tests.app.pdfs"


def test_html_keeps_sentences_and_drops_scripts(settings: Settings, tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_text(
        "<html><head><title>Runbook</title><script>var zebracode = 1;</script>"
        "<style>.x { color: red }</style></head><body><nav>Home | About</nav>"
        "<p>Drain the <a href='#'>old node</a> before the upgrade.</p></body></html>"
    )
    assert main([str(page)], settings=settings) == EXIT_OK
    [(document, page_number, text)] = search(settings, "drain the old node", top_k=1)
    assert (document, page_number) == ("page.html", None)
    assert "Drain the old node before the upgrade." in text
    for dropped in ("zebracode", "color", "About"):
        assert dropped not in text


def test_markdown_is_split_into_numbered_chunks_of_bounded_size(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {"QDRANT_PATH": str(tmp_path / "store"), "CHUNK_TOKENS": "50", "CHUNK_OVERLAP_TOKENS": "0"}
    )
    sections = [
        f"## Step {i}\n\nRun check number {i}. Then write down result {i}." for i in range(20)
    ]
    doc = tmp_path / "long.md"
    doc.write_text("# Long runbook\n\n" + "\n\n".join(sections))
    assert main([str(doc)], settings=settings) == EXIT_OK
    store = open_store(settings)
    hits = Retriever(store).retrieve("check number result", top_k=50, mode="sparse").hits
    store.close()
    numbers = sorted(h.chunk.chunk for h in hits)
    assert len(numbers) > 3
    assert numbers == list(range(len(numbers)))
    assert all(len(h.chunk.text) <= 50 * 4 for h in hits)


def test_a_shorter_version_of_a_document_leaves_no_stale_chunks(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {"QDRANT_PATH": str(tmp_path / "store"), "CHUNK_TOKENS": "50", "CHUNK_OVERLAP_TOKENS": "0"}
    )
    doc = tmp_path / "faq.txt"
    doc.write_text("\n\n".join(f"Answer {i} says the build {i} is green." for i in range(30)))
    assert main([str(doc)], settings=settings) == EXIT_OK
    long_count = info(settings)[0]
    doc.write_text("Only one answer is left.")
    assert main([str(doc)], settings=settings) == EXIT_OK
    assert long_count > 1
    assert info(settings)[0] == 1


def test_recreate_starts_from_an_empty_collection(settings: Settings, tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("Alpha document about dashboards.")
    (tmp_path / "b.txt").write_text("Beta document about budgets.")
    assert main([str(tmp_path / "a.md")], settings=settings) == EXIT_OK
    assert main([str(tmp_path / "b.txt"), "--recreate"], settings=settings) == EXIT_OK
    assert info(settings) == (1, ["b.txt"])


def test_text_in_no_charset_is_named_with_its_line(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "binary.txt").write_bytes(b"first line\ns\x00\x81\xff\xfe\x00\x9d\x00\x8f\x90")
    (tmp_path / "fine.txt").write_text("A fine file.")
    assert main([str(tmp_path)], settings=settings) == EXIT_SOME_FAILED
    assert f"{tmp_path / 'binary.txt'}: line 2, column 3: not UTF-8" in capsys.readouterr().err
    assert info(settings)[1] == ["fine.txt"]


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("latin1.txt", "Não há ação sem razão: a Größe der Straße.\n".encode("latin-1")),
        ("cp1251.txt", "Резервное копирование выполняется каждую ночь.\n".encode("cp1251")),
        (
            "declared.html",
            '<meta charset="iso-8859-2"><p>Žluťoučký kůň úpěl.</p>'.encode("iso-8859-2"),
        ),
        ("utf16.txt", "Não há ação sem razão.".encode("utf-16")),
    ],
)
def test_text_in_a_declared_or_detected_charset_is_read(name: str, data: bytes) -> None:
    expected = {
        "latin1.txt": "Não há ação sem razão: a Größe der Straße.",
        "cp1251.txt": "Резервное копирование выполняется каждую ночь.",
        "declared.html": "Žluťoučký kůň úpěl.",
        "utf16.txt": "Não há ação sem razão.",
    }[name]
    assert read_document(name, data).sections[0].text.strip() == expected


def test_a_file_over_max_file_bytes_is_named_and_the_others_stored(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings.from_env({"QDRANT_PATH": str(tmp_path / "store"), "MAX_FILE_BYTES": "2048"})
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "dump.txt").write_text("log line\n" * 300)  # 2,700 bytes
    (docs / "small.md").write_text("Small and kept.")
    assert main([str(docs)], settings=settings) == EXIT_SOME_FAILED
    err = capsys.readouterr().err
    assert f"{docs / 'dump.txt'}: 2,700 bytes, over MAX_FILE_BYTES=2,048" in err
    assert info(settings)[1] == ["small.md"]


def test_image_only_pdf_pages_are_counted_and_named(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pdf = tmp_path / "scan.pdf"
    pdf.write_bytes(make_pdf([["Page one has words."], [], ["Page three too."], []]))
    assert main([str(pdf)], settings=settings) == EXIT_OK
    out, err = capsys.readouterr()
    assert f"warning: {pdf}: pages 2, 4 have no text" in err
    assert "; 2 PDF pages without text" in out
    assert info(settings)[1] == ["scan.pdf"]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing", None, "no such file or folder"),
        ("slides.pptx", b"PK", "unsupported file type '.pptx'"),
    ],
)
def test_a_bad_source_stops_before_anything_is_stored(
    settings: Settings,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    content: bytes | None,
    message: str,
) -> None:
    bad = tmp_path / name
    if content is not None:
        bad.write_bytes(content)
    assert main([str(SAMPLE_DOCS), str(bad)], settings=settings) == EXIT_USAGE
    assert capsys.readouterr().err.startswith(f"error: {bad}: {message}")
    assert not (tmp_path / "store").exists()


def test_empty_encrypted_and_imageless_files_are_named_with_a_reason(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    writer = pypdf.PdfWriter(clone_from=io.BytesIO(make_pdf([["Secret roadmap."]])))
    writer.encrypt("a password")
    with (tmp_path / "locked.pdf").open("wb") as f:
        writer.write(f)
    (tmp_path / "blank.pdf").write_bytes(make_pdf([[], []]))  # pages without text: a scan
    (tmp_path / "empty.md").write_text("  \n")
    (tmp_path / "ok.md").write_text("Kept.")
    assert main([str(tmp_path)], settings=settings) == EXIT_SOME_FAILED
    err = capsys.readouterr().err
    assert f"{tmp_path / 'locked.pdf'}: the PDF is encrypted with a password" in err
    assert f"{tmp_path / 'blank.pdf'}: no extractable text (a scanned PDF?)" in err
    assert f"{tmp_path / 'empty.md'}: the file is empty" in err
    assert info(settings)[1] == ["ok.md"]


def test_folders_skip_hidden_and_unsupported_files(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    docs = tmp_path / "docs"
    (docs / ".git").mkdir(parents=True)
    (docs / ".git" / "HEAD.txt").write_text("ref: refs/heads/main")
    (docs / "sub").mkdir()
    (docs / "sub" / "guide.md").write_text("The guide explains escalation.")
    (docs / "logo.png").write_bytes(b"\x89PNG")
    assert main([str(docs)], settings=settings) == EXIT_OK
    assert info(settings)[1] == ["sub/guide.md"]
    assert "skipped 1 unsupported files" in capsys.readouterr().out


def test_store_in_use_exits_3_with_a_reason(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    holder = EmbeddedStore(settings.QDRANT_PATH, settings.QDRANT_COLLECTION)
    holder.ensure_collection(dense_size=None)
    try:
        assert main([str(SAMPLE_DOCS)], settings=settings) == EXIT_UNAVAILABLE
    finally:
        holder.close()
    assert "open in another process" in capsys.readouterr().err


def test_s3_prefix_is_listed_and_read(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    moto = pytest.importorskip("moto")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    settings = settings.model_copy(update={"AWS_REGION": "eu-west-1"})
    with moto.mock_aws():
        s3 = boto3.client("s3", region_name="eu-west-1")
        s3.create_bucket(
            Bucket="team-docs", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
        )
        s3.put_object(Bucket="team-docs", Key="docs/rollback.md", Body=b"Roll back with a SHA.")
        s3.put_object(Bucket="team-docs", Key="docs/runbooks/dr.pdf", Body=make_pdf([["DR plan"]]))
        s3.put_object(Bucket="team-docs", Key="other/skip.md", Body=b"Not under the prefix.")
        assert main(["s3://team-docs/docs/"], settings=settings) == EXIT_OK
        assert main(["s3://no-such-bucket/docs/"], settings=settings) == EXIT_USAGE
    assert info(settings)[1] == ["rollback.md", "runbooks/dr.pdf"]
    assert "error: s3://no-such-bucket/docs/: S3 refused to list it (NoSuchBucket)" in (
        capsys.readouterr().err
    )


def test_ingest_texts_stores_one_chunk_per_short_text(settings: Settings) -> None:
    store = open_store(settings)
    texts = [(f"synthetic/{i:05d}.txt", f"Record {i} mentions token{i} once.") for i in range(300)]
    report = ingest_texts(store, texts, settings, recreate=True)
    assert (report.documents, report.chunks) == (300, 300)
    assert store.info().points == 300
    [hit] = Retriever(store).retrieve("token123", top_k=1, mode="sparse").hits
    assert hit.chunk.document == "synthetic/00123.txt"
    store.close()


class CountingStore:
    """The embedded store, recording the size of every upsert."""

    def __init__(self, store: VectorStore) -> None:
        self.store = store
        self.batches: list[int] = []

    def __getattr__(self, name: str) -> object:
        return getattr(self.store, name)

    def upsert(self, points: Sequence[Point]) -> None:
        self.batches.append(len(points))
        self.store.upsert(points)


def test_ingestor_writes_in_batches_of_ingest_batch_size(settings: Settings) -> None:
    settings = settings.model_copy(update={"INGEST_BATCH_SIZE": 5})
    store = CountingStore(open_store(settings))
    ingestor = Ingestor(store, settings)  # type: ignore[arg-type]
    ingestor.prepare()
    total = sum(
        ingestor.add(
            read_document(path.name, path.read_bytes()), source=path.as_uri(), digest="test"
        )
        for path in sorted(SAMPLE_DOCS.glob("*.md"))
    )
    ingestor.finish()
    assert sum(store.batches) == total == store.info().points
    assert set(store.batches[:-1]) == {5}
    assert 0 < store.batches[-1] <= 5
    store.close()


def test_the_module_runs_as_a_command_with_its_exit_status(tmp_path: Path) -> None:
    env = {**os.environ, "QDRANT_PATH": str(tmp_path / "store")}
    missing = tmp_path / "nope"
    run = subprocess.run(
        [sys.executable, "-m", "app.ingest", str(missing)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert run.returncode == EXIT_USAGE
    assert run.stderr == f"error: {missing}: no such file or folder\n"
    assert run.stdout == ""


def test_a_progress_bar_is_drawn_on_a_terminal_only(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    pty = pytest.importorskip("pty")
    fcntl = pytest.importorskip("fcntl")
    termios = pytest.importorskip("termios")
    assert main([str(SAMPLE_DOCS)], settings=settings) == EXIT_OK
    assert "doc/s" not in capsys.readouterr().err  # not a terminal: no bar

    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    env = {**os.environ, "QDRANT_PATH": str(settings.QDRANT_PATH)}
    child = subprocess.Popen(
        [sys.executable, "-m", "app.ingest", str(SAMPLE_DOCS)],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        env=env,
    )
    os.close(terminal)
    output = bytearray()
    with contextlib.suppress(OSError):  # EIO once the child has exited
        while chunk := os.read(controller, 4096):
            output.extend(chunk)
    os.close(controller)
    text = output.decode()
    assert child.wait(timeout=60) == EXIT_OK
    documents = len(list(SAMPLE_DOCS.iterdir()))
    assert f"{documents}/{documents}" in text
    assert "doc/s" in text
    assert f"{documents} unchanged" in text


def test_invalid_settings_are_one_sentence_and_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ENVIRONMENT", "prod")
    monkeypatch.setenv("QDRANT_URL", "https://qdrant.example.invalid:6333")
    monkeypatch.delenv("QDRANT_API_KEY", raising=False)
    assert main([str(SAMPLE_DOCS)]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith("error: invalid settings (")
    assert "QDRANT_API_KEY is missing" in err
    assert err.count("\n") == 1


def test_an_unreachable_embedding_model_exits_3_with_the_model_named(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()  # a loopback port nobody listens on: refused at once
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", f"http://127.0.0.1:{port}")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    settings = settings.model_copy(
        update={
            "AWS_REGION": "us-east-1",
            "BEDROCK_EMBEDDING_MODEL_ID": "amazon.titan-embed-text-v2:0",
            "BEDROCK_MAX_ATTEMPTS": 1,
        }
    )
    assert main([str(SAMPLE_DOCS)], settings=settings) == EXIT_UNAVAILABLE
    err = capsys.readouterr().err
    assert err.startswith("error: embedding with amazon.titan-embed-text-v2:0 failed: ")
    assert "Traceback" not in err


# --- a run is a sync of its roots (issue: ingestion mirrors its source) ---------------------


def _summary(capsys: pytest.CaptureFixture[str]) -> str:
    return capsys.readouterr().out.strip().splitlines()[-1]


def test_a_rerun_deletes_documents_gone_from_the_folder_and_rewrites_changed_ones(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "costs.md").write_text("NAT gateways dominate the monthly bill.")
    (docs / "rollback.md").write_text("Roll back by deploying the previous commit.")
    (docs / "pager.md").write_text("The pager rotation changes on Mondays.")
    assert main([str(docs)], settings=settings) == EXIT_OK
    (docs / "costs.md").unlink()
    (docs / "pager.md").write_text("The pager rotation changes on Fridays.")
    (docs / "new.md").write_text("A new page about quotas.")
    capsys.readouterr()
    assert main([str(docs)], settings=settings) == EXIT_OK
    assert _summary(capsys).endswith(": 1 added, 1 changed, 1 unchanged, 1 deleted")
    assert info(settings)[1] == ["new.md", "pager.md", "rollback.md"]
    assert search(settings, "NAT gateways monthly bill") == [] or all(
        d != "costs.md" for d, _, _ in search(settings, "NAT gateways monthly bill")
    )
    [(_, _, text)] = search(settings, "pager rotation", top_k=1)
    assert "Fridays" in text


def test_a_single_file_run_deletes_nothing_else(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("Alpha.")
    (docs / "b.md").write_text("Beta.")
    assert main([str(docs)], settings=settings) == EXIT_OK
    (docs / "b.md").write_text("Beta, changed.")
    assert main([str(docs / "b.md")], settings=settings) == EXIT_OK
    assert _summary(capsys).endswith(": 0 added, 1 changed, 0 unchanged, 0 deleted")
    assert info(settings)[1] == ["a.md", "b.md"]


def test_an_unreadable_file_keeps_its_earlier_copy(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "guide.pdf").write_bytes(make_pdf([["The failover guide."]]))
    assert main([str(docs)], settings=settings) == EXIT_OK
    (docs / "guide.pdf").write_bytes(b"%PDF-1.4 cut")
    assert main([str(docs)], settings=settings) == EXIT_SOME_FAILED
    assert info(settings)[1] == ["guide.pdf"]
    assert "0 deleted" in _summary(capsys)


def test_two_files_with_one_name_are_refused_naming_both(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for team in ("payments", "search"):
        (tmp_path / team).mkdir()
        (tmp_path / team / "README.md").write_text(f"The {team} team's readme.")
    assert main([str(tmp_path / "payments"), str(tmp_path / "search")], settings=settings) == (
        EXIT_USAGE
    )
    err = capsys.readouterr().err
    assert err.startswith("error: two files would both be named 'README.md': ")
    assert str(tmp_path / "payments" / "README.md") in err
    assert str(tmp_path / "search" / "README.md") in err
    assert not (tmp_path / "store").exists()


def test_ingesting_the_parent_folder_renames_instead_of_doubling(
    settings: Settings, tmp_path: Path
) -> None:
    (tmp_path / "docs" / "sample").mkdir(parents=True)
    (tmp_path / "docs" / "sample" / "a.md").write_text("Alpha page about dashboards.")
    assert main([str(tmp_path / "docs" / "sample")], settings=settings) == EXIT_OK
    assert main([str(tmp_path / "docs")], settings=settings) == EXIT_OK
    assert info(settings) == (1, ["sample/a.md"])


def test_unchanged_documents_make_no_titan_calls_and_a_failed_run_resumes(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fake_bedrock: object,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fake = fake_bedrock
    fake.reply_json({"embedding": [1.0] + [0.0] * 255, "inputTextTokenCount": 3})  # type: ignore[attr-defined]
    settings = Settings.from_env(
        {
            "QDRANT_PATH": str(tmp_path / "store"),
            "AWS_REGION": "us-east-1",
            "BEDROCK_EMBEDDING_MODEL_ID": "amazon.titan-embed-text-v2:0",
            "BEDROCK_EMBEDDING_DIMENSIONS": "256",
            "BEDROCK_MAX_ATTEMPTS": "1",
            "INGEST_BATCH_SIZE": "1",
        }
    )
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(3):
        (docs / f"doc{i}.md").write_text(f"Document {i} about topic {i}.")
    assert main([str(docs)], settings=settings) == EXIT_OK
    calls = len(fake.seen)  # type: ignore[attr-defined]
    assert calls == 3
    assert main([str(docs)], settings=settings) == EXIT_OK
    assert len(fake.seen) == calls  # type: ignore[attr-defined]

    (docs / "doc1.md").write_text("Document 1, rewritten.")
    (docs / "doc2.md").write_text("Document 2, rewritten.")
    fake.reply_error(429, "ThrottlingException", "Too many requests")  # type: ignore[attr-defined]
    assert main([str(docs)], settings=settings) == EXIT_UNAVAILABLE
    fake.reply_json({"embedding": [0.0, 1.0] + [0.0] * 254, "inputTextTokenCount": 3})  # type: ignore[attr-defined]
    capsys.readouterr()
    before = len(fake.seen)  # type: ignore[attr-defined]
    assert main([str(docs)], settings=settings) == EXIT_OK
    assert len(fake.seen) - before == 2  # the two changed documents, not doc0
    assert _summary(capsys).endswith(": 0 added, 2 changed, 1 unchanged, 0 deleted")


# --- chunks keep their structure ------------------------------------------------------------


def test_chunks_carry_title_heading_path_and_source_and_lone_headings_merge(
    tmp_path: Path,
) -> None:
    settings = Settings.from_env(
        {"QDRANT_PATH": str(tmp_path / "store"), "CHUNK_TOKENS": "50", "CHUNK_OVERLAP_TOKENS": "0"}
    )
    doc = tmp_path / "runbook.md"
    steps = "\n\n".join(f"Step {i}: run the regional check number {i} now." for i in range(1, 6))
    doc.write_text(f"# Regional runbook\n\n## Failover\n\n{steps}\n")
    assert main([str(doc)], settings=settings) == EXIT_OK
    store = open_store(settings)
    try:
        chunks = sorted((m for m in store.markers()), key=lambda c: c.chunk)
        hits = Retriever(store).retrieve("Step 4 regional check", top_k=20, mode="sparse").hits
    finally:
        store.close()
    assert all(not h.chunk.text.strip().startswith("#") or "Step" in h.chunk.text for h in hits)
    assert min(len(h.chunk.text) for h in hits) > len("# Regional runbook")
    step4 = next(h.chunk for h in hits if "Step 4" in h.chunk.text)
    assert step4.title == "Regional runbook"
    assert step4.section == "Regional runbook > Failover"
    assert step4.source == doc.resolve().as_uri()
    assert chunks[0].chunk == 0
    assert chunks[-1].last


# --- BM25 language ----------------------------------------------------------------------------

# English BM25 keeps these languages' stop words and misses their inflections, so the
# distractor, which shares only little words with the question, wins without the language.
PORTUGUESE = {
    "backup.md": "O servidor executou as cópias noturnas dos bancos.",
    "ferias.md": "Quando são os pedidos de férias? São aprovados pelo gestor.",
}
GERMAN = {
    "urlaub.md": "Urlaubsanträge genehmigt der Teamleiter.",
    "tuer.md": "Wer den Schlüssel hat und wer den Raum verlässt, schließt ab.",
}


@pytest.mark.parametrize(
    ("language", "texts", "question", "expected"),
    [
        ("portuguese", PORTUGUESE, "Quando são executadas as cópias?", "backup.md"),
        ("german", GERMAN, "Wer genehmigt den Urlaubsantrag?", "urlaub.md"),
    ],
)
def test_bm25_language_finds_inflected_words_the_english_default_misses(
    tmp_path: Path, language: str, texts: dict[str, str], question: str, expected: str
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for name, text in texts.items():
        (docs / name).write_text(text)
    found = {}
    for setting in ("english", language):
        settings = Settings.from_env(
            {"QDRANT_PATH": str(tmp_path / setting), "BM25_LANGUAGE": setting}
        )
        assert main([str(docs)], settings=settings) == EXIT_OK
        from app.retrieval import build_retriever

        store = open_store(settings)
        try:
            hits = build_retriever(settings, store).retrieve(question, top_k=1, mode="sparse").hits
        finally:
            store.close()
        found[setting] = [h.chunk.document for h in hits]
    assert found[language] == [expected]
    assert found["english"] != [expected]


def test_another_bm25_language_needs_recreate_and_the_service_refuses_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    english = Settings.from_env({"QDRANT_PATH": str(tmp_path / "store")})
    german = english.model_copy(update={"BM25_LANGUAGE": "german"})
    assert main([str(SAMPLE_DOCS)], settings=english) == EXIT_OK
    capsys.readouterr()
    assert main([str(SAMPLE_DOCS)], settings=german) == EXIT_UNAVAILABLE
    assert "built with BM25_LANGUAGE=english, not german" in capsys.readouterr().err
    store = open_store(german)
    try:
        with pytest.raises(CollectionMismatch, match="set BM25_LANGUAGE=english, or re-ingest"):
            store.dense_size()
    finally:
        store.close()
    assert main([str(SAMPLE_DOCS), "--recreate"], settings=german) == EXIT_OK
    store = open_store(german)
    try:
        assert store.info().bm25_language == "german"
    finally:
        store.close()


def test_an_unknown_bm25_language_is_a_settings_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BM25_LANGUAGE", "klingon")
    assert main([str(SAMPLE_DOCS)]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith("error: invalid settings (BM25_LANGUAGE: ")
    assert "klingon" in err
    assert err.count("\n") == 1


def test_a_throttle_shorter_than_the_retries_is_ridden_out(
    tmp_path: Path, fake_bedrock: object, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = fake_bedrock
    fake.reply_error(429, "ThrottlingException", "Too many requests")  # type: ignore[attr-defined]
    fake.reply_error(429, "ThrottlingException", "Too many requests")  # type: ignore[attr-defined]
    fake.reply_json({"embedding": [1.0] + [0.0] * 255, "inputTextTokenCount": 3})  # type: ignore[attr-defined]
    settings = Settings.from_env(
        {
            "QDRANT_PATH": str(tmp_path / "store"),
            "AWS_REGION": "us-east-1",
            "BEDROCK_EMBEDDING_MODEL_ID": "amazon.titan-embed-text-v2:0",
            "BEDROCK_EMBEDDING_DIMENSIONS": "256",
            "BEDROCK_MAX_ATTEMPTS": "3",
        }
    )
    doc = tmp_path / "one.md"
    doc.write_text("One passage about throttling.")
    assert main([str(doc)], settings=settings) == EXIT_OK
    assert len(fake.seen) == 3  # type: ignore[attr-defined]
    assert _summary(capsys).endswith(": 1 added, 0 changed, 0 unchanged, 0 deleted")
