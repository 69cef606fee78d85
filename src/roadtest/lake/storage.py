"""Where the lake's bytes live: a local folder or an S3 bucket prefix.

Delta tables reach the storage through ``deltalake`` with a table URI and
storage options; raw files (exact bytes as received) go through a ``BlobStore``.
Both are derived from one ``LakeLocation`` so that the same lake URI always
means the same place for tables and blobs.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol
from urllib.parse import urlparse

import pyarrow.fs as pafs

S3_SINGLE_WRITER_OPTIONS: dict[str, str] = {"AWS_S3_ALLOW_UNSAFE_RENAME": "true"}
"""delta-rs refuses S3 commits without a locking provider unless told that only
one writer exists; ingestion is a single writer per lake, so this is safe."""


class BlobStore(Protocol):
    """Whole-object storage for raw files, addressed by keys relative to the lake root."""

    def exists(self, key: str) -> bool:
        """Whether an object with this key is stored."""

    def put_bytes(self, key: str, data: bytes) -> None:
        """Store ``data`` under ``key`` so that readers never see a partial object."""

    def get_bytes(self, key: str) -> bytes:
        """The stored bytes of ``key``."""


@dataclass(frozen=True)
class LocalBlobStore:
    """Blobs as files under a folder; writes go through a temporary file and a rename."""

    root: Path

    def exists(self, key: str) -> bool:
        """Whether the file exists."""
        return (self.root / key).is_file()

    def put_bytes(self, key: str, data: bytes) -> None:
        """Write next to the target then rename, so a killed process leaves no half file."""
        target = self.root / key
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp_name, target)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise

    def get_bytes(self, key: str) -> bytes:
        """Read the whole file."""
        return (self.root / key).read_bytes()


@dataclass(frozen=True)
class S3BlobStore:
    """Blobs as S3 objects under ``bucket/prefix``; an S3 PUT is atomic by itself."""

    filesystem: pafs.FileSystem
    base: str  # "bucket/prefix", no trailing slash

    def _path(self, key: str) -> str:
        return f"{self.base}/{key}"

    def exists(self, key: str) -> bool:
        """Whether the object exists."""
        return self.filesystem.get_file_info(self._path(key)).type == pafs.FileType.File

    def put_bytes(self, key: str, data: bytes) -> None:
        """Upload the object in one stream."""
        with self.filesystem.open_output_stream(self._path(key)) as stream:
            stream.write(data)

    def get_bytes(self, key: str) -> bytes:
        """Download the object."""
        with self.filesystem.open_input_stream(self._path(key)) as stream:
            data: bytes = stream.read()
        return data


@dataclass(frozen=True)
class LakeLocation:
    """A parsed lake URI: its root for Delta tables, its storage options and its blob store."""

    root_uri: str
    storage_options: dict[str, str] = field(default_factory=dict)
    is_s3: bool = False

    def child_uri(self, relative: str) -> str:
        """URI of a path below the lake root, in the form deltalake expects."""
        return f"{self.root_uri}/{relative}"

    def blob_store(self) -> BlobStore:
        """A blob store rooted at the same place as the tables."""
        if not self.is_s3:
            return LocalBlobStore(Path(self.root_uri))
        parsed = urlparse(self.root_uri)
        base = f"{parsed.netloc}{parsed.path}".rstrip("/")
        return S3BlobStore(s3_filesystem(self.storage_options), base)


def parse_lake_uri(uri: str, storage_options: Mapping[str, str] | None = None) -> LakeLocation:
    """Understand a lake URI: ``s3://bucket/prefix`` or a local folder (created if missing)."""
    if uri.startswith("s3://"):
        parsed = urlparse(uri)
        if not parsed.netloc:
            raise ValueError(f"The lake URI {uri!r} names no bucket; expected s3://bucket/prefix.")
        options = {**S3_SINGLE_WRITER_OPTIONS, **(storage_options or {})}
        return LakeLocation(uri.rstrip("/"), options, is_s3=True)
    if "://" in uri and not uri.startswith("file://"):
        raise ValueError(
            f"The lake URI {uri!r} is neither a folder nor s3://bucket/prefix; "
            "other storage is not supported."
        )
    folder = Path(uri.removeprefix("file://")).expanduser().resolve()
    folder.mkdir(parents=True, exist_ok=True)
    return LakeLocation(str(folder), dict(storage_options or {}), is_s3=False)


def s3_filesystem(options: Mapping[str, str]) -> pafs.S3FileSystem:
    """A pyarrow S3 client configured from the same options deltalake receives."""
    endpoint = options.get("AWS_ENDPOINT_URL")
    scheme = None
    endpoint_override = None
    if endpoint:
        parsed = urlparse(endpoint)
        scheme = parsed.scheme or "https"
        endpoint_override = parsed.netloc or parsed.path
    return pafs.S3FileSystem(
        access_key=options.get("AWS_ACCESS_KEY_ID"),
        secret_key=options.get("AWS_SECRET_ACCESS_KEY"),
        session_token=options.get("AWS_SESSION_TOKEN"),
        region=options.get("AWS_REGION", "us-east-1"),
        scheme=scheme,
        endpoint_override=endpoint_override,
    )
