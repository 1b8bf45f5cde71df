"""Signed bearer tokens: ``base64url(claims JSON) "." base64url(HMAC-SHA256)``.

Why HMAC and not a JWT library: one server signs and checks its own tokens; a fixed
claim set (``sub``, ``role``, ``exp`` in ms) and one algorithm leave nothing to
negotiate and nothing to downgrade. The secret comes from FAIRLOT_SECRET, else a random
one kept in the data folder (so tokens survive restarts of a dev server).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from engine.draw_service import API_KEY_PREFIX

ROLES = ("viewer", "bidder", "host", "admin")


#: Host API keys (``POST /apikeys``) never expire; revoking one ends it.
API_KEY_NEVER_EXPIRES = 2**53 - 1


class AuthError(Exception):
    """A token is missing, malformed, tampered with, expired, or lacks the role."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Identity:
    user_id: str
    role: str
    expires_ms: int

    def can(self, role: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenSigner:
    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("token secret must be at least 16 bytes")
        self._secret = secret

    @classmethod
    def from_env(cls, data_dir: Path) -> TokenSigner:
        env = os.environ.get("FAIRLOT_SECRET")
        if env:
            return cls(env.encode())
        path = data_dir / "secret"
        if not path.exists():
            data_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_hex(32))
            path.chmod(0o600)
        return cls(path.read_text().strip().encode())

    def mint(self, user_id: str, role: str, expires_ms: int) -> str:
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}")
        body = _b64(
            orjson.dumps({"sub": user_id, "role": role, "exp": expires_ms}, option=orjson.OPT_SORT_KEYS)
        )
        mac = hmac.digest(self._secret, body.encode(), hashlib.sha256)
        return f"{body}.{_b64(mac)}"

    def check(self, token: str, now_ms: int) -> Identity:
        body, dot, mac = token.partition(".")
        if not dot or not body or not mac:
            raise AuthError("invalid_token", "token is malformed")
        expected = hmac.digest(self._secret, body.encode(), hashlib.sha256)
        try:
            given = _unb64(mac)
            claims = orjson.loads(_unb64(body))
        except (ValueError, orjson.JSONDecodeError):
            raise AuthError("invalid_token", "token is malformed") from None
        if not hmac.compare_digest(expected, given):
            raise AuthError("invalid_token", "token signature does not match")
        if not isinstance(claims, dict):
            raise AuthError("invalid_token", "token claims are malformed")
        sub, role, exp = claims.get("sub"), claims.get("role"), claims.get("exp")
        if not isinstance(sub, str) or role not in ROLES or type(exp) is not int:
            raise AuthError("invalid_token", "token claims are malformed")
        if exp <= now_ms:
            raise AuthError("token_expired", "token has expired")
        return Identity(sub, str(role), exp)


def identity_of(state: Any, token: str) -> Identity:
    """A signed token's identity, or a host API key's (``POST /apikeys``): the one check
    REST (``Authorization``/``X-API-Key``) and the WebSocket ``hello`` share."""
    if token.startswith(API_KEY_PREFIX):
        registry = getattr(state, "registry", None)
        row = registry.draws.api_key(token) if registry is not None else None
        if row is None:
            raise AuthError("invalid_token", "unknown or revoked API key")
        return Identity(row.user_id, row.role, API_KEY_NEVER_EXPIRES)
    identity: Identity = state.signer.check(token, state.clock.now())
    return identity
