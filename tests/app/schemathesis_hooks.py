"""schemathesis hooks (loaded through SCHEMATHESIS_HOOKS by tests/app/test_schemathesis.py).

A `documents` filter must name stored documents: the OpenAPI document cannot say which
names exist, so a generated name would be refused with a 422 that the positive phase counts
as a schema-valid request rejected. Every name the schema allows becomes one of the stored
names (SCHEMATHESIS_DOCUMENT_NAMES, from the server's /collectioninfo); a name the schema
refuses stays as generated, so a negative case stays negative.
"""

from __future__ import annotations

import json
import os
from typing import Any

import schemathesis

from app.schemas import DOCUMENT_NAME_MAX

_NAMES: list[str] = json.loads(os.environ.get("SCHEMATHESIS_DOCUMENT_NAMES", "[]"))


def _stored(index: int, name: Any) -> Any:
    if _NAMES and isinstance(name, str) and 1 <= len(name) <= DOCUMENT_NAME_MAX:
        return _NAMES[index % len(_NAMES)]
    return name


@schemathesis.hook
def map_body(context: Any, body: Any) -> Any:
    if isinstance(body, dict) and isinstance(body.get("documents"), list):
        return {**body, "documents": [_stored(i, n) for i, n in enumerate(body["documents"])]}
    return body
