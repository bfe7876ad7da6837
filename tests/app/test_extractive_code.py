"""The extractive answerer quotes the command a sentence introduces (issue 14, "code blocks
never quoted": the answer to "how do running tasks pick up the new key" is a command).
Through the real app over docs/sample."""

from __future__ import annotations

from typing import Any

from app.answer.extractive import sentences


def test_a_sentence_that_introduces_a_command_is_quoted_with_it(sample_server: Any) -> None:
    question = "How do I start new tasks so that ECS reads the new secret?"
    with sample_server.client() as client:
        body = client.post("/ask", json={"question": question}).json()

    first, number = body["answer"].split(" [", 1)
    assert first.endswith(
        "start new tasks: aws ecs update-service --cluster <ecs_cluster_name> "
        "--service <ecs_service_name> --force-new-deployment"
    )
    assert body["sources"][int(number.split("]")[0]) - 1]["document"] == "rotate-qdrant-key.md"


def test_code_that_no_sentence_introduces_is_not_quoted() -> None:
    text = "Run the checks.\n\n```sh\nmake test --keep-going\n```\n\nThen push the branch."
    quoted = list(sentences(text))
    assert not any("--keep-going" in s for s in quoted)
    introduced = "Run the checks with this command:\n\n```sh\nmake test \\\n  --keep-going\n```\n"
    assert list(sentences(introduced)) == [
        "Run the checks with this command: make test --keep-going"
    ]
