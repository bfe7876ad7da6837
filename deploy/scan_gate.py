"""Gate an ECR image on its scan: no CRITICAL or HIGH finding unless the policy excepts it.

Usage:
    python -m deploy.scan_gate --outputs tf-outputs.json --image-tag <40-hex sha>
        [--policy .trivyignore.yaml] [--wait-seconds 600]

The policy is ONE file read by this gate and by CI's Trivy (`trivy image --ignorefile
.trivyignore.yaml --severity CRITICAL,HIGH --exit-code 1`, without --ignore-unfixed): Trivy's
own `.trivyignore.yaml` format (trivy.dev, "Filtering" > ".trivyignore.yaml": entries under
`vulnerabilities` with `id`, `paths`, `purls`, `statement`, `expired_at`). This project
requires a `statement` (why: typically "no fixed version in Debian <release> yet") and an
`expired_at` date on every entry; Trivy stops honouring an entry after that date, and so does
the gate. An entry with `purls` covers the finding in those packages only (matched by the
purl's name, which is the package name ECR reports); an entry scoped by `paths` only is
Trivy's business (ECR reports no file paths) and covers nothing here.

The gate waits (up to --wait-seconds) for the scan to reach COMPLETE (basic scanning) or
ACTIVE (enhanced scanning), then passes only when every CRITICAL and HIGH finding is covered
by a current entry. A finding that ECR's enhanced scanning says has a fix
(`fixAvailable: YES`) is never covered: the exception is for findings with no fix, the
remedy for the others is a rebuild. Expired entries are listed in the report. When ECR's
severity counts say there are more CRITICAL/HIGH findings than it listed, those block too.

Exit codes: 0 gate passed, 1 gate failed (or the image/scan is missing),
2 bad arguments, outputs or scan policy.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from botocore.exceptions import ClientError

from deploy._aws import aws_error, ecr_client, error_code
from deploy._cli import (
    EXIT_OK,
    ConfigError,
    DeployError,
    commit_sha,
    load_outputs,
    run,
    write_step_summary,
)

if TYPE_CHECKING:
    from mypy_boto3_ecr import ECRClient

__all__ = [
    "AllowEntry",
    "Finding",
    "GateFailedError",
    "Image",
    "ImageNotFoundError",
    "Verdict",
    "check",
    "evaluate",
    "find_image",
    "load_allowlist",
    "main",
]

DEFAULT_ALLOWLIST = Path(".trivyignore.yaml")
DONE = frozenset({"COMPLETE", "ACTIVE"})
PENDING = frozenset({"IN_PROGRESS", "PENDING"})
BLOCKING = ("CRITICAL", "HIGH")


class ImageNotFoundError(DeployError):
    """The tag is not in the repository."""


class GateFailedError(DeployError):
    """The scan is missing, failed, or has blocking findings."""


@dataclass(frozen=True)
class Image:
    repository_url: str
    tag: str
    digest: str

    @property
    def repository_name(self) -> str:
        return repository_name(self.repository_url)

    @property
    def pinned(self) -> str:
        """The image reference a task definition uses: immutable, by digest."""
        return f"{self.repository_url}@{self.digest}"


@dataclass(frozen=True)
class Finding:
    id: str
    severity: str
    package: str | None = None
    fix_available: bool | None = None  # enhanced scanning says; basic scanning does not


@dataclass(frozen=True)
class AllowEntry:
    id: str
    reason: str
    expires: dt.date
    packages: frozenset[str] = frozenset()  # from `purls`; empty: any package
    paths_only: bool = False  # scoped by `paths` alone: nothing ECR reports can match

    @property
    def package(self) -> str | None:
        return ", ".join(sorted(self.packages)) or None

    def covers(self, finding: Finding) -> bool:
        if finding.id != self.id or self.paths_only or finding.fix_available:
            return False
        return not self.packages or finding.package in self.packages


@dataclass
class Verdict:
    image: Image
    status: str
    blocking: list[Finding] = field(default_factory=list)
    unlisted: dict[str, int] = field(default_factory=dict)
    allowed: list[tuple[Finding, AllowEntry]] = field(default_factory=list)
    expired: list[AllowEntry] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.blocking and not self.unlisted

    def sentence(self) -> str:
        if self.passed:
            allowed = f", {len(self.allowed)} excepted by the policy" if self.allowed else ""
            return f"scan gate passed for {self.image.pinned} (no blocking findings{allowed})."
        parts = [
            f"{f.severity} {f.id}" + (f" in {f.package}" if f.package else "")
            for f in self.blocking
        ]
        parts += [f"{n} more {sev} not listed by ECR" for sev, n in self.unlisted.items()]
        shown = ", ".join(parts[:5]) + (f" and {len(parts) - 5} more" if len(parts) > 5 else "")
        return (
            f"scan gate failed for {self.image.pinned}: {shown}; rebuild on a patched base, or "
            f"for a finding with no fix add it to {DEFAULT_ALLOWLIST} with a statement and an "
            "expired_at date."
        )


def repository_name(repository_url: str) -> str:
    """`123456789012.dkr.ecr.eu-west-1.amazonaws.com/qa-service-dev` -> `qa-service-dev`."""
    _, sep, name = repository_url.partition("/")
    if not sep or not name:
        raise ConfigError(f"'{repository_url}' is not an ECR repository URL (registry/name).")
    return name


def find_image(ecr: ECRClient, repository_url: str, tag: str) -> Image:
    """The image tagged `tag`, with its digest; ImageNotFoundError if it was never pushed."""
    name = repository_name(repository_url)
    try:
        response = ecr.describe_images(repositoryName=name, imageIds=[{"imageTag": tag}])
    except ClientError as exc:
        if error_code(exc) == "ImageNotFoundException":
            raise ImageNotFoundError(
                f"image {repository_url}:{tag} is not in ECR; check that release.yml pushed "
                "this commit, or pick a SHA that was released."
            ) from exc
        raise aws_error(f"describe_images on {repository_url}", exc) from exc
    details = response.get("imageDetails", [])
    if not details or "imageDigest" not in details[0]:
        raise ImageNotFoundError(f"image {repository_url}:{tag} is not in ECR.")
    return Image(repository_url=repository_url, tag=tag, digest=details[0]["imageDigest"])


def _purl_name(purl: str) -> str:
    """`pkg:deb/debian/openssl@3.0.15-1?arch=amd64` -> `openssl`."""
    return purl.split("?", 1)[0].split("@", 1)[0].rsplit("/", 1)[-1]


def load_allowlist(path: Path) -> list[AllowEntry]:
    """The `vulnerabilities` entries of the policy (Trivy's .trivyignore.yaml); ConfigError
    naming the entry when one lacks what this project requires."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read the scan policy {path}: {exc}") from exc
    items = (raw or {}).get("vulnerabilities") if isinstance(raw, dict | None) else None
    if items is None:
        items = []
    if not isinstance(items, list):
        raise ConfigError(f"{path}: `vulnerabilities` must be a list.")
    entries = []
    for number, item in enumerate(items, start=1):
        where = f"{path}, vulnerabilities entry {number}"
        if not isinstance(item, dict):
            raise ConfigError(f"{where}: each entry is a mapping with id, statement, expired_at.")
        missing = [key for key in ("id", "statement", "expired_at") if not item.get(key)]
        if missing:
            raise ConfigError(f"{where}: missing {', '.join(missing)}.")
        expires = item["expired_at"]
        if isinstance(expires, str):
            try:
                expires = dt.date.fromisoformat(expires)
            except ValueError:
                expires = None
        if not isinstance(expires, dt.date) or isinstance(expires, dt.datetime):
            raise ConfigError(f"{where}: expired_at must be a date like 2026-12-31.")
        purls = item.get("purls") or []
        if not isinstance(purls, list) or not all(isinstance(p, str) for p in purls):
            raise ConfigError(f"{where}: purls must be a list of package URLs (pkg:deb/...).")
        entries.append(
            AllowEntry(
                id=str(item["id"]),
                reason=str(item["statement"]),
                expires=expires,
                packages=frozenset(_purl_name(p) for p in purls),
                paths_only=bool(item.get("paths")) and not purls,
            )
        )
    return entries


