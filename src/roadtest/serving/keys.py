"""API keys: how a key becomes the digest stored in settings, and how to make a new one.

Keys are long random tokens, so a plain SHA-256 digest is enough to keep them
out of configuration files without a slow password hash: nobody can guess a
256-bit token from its digest. ``python -m roadtest.serving`` prints a new key
(give it to the client) and its digest (put it in ``ROADTEST_API_KEY_HASHES``).
"""

from __future__ import annotations

import hashlib
import secrets


def hash_api_key(key: str) -> str:
    """The SHA-256 hex digest settings store in place of ``key``."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_api_key() -> str:
    """A fresh random key (43 URL-safe characters, 256 bits)."""
    return secrets.token_urlsafe(32)
