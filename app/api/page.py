"""The page at `GET /`, and its script, stylesheet and icon at `GET /?asset=<name>`.

Why the assets hang off `/` by query string instead of living at `/app.js`: behind API
Gateway the page's address is the stage URL, and the stage's `invoke_url` has no trailing
slash (`https://.../prod`). From `/prod` a path-relative `app.js` resolves to `/app.js`,
outside the stage, and the service cannot redirect to `/prod/` because API Gateway strips
the stage and sends `/` for both spellings. A query-only reference (`?asset=app.js`) resolves
to the page's own path with or without the slash, and keeps the whole page on the one
API Gateway resource that needs no API key (`/` GET). The script then resolves the API's
relative paths (`ask`, `ask/stream`) against its own path plus a slash, for the same reason.

The CSP (`default-src 'self'`) is app-wide and set by the app, not here: the page has no
inline script or style and loads nothing from another origin.
"""

from __future__ import annotations

from dataclasses import dataclass
from hashlib import sha256
from importlib.resources import files
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

__all__ = ["router"]

AssetName = Literal["app.js", "app.css", "favicon.svg"]

_MEDIA_TYPES: dict[str, str] = {
    "app.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}
# Asset URLs carry their content hash (`&v=`), so a browser may keep them for good; the
# page itself is revalidated every time so that a deploy shows at the next load.
_IMMUTABLE = "public, max-age=31536000, immutable"
_REVALIDATE = "no-cache"


@dataclass(frozen=True, slots=True)
class _Asset:
    body: bytes
    media_type: str
    version: str


def _load() -> tuple[bytes, dict[str, _Asset]]:
    root = files("app.page")
    assets: dict[str, _Asset] = {}
    for name, media_type in _MEDIA_TYPES.items():
        body = (root / name).read_bytes()
        assets[name] = _Asset(body, media_type, sha256(body).hexdigest()[:16])
    html = (root / "index.html").read_text(encoding="utf-8")
    for name, asset in assets.items():
        reference = f'"?asset={name}"'
        if reference not in html:
            raise RuntimeError(f"app/page/index.html no longer references {reference}")
        html = html.replace(reference, f'"?asset={name}&amp;v={asset.version}"')
    return html.encode(), assets


_PAGE, _ASSETS = _load()

router = APIRouter(tags=["page"])


@router.get("/", include_in_schema=False)
def get_page(
    *,
    asset: Annotated[AssetName | None, Query(description="an asset of the page")] = None,
    v: Annotated[str | None, Query(max_length=64, description="the asset's version")] = None,
) -> Response:
    """The question page, or one of its assets when `asset` is given."""
    if asset is None:
        return Response(
            _PAGE, media_type="text/html; charset=utf-8", headers={"cache-control": _REVALIDATE}
        )
    found = _ASSETS[asset]
    cache = _IMMUTABLE if v == found.version else _REVALIDATE
    return Response(found.body, media_type=found.media_type, headers={"cache-control": cache})