def _findings(scan: dict[str, Any]) -> Iterable[Finding]:
    """Findings from basic (`findings`) and enhanced/Inspector (`enhancedFindings`) scans."""
    for item in scan.get("findings", []):
        attributes = {a.get("key"): a.get("value") for a in item.get("attributes", [])}
        yield Finding(
            id=str(item.get("name", "?")),
            severity=str(item.get("severity", "UNDEFINED")),
            package=attributes.get("package_name"),
        )
    for item in scan.get("enhancedFindings", []):
        if item.get("status") == "CLOSED":  # fixed in this image since the finding was opened
            continue
        details = item.get("packageVulnerabilityDetails", {})
        packages = [p.get("name") for p in details.get("vulnerablePackages", [])] or [None]
        fix = item.get("fixAvailable")
        for package in packages:
            yield Finding(
                id=str(details.get("vulnerabilityId") or item.get("title", "?")),
                severity=str(item.get("severity", "UNDEFINED")),
                package=package,
                fix_available=None if fix is None else fix in ("YES", "PARTIAL"),
            )


def evaluate(
    image: Image,
    status: str,
    scan: dict[str, Any],
    allowlist: Sequence[AllowEntry],
    today: dt.date,
) -> Verdict:
    """The gate's decision on one `imageScanFindings` document."""
    valid = [entry for entry in allowlist if entry.expires >= today]
    verdict = Verdict(image=image, status=status)
    verdict.expired = [entry for entry in allowlist if entry.expires < today]
    listed = dict.fromkeys(BLOCKING, 0)
    seen: set[tuple[str, str | None]] = set()
    for finding in _findings(scan):
        if finding.severity not in BLOCKING or (finding.id, finding.package) in seen:
            continue
        seen.add((finding.id, finding.package))
        listed[finding.severity] += 1
        entry = next((e for e in valid if e.covers(finding)), None)
        if entry is not None:
            verdict.allowed.append((finding, entry))
        else:
            verdict.blocking.append(finding)
    counts = scan.get("findingSeverityCounts", {})
    for severity in BLOCKING:
        missing = int(counts.get(severity, 0)) - listed[severity]
        if missing > 0:
            verdict.unlisted[severity] = missing
    return verdict


