"""Records every AWS call the code under test makes (for `make iam-check`, tests/iam/): a
pytest plugin, registered in tests/conftest.py.

A botocore `before-parameter-build` hook on every session: each operation the service
(app/) or the deploy tools (deploy/) perform is written with its parameters to
`.data/iam-calls/recorded.json` when the session ends. A call made by a test's own set-up
(seeding moto, reading results back) is not the code's and is left out: the caller is the
first stack frame outside botocore/boto3, and only frames in app/ or deploy/ count.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import botocore.session
import pytest

REPO = Path(__file__).resolve().parents[1]
RECORD = REPO / ".data" / "iam-calls" / "recorded.json"
_OWNERS = {"app": REPO / "app", "deploy": REPO / "deploy"}
_calls: dict[tuple[str, str, str, str], dict[str, Any]] = {}
_current_test = ""


def _caller() -> tuple[str, str] | None:
    """(owner, module path) of the code that made the call, if it is app/ or deploy/."""
    frame = sys._getframe(2)
    while frame is not None:
        path = Path(frame.f_code.co_filename)
        if frame.f_code.co_filename != __file__ and not {"botocore", "boto3", "aiobotocore"} & set(
            path.parts
        ):
            for owner, root in _OWNERS.items():
                if path.is_relative_to(root):
                    return owner, str(path.relative_to(REPO))
            return None
        frame = frame.f_back
    return None


def _scalar_params(params: dict[str, Any]) -> dict[str, Any]:
    """The parameters that name resources (strings, string lists); no bodies or blobs."""
    out: dict[str, Any] = {}
    for k, v in params.items():
        names_a_resource = isinstance(v, str) and len(v) < 512
        if names_a_resource or (isinstance(v, list) and all(isinstance(x, str) for x in v)):
            out[k] = v
        elif k in {"tags", "Tags"}:  # tags on create imply a tagging permission
            out[k] = json.loads(json.dumps(v, default=str))
    return out


def _record(params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
    who = _caller()
    if who is None:
        return
    service = model.service_model.service_name
    key = (who[0], service, model.name, who[1])
    entry = _calls.setdefault(
        key,
        {
            "owner": who[0],
            "module": who[1],
            "service": service,
            "signing_name": model.service_model.signing_name,
            "operation": model.name,
            "params": [],
            "tests": [],
        },
    )
    p = _scalar_params(params)
    if p not in entry["params"] and len(entry["params"]) < 5:
        entry["params"].append(p)
    if _current_test not in entry["tests"] and len(entry["tests"]) < 3:
        entry["tests"].append(_current_test)


_original_init = botocore.session.Session.__init__


def _init(self: botocore.session.Session, *args: Any, **kwargs: Any) -> None:
    _original_init(self, *args, **kwargs)
    self.register("before-parameter-build", _record)


botocore.session.Session.__init__ = _init  # type: ignore[method-assign]


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    global _current_test
    _current_test = item.nodeid


def pytest_sessionfinish(session: pytest.Session) -> None:
    if os.environ.get("PYTEST_XDIST_WORKER") or not _calls:
        return
    RECORD.parent.mkdir(parents=True, exist_ok=True)
    RECORD.write_text(
        json.dumps(
            sorted(_calls.values(), key=lambda e: (e["owner"], e["service"], e["operation"])),
            indent=1,
        )
    )
