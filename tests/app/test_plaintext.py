"""What a person reads of a Markdown passage (app/plaintext.py): snippets and quotes show no
heading markers, emphasis, backticks, link syntax or table pipes, and keep every word."""

from __future__ import annotations

import pytest

from app.plaintext import inline, is_markdown, plain, table_cells


@pytest.mark.parametrize(
    ("markdown", "text"),
    [
        ("**bold** and __strong__", "bold and strong"),
        ("*stress* and _stress_", "stress and stress"),
        ("run `make run`, then ``a ` tick``", "run make run, then a ` tick"),
        (
            'see [the runbook](rollback.md) or [docs](https://x.io "title")',
            "see the runbook or docs",
        ),
        ("![diagram](arch.png) and [a ref][1]", "diagram and a ref"),
        ("go to <https://example.com/a>", "go to https://example.com/a"),
        ("**[linked](x) `code`**", "linked code"),
        ("a \\*literal\\* star", "a *literal* star"),
        # Not emphasis: inside words, around spaces, in code.
        ("snake_case_name and a * b and 2*3*4", "snake_case_name and a * b and 2*3*4"),
        ("`QDRANT_API_KEY` and `**/*.md`", "QDRANT_API_KEY and **/*.md"),
        ("no markup at all.", "no markup at all."),
    ],
)
def test_inline_keeps_the_words_and_drops_the_markup(markdown: str, text: str) -> None:
    assert inline(markdown) == text


def test_emphasis_and_links_wrapped_over_two_lines_are_cleaned() -> None:
    assert plain("Read [the rollback\nrunbook](rollback.md) **before\nyou start**.") == (
        "Read the rollback\nrunbook before\nyou start."
    )


def test_table_rows_read_as_dashed_cells_without_the_rule() -> None:
    table = (
        "| secret | set by |\n"
        "|---|:---:|\n"
        "| `qa-service/<env>/qdrant-api-key` | on-call, and at every \\*rotation\\* |\n"
        "| `smoke-api-key` | | Terraform |\n"
        "Set a value once."
    )
    # Rows end with ";" (the last with ".") so that they stay apart once a snippet joins lines.
    assert plain(table).splitlines() == [
        "secret — set by;",
        "qa-service/<env>/qdrant-api-key — on-call, and at every *rotation*;",
        "smoke-api-key — Terraform.",
        "Set a value once.",
    ]
    assert plain("| a | b |\n|---|---|\n| c | d |") == "a — b;\nc — d."
    assert table_cells("| `a` | | b |") == "`a` — b"


def test_headings_become_sentences_and_code_blocks_keep_their_text() -> None:
    markdown = (
        "# Rolling back a release\n\n"
        "## Why? ##\n"
        "Every rollout *protects* itself:\n\n"
        "```sh\n"
        "make ingest SRC=docs/**/*.md  # `keep`\n"
        "```\n"
        "> Quoted **note**\n"
        "- first item\n"
        "---\n"
    )
    assert plain(markdown).splitlines() == [
        "Rolling back a release.",
        "",
        "Why?",
        "Every rollout protects itself:",
        "",
        "make ingest SRC=docs/**/*.md  # `keep`",
        "Quoted note",
        "• first item",
    ]


def test_only_markdown_names_are_cleaned() -> None:
    assert is_markdown("runbooks/Rollback.MD")
    assert is_markdown("notes.markdown")
    assert not is_markdown("notes.txt")
    assert not is_markdown("checklist.pdf")