def _scan(ecr: ECRClient, image: Image) -> tuple[str, str, dict[str, Any]]:
    """(status, description, merged imageScanFindings) — status NOT_FOUND before a scan exists."""
    merged: dict[str, Any] = {"findings": [], "enhancedFindings": []}
    status, description = "NOT_FOUND", "no scan exists for this image yet"
    paginator = ecr.get_paginator("describe_image_scan_findings")
    pages = paginator.paginate(
        repositoryName=image.repository_name, imageId={"imageDigest": image.digest}
    )
    try:
        for page in pages:
            scan_status = page.get("imageScanStatus", {})
            status = scan_status.get("status", "UNKNOWN")
            description = scan_status.get("description", "")
            findings: dict[str, Any] = dict(page.get("imageScanFindings", {}))
            merged["findings"] += findings.get("findings", [])
            merged["enhancedFindings"] += findings.get("enhancedFindings", [])
            merged["findingSeverityCounts"] = findings.get("findingSeverityCounts", {})
    except ClientError as exc:
        if error_code(exc) != "ScanNotFoundException":
            raise aws_error(f"describe_image_scan_findings on {image.pinned}", exc) from exc
    return status, description, merged


def check(
    ecr: ECRClient,
    repository_url: str,
    tag: str,
    allowlist: Sequence[AllowEntry],
    wait_seconds: float,
    poll_seconds: float = 10.0,
    today: dt.date | None = None,
) -> Verdict:
    """Find the image, wait for its scan, and judge it. Raises when there is nothing to judge."""
    image = find_image(ecr, repository_url, tag)
    deadline = time.monotonic() + wait_seconds
    while True:
        status, description, scan = _scan(ecr, image)
        if status in DONE:
            return evaluate(image, status, scan, allowlist, today or dt.date.today())
        if status not in PENDING | {"NOT_FOUND"}:
            raise GateFailedError(
                f"the scan of {image.pinned} ended {status} ({description}); "
                "re-scan the image or rebuild it."
            )
        if time.monotonic() >= deadline:
            raise GateFailedError(
                f"the scan of {image.pinned} is still {status} after {wait_seconds:g} s "
                "(is scan on push enabled on the repository?); re-run when it completes."
            )
        time.sleep(min(poll_seconds, max(0.0, deadline - time.monotonic())))


