"""The Dockerfile's contract, read statically (fast; `make image-test` builds and runs it).

hadolint and checkov judge the Dockerfile's hygiene; these tests pin what the rest of the
repository relies on: the base, the user, the port, the command, and the shutdown window
that must fit inside the ECS task's stopTimeout.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import hcl2
import pytest

ROOT = Path(__file__).resolve().parents[2]
DIGEST_PINNED = re.compile(r"^python:3\.12-slim@sha256:[0-9a-f]{64}$")


@dataclass
class Stage:
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]


def _instructions(text: str) -> list[tuple[str, str]]:
    joined = re.sub(r"\\\n", " ", text)
    lines = [line.strip() for line in joined.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "")
        for line in lines
        if line and not line.startswith("#")
    ]


@pytest.fixture(scope="module")
def dockerfile() -> tuple[dict[str, str], list[Stage]]:
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for keyword, args in _instructions((ROOT / "Dockerfile").read_text()):
        if keyword == "FROM":
            stages.append(Stage(base=args.split()[0]))
        elif not stages and keyword == "ARG":
            name, _, default = args.partition("=")
            global_args[name] = default
        else:
            stages[-1].instructions.append((keyword, args))
    return global_args, stages


def _final(dockerfile: tuple[dict[str, str], list[Stage]]) -> Stage:
    return dockerfile[1][-1]


def _cmd(stage: Stage) -> list[str]:
    (cmd,) = stage.all("CMD")
    argv = json.loads(cmd)  # exec form: no shell between the runtime and uvicorn (SIGTERM)
    assert isinstance(argv, list)
    return [str(arg) for arg in argv]


def _option(argv: list[str], name: str) -> str:
    assert name in argv, f"CMD lacks {name}: {argv}"
    return argv[argv.index(name) + 1]


def test_both_stages_build_on_the_digest_pinned_base_by_default(dockerfile):
    global_args, stages = dockerfile
    pin, build, final = stages
    # The digest sits in a FROM line (Dependabot updates those, not ARG values) ...
    assert DIGEST_PINNED.match(pin.base), pin.base
    assert not pin.instructions, "the pin stage only names the base"
    # ... which BASE_IMAGE names unless a build passes another base (make image-test).
    assert global_args["BASE_IMAGE"] == "python-base"
    assert "AS python-base" in (ROOT / "Dockerfile").read_text()
    # Same base in both stages: the venv is created by the interpreter that runs it.
    assert [build.base, final.base] == ["${BASE_IMAGE}", "${BASE_IMAGE}"]


def test_build_installs_the_locked_runtime_dependencies_with_the_makefiles_uv(dockerfile):
    build = dockerfile[1][1]
    runs = " ".join(build.all("RUN"))
    makefile_uv = re.search(r"^UV_VERSION := (\S+)$", (ROOT / "Makefile").read_text(), re.M)
    assert makefile_uv is not None
    assert f"uv=={makefile_uv.group(1)}" in runs
    syncs = [shlex.split(run) for run in build.all("RUN") if "uv sync" in run]
    assert syncs, "no uv sync in the build stage"
    for argv in syncs:
        assert {"--locked", "--no-dev", "--no-editable"} <= set(argv), argv


def test_final_stage_copies_only_the_venv_and_runs_as_10001(dockerfile):
    final = _final(dockerfile)
    assert final.all("COPY") == ["--from=build /opt/venv /opt/venv"]
    assert final.all("USER") == ["10001:10001"]
    assert final.all("EXPOSE") == ["8080"]
    env = " ".join(final.all("ENV"))
    assert "QDRANT_PATH=/tmp/" in env  # the embedded fallback writes where the fs allows


def test_cmd_serves_the_launcher_on_8080_behind_the_proxy(dockerfile):
    argv = _cmd(_final(dockerfile))
    # app/server.py holds the workers, timeouts and limits, for `make run` as well.
    assert argv[:3] == ["python", "-m", "app.server"]
    assert _option(argv, "--port") == "8080"
    assert _option(argv, "--host") == "0.0.0.0"
    assert "--proxy-headers" in argv
    assert "--reload" not in argv


def test_make_run_starts_the_same_launcher():
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("\nrun:", 1)[1].split("\n\n", 1)[0]
    assert "python -m app.server" in recipe
    assert "uvicorn" not in recipe


def test_graceful_shutdown_fits_inside_the_ecs_stop_timeout():
    from app.config import Settings

    grace = Settings.from_env({}).HTTP_SHUTDOWN_GRACE_S
    defaults = []
    for path in sorted((ROOT / "terraform").rglob("variables.tf")):
        with path.open() as handle:
            for block in hcl2.load(handle).get("variable", []):
                for name, body in block.items():
                    if name.strip('"') == "stop_timeout":  # python-hcl2 7 keeps the quotes
                        defaults.append(int(body["default"]))
    if not defaults:
        pytest.fail("no Terraform variable stop_timeout: the task's stop window is undefined")
    # uvicorn must be done (lifespan shutdown included) before ECS sends SIGKILL.
    assert all(grace + 5 <= default for default in defaults), (grace, defaults)


def test_healthcheck_calls_health_with_python_not_curl(dockerfile):
    (healthcheck,) = _final(dockerfile).all("HEALTHCHECK")
    exec_form = json.loads(healthcheck.split("CMD", 1)[1])
    assert exec_form[0] == "python"
    assert "http://127.0.0.1:8080/health" in exec_form[-1]
    instructions = _instructions((ROOT / "Dockerfile").read_text())
    assert not [args for _, args in instructions if re.search(r"\b(curl|wget)\b", args)]


def test_labels_carry_revision_source_and_licence(dockerfile):
    labels = " ".join(_final(dockerfile).all("LABEL"))
    assert 'org.opencontainers.image.revision="${GIT_SHA}"' in labels
    assert "org.opencontainers.image.source=" in labels
    assert 'org.opencontainers.image.licenses="Apache-2.0"' in labels


def test_dockerignore_admits_only_what_the_build_copies():
    lines = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*"  # an allow-list: everything else stays out of the context
    admitted = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    assert admitted == {"pyproject.toml", "uv.lock", "README.md", "app"}
