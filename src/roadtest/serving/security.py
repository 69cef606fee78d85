"""Who may call what: API keys checked against the digests in settings.

Two kinds of key exist. A *write* key may do everything: ingest exports,
promote models, start training runs, and read. A *read* key may only read.
Reads need no key unless ``api_read_auth`` is set, so a plant dashboard on a
closed network works without one. A request without a key where one is
needed gets 401; a read key on a write endpoint gets 403; neither the key nor
its digest ever appears in a response or a log line.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from enum import StrEnum

from roadtest.serving.errors import ApiError
from roadtest.serving.keys import hash_api_key

API_KEY_HEADER = "X-API-Key"


class Access(StrEnum):
    """What an endpoint needs."""

    READ = "read"
    WRITE = "write"


def _matches_any(digest: str, digests: Iterable[str]) -> bool:
    """Compare ``digest`` with every configured one in constant time, without stopping early."""
    found = False
    for candidate in digests:
        found |= hmac.compare_digest(digest.encode(), candidate.encode())
    return found


class KeyChecker:
    """Decides whether a presented key grants the access an endpoint needs."""

    def __init__(
        self, write_digests: Iterable[str], read_digests: Iterable[str], *, read_auth: bool
    ) -> None:
        self._write = tuple(write_digests)
        self._read = tuple(read_digests)
        self._read_auth = read_auth

    def role_of(self, key: str) -> Access | None:
        """The access ``key`` grants, or None for an unknown key."""
        digest = hash_api_key(key)
        is_write = _matches_any(digest, self._write)
        is_read = _matches_any(digest, self._read)
        if is_write:
            return Access.WRITE
        return Access.READ if is_read else None

    def authorize(self, key: str | None, needed: Access) -> None:
        """Return when the call may proceed; raise a 401/403 ``ApiError`` otherwise."""
        if needed is Access.READ and not self._read_auth:
            return
        if not key:
            raise ApiError(
                401,
                f"This endpoint needs an API key: send it in the {API_KEY_HEADER} header.",
                headers={"WWW-Authenticate": "ApiKey"},
            )
        role = self.role_of(key)
        if role is None:
            raise ApiError(
                401,
                "The API key was not recognised; ask the platform team for a valid key.",
                headers={"WWW-Authenticate": "ApiKey"},
            )
        if needed is Access.WRITE and role is not Access.WRITE:
            raise ApiError(
                403,
                "This API key may only read; ingesting, promoting and training need a write key.",
            )
