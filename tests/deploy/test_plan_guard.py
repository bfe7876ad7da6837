"""plan_guard: apply only the plan that was reviewed on the pull request."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from deploy import plan_guard
from tests.deploy import plan_data

SECRET = "reviewed-secret-value-0042"


def summarize(tmp_path: Path, plan: dict[str, Any], name: str = "reviewed") -> Path:
    out = tmp_path / f"{name}-summary.json"
    plan_json = plan_data.write(tmp_path / f"{name}.json", plan)
    assert plan_guard.main(["summarize", "--plan-json", str(plan_json), "--out", str(out)]) == 0
    return out


def compare(tmp_path: Path, reviewed: Path, plan: dict[str, Any], *extra: str) -> int:
    current = plan_data.write(tmp_path / "current.json", plan)
    return plan_guard.main(
        ["compare", "--reviewed", str(reviewed), "--plan-json", str(current), *extra]
    )


@pytest.fixture(autouse=True)
def _no_step_summary(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)


@pytest.fixture
def aws() -> dict[str, Any]:
    plan = plan_data.load(plan_data.AWS)
    ecr = plan_data.change(plan, "module.ecr.aws_ecr_repository.ecr_repo")
    ecr["change"]["after"]["tags"]["Secret"] = SECRET
    ecr["change"]["after_sensitive"]["tags"] = {"Secret": True}
    return plan


def error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith("error: ")
    return err


def test_same_plan_passes(
    tmp_path: Path, aws: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    reviewed = summarize(tmp_path, aws)

    assert compare(tmp_path, reviewed, copy.deepcopy(aws)) == 0
    assert "the plan to apply is the reviewed one (20 changes)" in capsys.readouterr().out


def test_summary_holds_no_value_in_clear(tmp_path: Path, aws: dict[str, Any]) -> None:
    text = summarize(tmp_path, aws).read_text()

    summary = json.loads(text)
    assert len(summary["changes"]) == 20
    ecr = summary["changes"]["module.ecr.aws_ecr_repository.ecr_repo"]
    assert ecr["actions"] == ["create"]
    assert ecr["values"]["tags.Secret"] == "sensitive"
    assert "arn" in ecr["unknown"]
    assert SECRET not in text
    assert "bedrock-qa-rag-ecr-tf" not in text  # values are digests, not copies


def test_real_plan_summary_holds_no_secret(tmp_path: Path) -> None:
    plan = plan_data.load("terraform-1.11-terraform_data.json")

    text = summarize(tmp_path, plan).read_text()

    for secret in ("first-Passw0rd-value", "second-Passw0rd-value", "added-secret-2"):
        assert secret not in text
    changes = json.loads(text)["changes"]
    assert {address: c["actions"] for address, c in changes.items()} == {
        "terraform_data.added[0]": ["create"],
        "terraform_data.config": ["update"],
        "terraform_data.keep": ["update"],
        "terraform_data.removed[0]": ["delete"],
        "terraform_data.replaced": ["delete", "create"],
    }
    assert changes["terraform_data.config"]["values"]["input.password"] == "sensitive"
    assert compare(tmp_path, summarize(tmp_path, plan), plan) == 0


def test_a_change_not_reviewed_is_refused(
    tmp_path: Path, aws: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    reviewed = summarize(tmp_path, aws)
    current = copy.deepcopy(aws)
    extra = copy.deepcopy(plan_data.change(current, "module.s3.aws_s3_bucket.bucket"))
    extra["address"] = "module.s3.aws_s3_bucket.extra"
    current["resource_changes"].append(extra)

    assert compare(tmp_path, reviewed, current) == 1
    err = error_line(capsys)
    assert "differs from the plan reviewed on the pull request" in err
    assert "1 change(s) not in the reviewed plan (module.s3.aws_s3_bucket.extra)" in err


def test_a_reviewed_change_that_is_gone_is_refused(
    tmp_path: Path, aws: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    reviewed = summarize(tmp_path, aws)
    current = copy.deepcopy(aws)
    current["resource_changes"] = [
        rc for rc in current["resource_changes"] if rc["type"] != "aws_s3_object"
    ]

    assert compare(tmp_path, reviewed, current) == 1
    objects = 'module.s3.aws_s3_object.object["welcome_ca.pdf"], module.s3.aws_s3_object.object'
    expected = f'2 change(s) reviewed but no longer planned ({objects}["welcome_eua.pdf"])'
    assert expected in error_line(capsys)


def test_other_actions_are_refused(
    tmp_path: Path, aws: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    reviewed = summarize(tmp_path, aws)
    current = copy.deepcopy(aws)
    plan_data.make_destructive(current, "module.s3.aws_s3_bucket.bucket", ["delete", "create"])

    assert compare(tmp_path, reviewed, current) == 1
    assert "1 change(s) with other actions (module.s3.aws_s3_bucket.bucket)" in error_line(capsys)


def test_other_values_are_refused(
    tmp_path: Path, aws: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    reviewed = summarize(tmp_path, aws)
    current = copy.deepcopy(aws)
    service = plan_data.change(current, "module.ecs.aws_ecs_service.ecs_service")
    service["change"]["after"]["desired_count"] = 0

    assert compare(tmp_path, reviewed, current) == 1
    err = error_line(capsys)
    assert "1 change(s) with other values (module.ecs.aws_ecs_service.ecs_service)" in err
    assert "allow-unreviewed" in err


def test_many_differences_name_five_and_count_the_rest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reviewed = summarize(tmp_path, plan_data.load(plan_data.AWS))

    assert compare(tmp_path, reviewed, plan_data.large(copies=2)) == 1
    err = error_line(capsys)
    assert "40 change(s) not in the reviewed plan" in err
    assert "and 35 more" in err
    assert "20 change(s) reviewed but no longer planned" in err


def test_values_unknown_until_apply_are_ignored(tmp_path: Path, aws: dict[str, Any]) -> None:
    reviewed = summarize(tmp_path, aws)
    current = copy.deepcopy(aws)
    service = plan_data.change(current, "module.ecs.aws_ecs_service.ecs_service")
    # Known now, unknown when reviewed: the cluster ARN and the whole network block.
    service["change"]["after"]["cluster"] = "arn:aws:ecs:us-east-1:123456789012:cluster/qa"
    del service["change"]["after_unknown"]["cluster"]
    service["change"]["after"]["network_configuration"] = [
        {"assign_public_ip": True, "security_groups": ["sg-1"], "subnets": ["subnet-1"]}
    ]
    service["change"]["after_unknown"]["network_configuration"] = [{}]

    assert compare(tmp_path, reviewed, current) == 0


def test_a_changed_sensitive_value_is_not_a_difference(tmp_path: Path, aws: dict[str, Any]) -> None:
    reviewed = summarize(tmp_path, aws)
    current = copy.deepcopy(aws)
    ecr = plan_data.change(current, "module.ecr.aws_ecr_repository.ecr_repo")
    ecr["change"]["after"]["tags"]["Secret"] = "rotated-secret-value"

    assert compare(tmp_path, reviewed, current) == 0


def test_no_ops_and_moves(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    no_changes = summarize(tmp_path, plan_data.load("tfjson-no_changes.json"), "none")
    assert json.loads(no_changes.read_text())["changes"] == {}  # six no-ops, nothing to apply

    moved = plan_data.load("tfjson-moved_block.json")
    reviewed = summarize(tmp_path, moved, "moved")
    assert list(json.loads(reviewed.read_text())["changes"]) == ["random_id.test2"]
    assert compare(tmp_path, reviewed, moved) == 0
    capsys.readouterr()

    # The same no-op without the move is a different plan: the move was what was reviewed.
    unmoved = copy.deepcopy(moved)
    del unmoved["resource_changes"][0]["previous_address"]
    assert compare(tmp_path, reviewed, unmoved) == 1
    assert "reviewed but no longer planned (random_id.test2)" in error_line(capsys)


def test_missing_review_is_refused_in_one_sentence(
    tmp_path: Path,
    aws: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    summary = tmp_path / "step-summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))

    assert compare(tmp_path, tmp_path / "nowhere.json", aws) == 1

    err = error_line(capsys)
    assert f"there is no reviewed plan summary at {tmp_path / 'nowhere.json'}" in err
    assert "without a pull request" in err
    assert "Plan guard refused the apply" in summary.read_text()


def test_allow_unreviewed_warns_and_passes(
    tmp_path: Path,
    aws: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    summary = tmp_path / "step-summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))

    assert compare(tmp_path, tmp_path / "nowhere.json", aws, "--allow-unreviewed") == 0

    out = capsys.readouterr().out
    assert out.startswith("::warning title=Applying an unreviewed plan::there is no reviewed")
    assert "applied without a reviewed plan" in summary.read_text()

    reviewed = summarize(tmp_path, aws)
    current = copy.deepcopy(aws)
    plan_data.make_destructive(current, "module.s3.aws_s3_bucket.bucket", ["delete"])
    assert compare(tmp_path, reviewed, current, "--allow-unreviewed") == 0
    assert "with other actions (module.s3.aws_s3_bucket.bucket)" in capsys.readouterr().out


def test_unreadable_inputs_exit_2(
    tmp_path: Path, aws: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"changes": {}}')
    assert compare(tmp_path, bad, aws) == 2
    assert "is not a plan summary of format 2" in error_line(capsys)

    missing_plan = tmp_path / "missing-plan.json"
    argv = ["summarize", "--plan-json", str(missing_plan), "--out", str(tmp_path / "s.json")]
    assert plan_guard.main(argv) == 2
    assert f"cannot read the plan JSON {missing_plan}" in error_line(capsys)


def guard(tf_plans: Path, tmp_path: Path, reviewed: str, applied: str) -> int:
    summary = tmp_path / f"{reviewed}-summary.json"
    assert (
        plan_guard.main(
            ["summarize", "--plan-json", str(tf_plans / f"{reviewed}.json"), "--out", str(summary)]
        )
        == 0
    )
    return plan_guard.main(
        ["compare", "--reviewed", str(summary), "--plan-json", str(tf_plans / f"{applied}.json")]
    )


def test_ignored_attributes_moved_in_state_are_not_a_difference(
    tf_plans: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Real plans: between review and apply only the values under ignore_changes moved in
    # state (a rollout's task_definition, autoscaling's desired_count); both change cpu.
    reviewed = json.loads((tf_plans / "ignored-reviewed.json").read_text())
    applied = json.loads((tf_plans / "ignored-apply.json").read_text())
    [before_review] = [rc for rc in reviewed["resource_changes"] if rc["name"] == "service"]
    [before_apply] = [rc for rc in applied["resource_changes"] if rc["name"] == "service"]
    assert before_review["change"]["actions"] == before_apply["change"]["actions"] == ["update"]
    assert before_review["change"]["after"] != before_apply["change"]["after"]

    assert guard(tf_plans, tmp_path, "ignored-reviewed", "ignored-apply") == 0
    assert "the plan to apply is the reviewed one (1 changes)" in capsys.readouterr().out


def test_a_configured_value_that_differs_is_still_refused(
    tf_plans: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert guard(tf_plans, tmp_path, "ignored-reviewed", "ignored-other") == 1
    assert "1 change(s) with other values (terraform_data.service)" in error_line(capsys)


def test_an_update_summary_holds_only_the_changed_paths(tf_plans: Path, tmp_path: Path) -> None:
    summary = tmp_path / "s.json"
    plan = str(tf_plans / "ignored-apply.json")
    assert plan_guard.main(["summarize", "--plan-json", plan, "--out", str(summary)]) == 0
    service = json.loads(summary.read_text())["changes"]["terraform_data.service"]
    assert set(service["values"]) == {"input.cpu"}
    assert service["unknown"] == ["output"]


def test_a_forget_is_a_change_that_must_be_reviewed(
    tf_plans: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    forget = json.loads((tf_plans / "forget.json").read_text())
    [bucket] = [rc for rc in forget["resource_changes"] if rc["name"] == "bucket"]
    assert bucket["change"]["actions"] == ["forget"]  # what Terraform writes for removed {}

    summary = summarize(tmp_path, forget, "forget")
    assert list(json.loads(summary.read_text())["changes"]) == ["terraform_data.bucket"]
    assert compare(tmp_path, summary, forget) == 0
    capsys.readouterr()

    # reviewed without the removed block: the apply's forget was never seen
    nothing = summarize(tmp_path, plan_data.load("tfjson-no_changes.json"), "nothing")
    assert compare(tmp_path, nothing, forget) == 1
    assert "1 change(s) not in the reviewed plan (terraform_data.bucket)" in error_line(capsys)
