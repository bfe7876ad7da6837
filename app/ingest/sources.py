"""Where documents come from: local files, local folders (recursively) and `s3://bucket/prefix`.

Every source is listed before anything is stored, so a mistyped path or bucket stops the
run with one sentence (`SourceError`) and changes nothing.

A document's name is its path relative to the folder or prefix given (a single file: its
file name). Names are what answers cite and what the `documents` filter matches, so two
files with the same name in one run are refused (`SourceError` naming both). A document's
identity is its source URI (`file:///abs/path`, `s3://bucket/key`): ingesting a parent folder
later renames the same points instead of doubling them, and a file listed twice in one run
is read once (the first listing names it).

Each folder or prefix given is a root: documents stored from under it that a run no longer
finds there are deleted (a single file is not a root).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from app.errors import SourceError, SourceReadError
from app.ingest.readers import kind_of

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = ["Source", "list_sources"]


@dataclass(frozen=True, slots=True)
class Source:
    name: str  # document name
    origin: str  # what to show in messages: the path or s3:// URL
    read: Callable[[], bytes]
    uri: str = ""  # stable identity: file:///abs/path or s3://bucket/key
    size: int | None = None  # bytes, when the listing tells


@dataclass
class Listing:
    sources: list[Source]
    skipped: int  # files in folders/prefixes whose type we do not read
    roots: list[str] = field(default_factory=list)  # URI prefixes this run mirrors


def list_sources(args: list[str], *, s3: Callable[[], S3Client] | None = None) -> Listing:
    sources: list[Source] = []
    roots: list[str] = []
    skipped = 0
    for arg in args:
        if arg.startswith("s3://"):
            if s3 is None:
                raise SourceError(f"{arg}: S3 sources need AWS access")
            found, skip = _list_s3(arg, s3())
            roots.append("s3://" + "/".join(_split_s3(arg)))
        else:
            found, skip = _list_local(arg)
            if Path(arg).is_dir():
                roots.append(Path(arg).resolve().as_uri().rstrip("/") + "/")
        sources.extend(found)
        skipped += skip
    return Listing(sources=_unique(sources), skipped=skipped, roots=roots)


def _unique(sources: list[Source]) -> list[Source]:
    by_uri: dict[str, Source] = {}
    by_name: dict[str, Source] = {}
    for source in sources:
        if source.uri in by_uri:
            continue
        other = by_name.get(source.name)
        if other is not None:
            raise SourceError(
                f"two files would both be named '{source.name}': {other.origin} and "
                f"{source.origin}; ingest their common parent folder, or one of them per run"
            )
        by_uri[source.uri] = by_name[source.name] = source
    return list(by_uri.values())


def _hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def _list_local(arg: str) -> tuple[list[Source], int]:
    path = Path(arg)
    if path.is_file():
        if kind_of(path.name) is None:
            raise SourceError(
                f"{arg}: unsupported file type '{path.suffix}' (use .pdf, .md, .txt or .html)"
            )
        return [_local(path.name, path)], 0
    if path.is_dir():
        found, skipped = [], 0
        for file in sorted(p for p in path.rglob("*") if p.is_file() and not _hidden(p, path)):
            if kind_of(file.name) is None:
                skipped += 1
                continue
            name = file.relative_to(path).as_posix()
            found.append(_local(name, file))
        return found, skipped
    if path.exists():
        raise SourceError(f"{arg}: not a regular file or folder")
    raise SourceError(f"{arg}: no such file or folder")


def _local(name: str, path: Path) -> Source:
    return Source(
        name=name,
        origin=str(path),
        read=path.read_bytes,
        uri=path.resolve().as_uri(),
        size=path.stat().st_size,
    )


def _split_s3(url: str) -> tuple[str, str]:
    bucket, _, prefix = url.removeprefix("s3://").partition("/")
    if not bucket:
        raise SourceError(f"{url}: expected s3://bucket/prefix")
    return bucket, prefix


def _list_s3(url: str, client: S3Client) -> tuple[list[Source], int]:
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, prefix = _split_s3(url)
    base = prefix.rpartition("/")[0] + "/" if "/" in prefix else ""
    try:
        objects = list(_s3_objects(client, bucket, prefix))
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "error")
        raise SourceError(f"{url}: S3 refused to list it ({code})") from exc
    except BotoCoreError as exc:
        raise SourceError(f"{url}: S3 could not be reached ({exc})") from exc
    found, skipped = [], 0
    for key, size in objects:
        if kind_of(key) is None:
            skipped += 1
            continue
        found.append(
            Source(
                name=key.removeprefix(base),
                origin=f"s3://{bucket}/{key}",
                read=lambda k=key: _s3_read(client, bucket, k),  # type: ignore[misc]
                uri=f"s3://{bucket}/{key}",
                size=size,
            )
        )
    if not found and not skipped:
        raise SourceError(f"{url}: no objects under this prefix")
    return found, skipped


def _s3_objects(client: S3Client, bucket: str, prefix: str) -> Iterator[tuple[str, int]]:
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            key = obj["Key"]
            if not key.endswith("/"):
                yield key, obj.get("Size", 0)


def _s3_read(client: S3Client, bucket: str, key: str) -> bytes:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return client.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "error")
        raise SourceReadError(f"S3 refused to read it ({code})") from exc
    except BotoCoreError as exc:
        raise SourceReadError(f"S3 could not be reached ({exc})") from exc
