"""aws_iam_policy_document renders the JSON of terraform-provider-aws's data source
(policy_document_data_source.go, policy_model.go); expected documents written by hand."""

from __future__ import annotations

import json
import zlib

from aws_standin.data_sources import policy_document, zone_id_prefix


def _stmt(**kw: object) -> dict[str, object]:
    base: dict[str, object] = {
        "sid": None,
        "effect": None,
        "actions": None,
        "not_actions": None,
        "resources": None,
        "not_resources": None,
        "principals": None,
        "not_principals": None,
        "condition": None,
    }
    return {**base, **kw}


def test_single_values_are_strings_and_lists_reverse_sorted() -> None:
    out = policy_document(
        {
            "statement": [
                _stmt(
                    sid="Read",
                    actions=["s3:GetObject"],
                    resources=["arn:aws:s3:::b/*", "arn:aws:s3:::b"],
                ),
                _stmt(
                    effect="Deny",
                    not_actions=["iam:*", "sts:*"],
                    not_resources=["*"],
                    principals=[{"type": "Service", "identifiers": ["ecs-tasks.amazonaws.com"]}],
                    condition=[
                        {"test": "StringEquals", "variable": "aws:SourceAccount", "values": ["1"]},
                        {"test": "ArnLike", "variable": "aws:SourceArn", "values": ["b", "a"]},
                    ],
                ),
            ]
        }
    )
    assert json.loads(out["json"]) == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Read",
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": ["arn:aws:s3:::b/*", "arn:aws:s3:::b"],
            },
            {
                "Effect": "Deny",
                "NotAction": ["sts:*", "iam:*"],
                "NotResource": "*",
                "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                "Condition": {
                    "ArnLike": {"aws:SourceArn": ["b", "a"]},
                    "StringEquals": {"aws:SourceAccount": "1"},
                },
            },
        ],
    }
    # Go's MarshalIndent layout and field order; the id is the CRC-32 of the JSON.
    assert out["json"].startswith(
        '{\n  "Version": "2012-10-17",\n  "Statement": [\n    {\n      "Sid"'
    )
    assert out["minified_json"].startswith('{"Version":"2012-10-17","Statement":[{"Sid":"Read"')
    assert out["id"] == str(zlib.crc32(out["json"].encode()))


def test_star_principal_and_variables_and_html_escaping() -> None:
    out = policy_document(
        {
            "statement": [
                _stmt(
                    actions=["s3:*"],
                    resources=["arn:aws:s3:::b/&{aws:username}/<x>"],
                    principals=[{"type": "*", "identifiers": ["*"]}],
                )
            ]
        }
    )
    statement = json.loads(out["json"])["Statement"][0]
    assert statement["Principal"] == "*"
    assert statement["Resource"] == "arn:aws:s3:::b/${aws:username}/<x>"
    assert "\\u003cx\\u003e" in out["minified_json"]


def test_override_replaces_a_statement_with_the_same_sid() -> None:
    override = json.dumps(
        {"Statement": [{"Sid": "A", "Effect": "Deny", "Action": "*", "Resource": "*"}]}
    )
    out = policy_document(
        {
            "statement": [_stmt(sid="A", actions=["s3:GetObject"], resources=["*"])],
            "override_policy_documents": [override],
        }
    )
    assert json.loads(out["json"])["Statement"] == [
        {"Sid": "A", "Effect": "Deny", "Action": "*", "Resource": "*"}
    ]


def test_zone_ids() -> None:
    assert zone_id_prefix("us-east-1") == "use1"
    assert zone_id_prefix("eu-west-1") == "euw1"
    assert zone_id_prefix("ap-southeast-2") == "apse2"
