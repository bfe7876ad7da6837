"""Package the blue/green smoke hook (deploy/*.py) as a deterministic zip for Lambda.

    python3 scripts/build-smoke-hook.py [--out .build/smoke-hook.zip]

Terraform uploads the zip (terraform/modules/blue_green, `smoke_hook_package`) and plans with
`filebase64sha256()` of it, so the same code must give the same bytes on every machine: the
plan reviewed on a pull request and the plan applied on merge compare the hash. Hence sorted
entries, a fixed timestamp and fixed permissions, and no compression (the output of zlib
varies between versions; the package is small either way). Only the standard library: it
runs before the project's environment exists (tf-plan.sh on GitHub).

The handler is `deploy.smoke_hook.handler`: the entries are `deploy/<module>.py`, so the
function imports them as the `deploy` package (stdlib and boto3 only at import time).

Exit codes: 0 written, 2 nothing to package (no deploy/*.py).
"""

from __future__ import annotations

import argparse
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# 1980-01-01 00:00:00, the earliest time a zip entry can hold.
FIXED_TIME = (1980, 1, 1, 0, 0, 0)
# -rw-r--r-- regular file: readable by the Lambda runtime's user, never executable.
FILE_MODE = 0o100644 << 16


def sources(repo: Path) -> list[Path]:
    return sorted((repo / "deploy").glob("*.py"), key=lambda p: p.name)


def build(repo: Path, out: Path) -> int:
    files = sources(repo)
    if not files:
        print(f"build-smoke-hook: no {repo / 'deploy'}/*.py to package", file=sys.stderr)
        return 2
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as zf:
        for path in files:
            info = zipfile.ZipInfo(f"deploy/{path.name}", date_time=FIXED_TIME)
            info.external_attr = FILE_MODE
            info.create_system = 3  # Unix, so that the mode above is what unzip sees
            zf.writestr(info, path.read_bytes())
    tmp.replace(out)  # never a half-written package where Terraform reads it
    print(f"build-smoke-hook: {out} ({len(files)} files)")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repo", type=Path, default=REPO, help="repository root (default: this one)")
    ap.add_argument("--out", type=Path, help="zip to write (default: <repo>/.build/smoke-hook.zip)")
    args = ap.parse_args(argv)
    out = args.out or args.repo / ".build" / "smoke-hook.zip"
    return build(args.repo, out)


if __name__ == "__main__":
    sys.exit(main())
