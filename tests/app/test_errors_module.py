"""Every error class of the service lives in app/errors.py (issue 12 item 6: they were split
between app/store/base.py, app/errors.py and the ingestion modules), and that module stays
free of FastAPI so the stores and the ingestion CLI can raise them."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

APP = Path(__file__).resolve().parents[2] / "app"
ERRORS = APP / "errors.py"


def _classes(path: Path) -> list[ast.ClassDef]:
    return [n for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.ClassDef)]


def _base_names(node: ast.ClassDef) -> set[str]:
    return {b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases}


def test_no_error_class_is_defined_outside_app_errors() -> None:
    defined = {c.name for c in _classes(ERRORS)}
    exceptions = defined | {"Exception", "BaseException", "HTTPException", "ValueError"}
    elsewhere = [
        f"{path.relative_to(APP.parent)}: {node.name}"
        for path in sorted(APP.rglob("*.py"))
        if path != ERRORS
        for node in _classes(path)
        if _base_names(node) & exceptions
    ]
    assert not elsewhere, f"define these in app/errors.py: {elsewhere}"


def test_the_errors_module_does_not_load_fastapi() -> None:
    probe = (
        "import sys, app.errors, app.store, app.ingest.__main__; print('fastapi' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=APP.parent
    )
    assert out.stdout.strip() == "False"