def render_markdown(verdict: Verdict) -> str:
    mark = "passed" if verdict.passed else "failed"
    lines = [
        f"### Scan gate {mark}",
        "",
        f"- image: `{verdict.image.repository_url}:{verdict.image.tag}`",
        f"- digest: `{verdict.image.digest}`",
        f"- scan status: {verdict.status}",
    ]
    if verdict.blocking or verdict.unlisted:
        lines += ["", "| blocking | severity | package |", "|---|---|---|"]
        lines += [f"| {f.id} | {f.severity} | {f.package or ''} |" for f in verdict.blocking]
        lines += [f"| ({n} not listed by ECR) | {s} | |" for s, n in verdict.unlisted.items()]
    if verdict.allowed:
        lines += ["", "| excepted | package | statement | expires |", "|---|---|---|---|"]
        lines += [
            f"| {f.id} | {f.package or ''} | {e.reason} | {e.expires} |" for f, e in verdict.allowed
        ]
    if verdict.expired:
        lines += ["", "Expired policy entries (no longer counted; renew or delete them):"]
        lines += [f"- {e.id}: expired {e.expires} ({e.reason})" for e in verdict.expired]
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m deploy.scan_gate",
        description="Fail when the ECR scan of an image has CRITICAL or HIGH findings the "
        "scan policy does not except. Exit codes: 0 passed, 1 failed, 2 bad arguments.",
    )
    parser.add_argument("--outputs", type=Path, required=True, help="terraform output -json file")
    parser.add_argument("--image-tag", type=commit_sha, required=True, help="40-hex commit SHA")
    parser.add_argument(
        "--policy",
        "--allowlist",
        dest="allowlist",
        type=Path,
        default=DEFAULT_ALLOWLIST,
        help=f"the scan policy, Trivy's ignore file ({DEFAULT_ALLOWLIST})",
    )
    parser.add_argument(
        "--wait-seconds",
        type=float,
        default=600.0,
        help="wait this long for the scan to complete (600)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)

    def body() -> int:
        outputs = load_outputs(args.outputs, ["ecr_repository_url"])
        allowlist = load_allowlist(args.allowlist)
        try:
            verdict = check(
                ecr_client(),
                outputs["ecr_repository_url"],
                args.image_tag,
                allowlist,
                wait_seconds=args.wait_seconds,
            )
        except DeployError as exc:
            write_step_summary(f"### Scan gate failed\n\n{exc}")
            raise
        report = render_markdown(verdict)
        print(report)
        write_step_summary(report)
        if not verdict.passed:
            raise GateFailedError(verdict.sentence())
        print(verdict.sentence())
        return EXIT_OK

    return run(body)


if __name__ == "__main__":
    sys.exit(main())
