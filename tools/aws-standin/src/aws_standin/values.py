"""Terraform values on the wire: cty's msgpack encoding, with unknown values.

cty encodes an unknown value as the msgpack extension 0 (`d4 00 00`), and a refined unknown
(Terraform 1.6+) as extension 12 (cty/msgpack/unknown.go); both decode to UNKNOWN here.
A value of a `dynamic` attribute is a two-element array [type JSON, value]; it is passed
through untouched.
"""

from __future__ import annotations

import json
from typing import Any

import msgpack


class _Unknown:
    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Any = _Unknown()
_UNKNOWN_EXT = msgpack.ExtType(0, b"\x00")


def _ext_hook(code: int, data: bytes) -> Any:
    if code in (0, 12):
        return UNKNOWN
    return msgpack.ExtType(code, data)


def _default(obj: Any) -> Any:
    if obj is UNKNOWN:
        return _UNKNOWN_EXT
    raise TypeError(f"cannot encode {type(obj).__name__}")


def decode(raw: bytes) -> Any:
    if not raw:
        return None
    return msgpack.unpackb(raw, ext_hook=_ext_hook, raw=False, strict_map_key=False)


def encode(value: Any) -> bytes:
    return bytes(msgpack.packb(value, default=_default, use_bin_type=True))


def from_json(raw: bytes) -> Any:
    return json.loads(raw) if raw else None
