"""scan_gate against moto_server (images, scans and seeded findings) and on ECR-shaped data."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from deploy import scan_gate
from deploy.scan_gate import AllowEntry, Image
from tests.deploy.aws_stack import (
    NEXT_SHA,
    REPOSITORY,
    Stack,
    client,
    finding,
    push_image,
    seed_scan,
)

TODAY = dt.date.today()


def allowlist(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "trivyignore.yaml"
    path.write_text(text)
    return path


def gate(stack: Stack, allow: Path, *extra: str) -> int:
    return scan_gate.main(
        [
            "--outputs", str(stack.outputs),
            "--image-tag", NEXT_SHA,
            "--allowlist", str(allow),
            "--wait-seconds", "0",
            *extra,
        ]
    )  # fmt: skip


@pytest.fixture
def empty_allowlist(tmp_path: Path) -> Path:
    return allowlist(tmp_path, "vulnerabilities: []\n")


def test_clean_scan_passes_and_writes_the_summary(
    stack: Stack, empty_allowlist: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    digest = push_image(stack.moto, NEXT_SHA)
    seed_scan(stack.moto, digest, [finding("CVE-2025-0001", "MEDIUM")])
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))

    assert gate(stack, empty_allowlist) == 0

    text = summary.read_text()
    assert "Scan gate passed" in text
    assert digest in text
    assert "CVE-2025-0001" not in text  # MEDIUM findings do not block and are not listed


def test_critical_with_no_fix_passes_only_with_a_current_policy_entry(
    stack: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # slim Debian bases carry CRITICALs with no fixed version: a dated, reasoned exception
    digest = push_image(stack.moto, NEXT_SHA)
    seed_scan(stack.moto, digest, [finding("CVE-2025-1111", "CRITICAL", "glibc")])
    assert gate(stack, allowlist(tmp_path, "vulnerabilities: []\n")) == 1
    err = capsys.readouterr().err
    assert "CRITICAL CVE-2025-1111 in glibc" in err
    assert "add it to .trivyignore.yaml with a statement and an expired_at date" in err
    assert err.count("\n") == 1  # one sentence

    allow = allowlist(
        tmp_path,
        "vulnerabilities:\n  - id: CVE-2025-1111\n"
        "    statement: no fixed version in Debian bookworm\n"
        f"    expired_at: {TODAY + dt.timedelta(days=30)}\n",
    )
    assert gate(stack, allow) == 0
    assert "| CVE-2025-1111 | glibc | no fixed version in Debian bookworm |" in (
        capsys.readouterr().out
    )


def test_a_finding_with_a_fix_is_never_excepted() -> None:
    fixable = {
        "enhancedFindings": [{**ENHANCED["enhancedFindings"][0], "fixAvailable": "YES"}],
        "findingSeverityCounts": {"HIGH": 1},
    }
    entry = AllowEntry(id="CVE-2025-5555", reason="r", expires=TODAY)
    verdict = scan_gate.evaluate(IMAGE, "ACTIVE", fixable, [entry], TODAY)
    assert [f.id for f in verdict.blocking] == ["CVE-2025-5555"]


def test_an_entry_scoped_by_paths_only_covers_nothing_ecr_reports(tmp_path: Path) -> None:
    policy = allowlist(
        tmp_path,
        "vulnerabilities:\n  - id: CVE-2025-5555\n    paths: [usr/lib/x]\n"
        f"    statement: s\n    expired_at: {TODAY}\n",
    )
    verdict = scan_gate.evaluate(IMAGE, "ACTIVE", ENHANCED, scan_gate.load_allowlist(policy), TODAY)
    assert not verdict.passed


def test_high_passes_only_with_a_current_allow_list_entry(
    stack: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    digest = push_image(stack.moto, NEXT_SHA)
    seed_scan(stack.moto, digest, [finding("CVE-2025-2222", "HIGH", "openssl")])
    blocked = allowlist(tmp_path, "vulnerabilities: []\n")
    assert gate(stack, blocked) == 1
    assert "HIGH CVE-2025-2222 in openssl" in capsys.readouterr().err

    allowed = allowlist(
        tmp_path,
        "vulnerabilities:\n"
        "  - id: CVE-2025-2222\n"
        '    purls: ["pkg:deb/debian/openssl@3.0.15-1?arch=amd64"]\n'
        "    statement: not reachable from the service\n"
        f"    expired_at: {TODAY}\n",  # the last day still counts
    )
    assert gate(stack, allowed) == 0
    out = capsys.readouterr().out
    assert "| CVE-2025-2222 | openssl | not reachable from the service |" in out


def test_expired_entry_stops_counting_and_is_reported(
    stack: Stack,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    digest = push_image(stack.moto, NEXT_SHA)
    seed_scan(stack.moto, digest, [finding("CVE-2025-3333", "HIGH")])
    yesterday = TODAY - dt.timedelta(days=1)
    allow = allowlist(
        tmp_path,
        "vulnerabilities:\n  - id: CVE-2025-3333\n    statement: waiting for a fix\n"
        f"    expired_at: {yesterday}\n",
    )
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))

    assert gate(stack, allow) == 1

    assert "HIGH CVE-2025-3333" in capsys.readouterr().err
    assert f"CVE-2025-3333: expired {yesterday}" in summary.read_text()


def test_entry_for_another_package_does_not_cover_the_finding(stack: Stack, tmp_path: Path) -> None:
    digest = push_image(stack.moto, NEXT_SHA)
    seed_scan(stack.moto, digest, [finding("CVE-2025-4444", "HIGH", "zlib")])
    allow = allowlist(
        tmp_path,
        "vulnerabilities:\n  - id: CVE-2025-4444\n    purls: [pkg:deb/debian/openssl]\n"
        "    statement: r\n"
        f"    expired_at: {TODAY + dt.timedelta(days=1)}\n",
    )
    assert gate(stack, allow) == 1


def test_missing_image_fails_with_one_sentence(
    stack: Stack, empty_allowlist: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert gate(stack, empty_allowlist) == 1
    err = capsys.readouterr().err
    assert f"image {stack.repository_url}:{NEXT_SHA} is not in ECR" in err


def test_scan_that_never_started_fails_after_the_wait(
    stack: Stack, empty_allowlist: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    push_image(stack.moto, NEXT_SHA, scan=False)  # moto answers ScanNotFoundException
    assert gate(stack, empty_allowlist, "--wait-seconds", "0.3") == 1
    assert "still NOT_FOUND after 0.3 s" in capsys.readouterr().err


def test_failed_scan_fails(
    stack: Stack, empty_allowlist: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    digest = push_image(stack.moto, NEXT_SHA)
    seed_scan(stack.moto, digest, [], status="UNSUPPORTED_IMAGE")
    assert gate(stack, empty_allowlist) == 1
    assert "ended UNSUPPORTED_IMAGE" in capsys.readouterr().err


def test_unseeded_moto_scan_is_judged_like_any_other(stack: Stack, empty_allowlist: Path) -> None:
    # moto's built-in answer is one HIGH finding (CVE-9999-9999 in moto_fake): the round trip
    # of a real, unseeded describe_image_scan_findings response through the gate.
    push_image(stack.moto, NEXT_SHA)
    verdict = scan_gate.check(
        client("ecr", stack.moto), stack.repository_url, NEXT_SHA, [], wait_seconds=0
    )
    assert verdict.status == "COMPLETE"
    assert [(f.id, f.severity, f.package) for f in verdict.blocking] == [
        ("CVE-9999-9999", "HIGH", "moto_fake")
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "vulnerabilities:\n  - id: CVE-1\n    expired_at: 2030-01-01\n",
            "vulnerabilities entry 1: missing statement",
        ),
        (
            "vulnerabilities:\n  - id: CVE-1\n    statement: r\n    expired_at: soon\n",
            "vulnerabilities entry 1: expired_at must be",
        ),
        ("vulnerabilities: {}\n", "`vulnerabilities` must be a list"),
        ("vulnerabilities: [\n", "cannot read the scan policy"),
    ],
)
def test_bad_allow_list_is_a_usage_error_naming_the_entry(
    tmp_path: Path, text: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    outputs = tmp_path / "tf-outputs.json"
    outputs.write_text('{"ecr_repository_url": {"value": "1.dkr.ecr.eu-west-1.amazonaws.com/r"}}')
    code = scan_gate.main(
        [
            "--outputs",
            str(outputs),
            "--image-tag",
            NEXT_SHA,
            "--allowlist",
            str(allowlist(tmp_path, text)),
        ]
    )
    assert code == 2
    assert message in capsys.readouterr().err


def test_the_repository_allow_list_is_valid() -> None:
    entries = scan_gate.load_allowlist(Path(__file__).parents[2] / ".trivyignore.yaml")
    assert all(entry.reason and entry.expires for entry in entries)


def test_image_tag_must_be_a_full_sha(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exit_info:
        scan_gate.main(["--outputs", str(tmp_path / "o.json"), "--image-tag", "latest"])
    assert exit_info.value.code == 2


# Enhanced scanning (Amazon Inspector) answers with `enhancedFindings`; the shape below is the
# one in the ECR API reference for DescribeImageScanFindings.
ENHANCED = {
    "enhancedFindings": [
        {
            "severity": "HIGH",
            "status": "ACTIVE",
            "title": "CVE-2025-5555 - libxml2",
            "packageVulnerabilityDetails": {
                "vulnerabilityId": "CVE-2025-5555",
                "vulnerablePackages": [{"name": "libxml2", "version": "2.9.14"}],
            },
        },
        {
            "severity": "CRITICAL",
            "status": "CLOSED",  # fixed since: must not block
            "packageVulnerabilityDetails": {
                "vulnerabilityId": "CVE-2024-0001",
                "vulnerablePackages": [{"name": "bash"}],
            },
        },
    ],
    "findingSeverityCounts": {"HIGH": 1},
}
IMAGE = Image(
    repository_url="123.dkr.ecr.eu-west-1.amazonaws.com/r", tag=NEXT_SHA, digest="sha256:1"
)


def test_enhanced_findings_are_judged_and_closed_ones_ignored() -> None:
    entry = AllowEntry(
        id="CVE-2025-5555", reason="r", expires=TODAY, packages=frozenset({"libxml2"})
    )
    assert scan_gate.evaluate(IMAGE, "ACTIVE", ENHANCED, [entry], TODAY).passed
    verdict = scan_gate.evaluate(IMAGE, "ACTIVE", ENHANCED, [], TODAY)
    assert [f.id for f in verdict.blocking] == ["CVE-2025-5555"]


def test_counts_beyond_the_listed_findings_block() -> None:
    scan = {"findings": [], "findingSeverityCounts": {"CRITICAL": 2, "MEDIUM": 5}}
    verdict = scan_gate.evaluate(IMAGE, "COMPLETE", scan, [], TODAY)
    assert not verdict.passed
    assert verdict.unlisted == {"CRITICAL": 2}
    assert "2 more CRITICAL not listed by ECR" in verdict.sentence()


def test_repository_name_of_an_ecr_url() -> None:
    assert (
        scan_gate.repository_name(f"1.dkr.ecr.eu-west-1.amazonaws.com/{REPOSITORY}") == REPOSITORY
    )
