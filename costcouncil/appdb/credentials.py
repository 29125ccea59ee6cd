"""Passwords (argon2id) and API tokens (a public prefix and a secret stored only as a hash).

A token reads ``cc_<prefix>_<secret>``: the prefix finds the row, the secret is compared with
its SHA-256 in constant time. The secret has 256 bits of randomness, so a fast hash is right for
it (a slow one protects guessable passwords, not random keys); the token is shown once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_HASHER = PasswordHasher()
TOKEN_PREFIX = "cc_"


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """True when ``password`` matches; a missing hash never matches (but costs the same time)."""
    try:
        return _HASHER.verify(stored or _DUMMY, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    return _HASHER.check_needs_rehash(stored)


def new_token() -> tuple[str, str, str]:
    """(the token to show once, its prefix, the hash to store)."""
    prefix, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    return f"{TOKEN_PREFIX}{prefix}_{secret}", prefix, _digest(secret)


def split_token(token: str) -> tuple[str, str] | None:
    """(prefix, secret) of a well-formed token, else None."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    prefix, sep, secret = token[len(TOKEN_PREFIX) :].partition("_")
    return (prefix, secret) if sep and prefix and secret else None


def secret_matches(stored_hash: str, secret: str) -> bool:
    return hmac.compare_digest(stored_hash, _digest(secret))


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


_DUMMY = _HASHER.hash("not a password of anyone")
