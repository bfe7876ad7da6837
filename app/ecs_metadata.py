"""The image this container runs, as ECS reports it: the blue/green smoke hook's proof that it
is talking to the new revision (`GET /health` -> `image`).

ECS injects `ECS_CONTAINER_METADATA_URI_V4` into every container of a Fargate task (platform
1.4.0+); `GET ${ECS_CONTAINER_METADATA_URI_V4}` returns this container's metadata, whose
`Image` is the image of its container definition (AWS docs: "Amazon ECS task metadata
endpoint version 4 for tasks on Fargate", task-metadata-endpoint-v4-fargate.html, the
container metadata response: `DockerId`, `Name`, `DockerName`, `Image`, `ImageID`, ...).
Outside ECS the variable is unset and the image is unknown (None).

Read once at start-up, in a thread, with a short bound: an endpoint that does not answer
costs the start-up at most TIMEOUT_S and leaves the image unknown, never a failed start.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

import httpx

__all__ = ["METADATA_URI_VARIABLE", "TIMEOUT_S", "container_image"]

METADATA_URI_VARIABLE = "ECS_CONTAINER_METADATA_URI_V4"
TIMEOUT_S = 2.0

_log = logging.getLogger("qa.app")


def container_image(
    environ: Mapping[str, str] | None = None, timeout_s: float = TIMEOUT_S
) -> str | None:
    """`Image` of this container's task metadata, or None off ECS or when it cannot be read."""
    uri = (os.environ if environ is None else environ).get(METADATA_URI_VARIABLE)
    if not uri:
        return None
    try:
        response = httpx.get(uri, timeout=timeout_s)
        response.raise_for_status()
        image = response.json().get("Image")
    except (httpx.HTTPError, ValueError, AttributeError) as exc:
        # The URI is link-local and holds no secret, but the log names only the failure.
        _log.warning(
            "ECS task metadata unreadable; /health reports no image",
            extra={"fields": {"error": type(exc).__name__}},
        )
        return None
    return image if isinstance(image, str) and image else None
