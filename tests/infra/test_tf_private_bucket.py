"""One hardened bucket (modules/private_bucket) behind the documents and the state; and the
check that keeps any future `moved` block honest."""

from __future__ import annotations

from pathlib import Path

from tests.infra.tfconfig import TERRAFORM, Config, blocks
from tests.infra.wiring_check import moved_addresses, moved_problems

PRIVATE_BUCKET = TERRAFORM / "modules" / "private_bucket"
BUCKET_RESOURCES = (
    "aws_s3_bucket",
    "aws_s3_bucket_ownership_controls",
    "aws_s3_bucket_public_access_block",
    "aws_s3_bucket_versioning",
    "aws_s3_bucket_server_side_encryption_configuration",
    "aws_s3_bucket_lifecycle_configuration",
    "aws_s3_bucket_policy",
)


def test_only_private_bucket_declares_s3_bucket_resources(configs: list[Config]) -> None:
    where = {
        (cfg.rel, rtype)
        for cfg in configs
        for _, rtype, _, _ in cfg.resources()
        if rtype.startswith("aws_s3_bucket")
    }
    assert where == {(Config.load(PRIVATE_BUCKET).rel, rtype) for rtype in BUCKET_RESOURCES}


def test_each_caller_passes_its_own_name_key_and_retention(root: Config, bootstrap: Config) -> None:
    state = bootstrap.modules["state_bucket"]
    assert state["source"] == "../modules/private_bucket"
    assert state["bucket"] == "${local.state_bucket}"
    assert bootstrap.locals["state_bucket"] == "${var.app_name}-tfstate-${local.account}"
    # The roles are scoped to the ARN of the very bucket the module creates.
    assert bootstrap.locals["state_arn"] == "arn:${local.partition}:s3:::${local.state_bucket}"
    assert state["kms_key_arn"] == "${module.state_kms.key_arn}"
    assert state["noncurrent_version_expiration_days"] == "${var.state_noncurrent_version_days}"
    assert bootstrap.variables["state_noncurrent_version_days"]["default"] == 90
    assert "force_destroy" not in state  # the state is never deleted with the bucket
    assert bootstrap.outputs["state_bucket_name"]["value"] == "${module.state_bucket.bucket_name}"

    s3 = Config.load(root.module_path("s3"))
    documents = s3.modules["bucket"]
    assert (
        documents["bucket"]
        == "${var.name}-documents-${data.aws_caller_identity.current.account_id}"
    )
    assert s3.variables["noncurrent_version_expiration_days"]["default"] == 30

    bucket = Config.load(PRIVATE_BUCKET)
    rule = blocks(bucket.resource("aws_s3_bucket_lifecycle_configuration", "this")["rule"])[0]
    assert rule["id"] == "expire-noncurrent-versions"
    assert bucket.variables["force_destroy"]["default"] is False


def test_moved_blocks_are_valid(configs: list[Config]) -> None:
    problems = [p for cfg in configs for p in moved_problems(cfg)]
    assert not problems, "\n".join(problems)


def test_moved_check_finds_planted_mistakes(tmp_path: Path) -> None:
    child = tmp_path / "child"
    child.mkdir()
    (child / "main.tf").write_text('resource "aws_s3_bucket" "this" {}\n', encoding="utf-8")
    (tmp_path / "main.tf").write_text(
        'module "bucket" {\n  source = "./child"\n}\n'
        'resource "aws_s3_bucket" "old" {}\n'
        "moved {\n  from = aws_s3_bucket.old\n  to   = module.bucket.aws_s3_bucket.this\n}\n"
        "moved {\n  from = aws_s3_bucket.gone\n  to   = module.bucket.aws_s3_bucket.that\n}\n"
        "moved {\n  from = aws_s3_bucket.gone2\n  to   = module.nothing.aws_s3_bucket.this\n}\n",
        encoding="utf-8",
    )
    cfg = Config.load(tmp_path)
    assert moved_problems(cfg) == [
        f"{cfg.rel}: moved from aws_s3_bucket.old, which is still declared",
        f"{cfg.rel}: moved to module.bucket.aws_s3_bucket.that, which is not declared",
        f"{cfg.rel}: moved to module.nothing.aws_s3_bucket.this, which is not declared",
    ]
    assert moved_addresses(cfg)[1] == ("aws_s3_bucket.gone", "module.bucket.aws_s3_bucket.that")
