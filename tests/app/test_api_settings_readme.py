"""The README's settings table lists every Settings field with its real default."""

from __future__ import annotations

import re
from pathlib import Path

from app.config import Settings

README = Path(__file__).resolve().parents[2] / "README.md"
ROW = re.compile(r"^\| `(?P<name>[A-Z][A-Z0-9_]*)` \| (?P<default>[^|]+) \| (?P<meaning>[^|]+) \|$")


def _table() -> dict[str, str]:
    text = README.read_text(encoding="utf-8")
    section = text.split("<!-- section:settings -->", 1)[1].split("<!-- section:", 1)[0]
    rows = {}
    for line in section.splitlines():
        if match := ROW.match(line.strip()):
            assert match["meaning"].strip(), f"{match['name']} has no meaning in the README"
            rows[match["name"]] = match["default"].strip()
    return rows


def _shown(default: object) -> str:
    return "unset" if default is None else f"`{default}`"


def test_every_setting_is_in_the_readme_table_with_its_default() -> None:
    table = _table()

    missing = sorted(set(Settings.model_fields) - set(table))
    unknown = sorted(set(table) - set(Settings.model_fields))
    assert not missing, f"add these settings to the README's settings table: {missing}"
    assert not unknown, f"the README's settings table lists fields Settings lacks: {unknown}"
    for name, field in Settings.model_fields.items():
        assert table[name] == _shown(field.default), f"README default of {name} is stale"
