"""API keys: created, listed, revoked and checked; stored as a SHA-256 of their secret, never in plain text.

A key reads ``cm_<key_id>_<secret>``: the id finds the row, the secret's hash is compared in constant
time. Each key has a role (:data:`~creditmesh.api.tables.ROLES`) and an owner (the tenant whose objects
it sees); a ``partner`` key is bound to one institution. ``creditmesh keys create|list|revoke`` and the
service call these functions; the caller owns the transaction.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from dataclasses import dataclass

import sqlalchemy as sa

from creditmesh.api.errors import NotFound
from creditmesh.api.tables import ROLES, TENANT, api_keys
from creditmesh.errors import CreditmeshError

PREFIX = "cm_"
#: How long a worker trusts a key it has checked before reading it again (a revocation takes this long).
CACHE_SECONDS = 2.0
#: A limit on everything: the most keys one listing shows, and the most a worker caches.
MAX_KEYS_LISTED = 1_000
MAX_KEYS_CACHED = 10_000
_OWNER = re.compile(rf"^[A-Za-z0-9_.@-]{{1,{TENANT}}}$")
_KEY = re.compile(r"^cm_([0-9a-f]{16})_([A-Za-z0-9_-]{20,64})$")


class ApiKeyError(CreditmeshError):
    """A key that cannot be created or revoked as asked."""


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the key's id, role, owner (tenant) and, for a partner, its institution."""

    key_id: str
    role: str
    owner: str
    institution_id: str | None = None


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_key(
    connection: sa.Connection, *, role: str, owner: str, institution_id: str | None = None
) -> tuple[Principal, str]:
    """A new key; returns its principal and the key itself, which is shown this once and never stored."""
    if role not in ROLES:
        raise ApiKeyError("role", f"must be one of {', '.join(ROLES)}, got {role!r}")
    if not _OWNER.match(owner or ""):
        raise ApiKeyError("owner", f"1 to {TENANT} letters, digits or _.@-")
    if (role == "partner") != bool(institution_id):
        raise ApiKeyError("institution_id", "a partner key names its institution; other roles name none")
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    connection.execute(
        api_keys.insert().values(
            key_id=key_id,
            secret_sha256=_digest(secret),
            role=role,
            owner=owner,
            institution_id=institution_id,
            created_at_ns=time.time_ns(),
        )
    )
    return Principal(key_id, role, owner, institution_id), f"{PREFIX}{key_id}_{secret}"


def list_keys(connection: sa.Connection, *, include_revoked: bool = False) -> list[dict]:
    """The keys (never their secrets), oldest first."""
    query = sa.select(
        api_keys.c.key_id,
        api_keys.c.role,
        api_keys.c.owner,
        api_keys.c.institution_id,
        api_keys.c.created_at_ns,
        api_keys.c.revoked_at_ns,
    )
    if not include_revoked:
        query = query.where(api_keys.c.revoked_at_ns.is_(None))
    rows = connection.execute(query.order_by(api_keys.c.created_at_ns).limit(MAX_KEYS_LISTED))
    return [dict(r._mapping) for r in rows]


def revoke_key(connection: sa.Connection, key_id: str) -> None:
    """Revoke a key from now on; revoking a revoked key again changes nothing."""
    found = connection.execute(sa.select(api_keys.c.key_id).where(api_keys.c.key_id == key_id)).first()
    if found is None:
        raise NotFound("key_id", f"no key {key_id!r}")
    connection.execute(
        api_keys.update()
        .where(api_keys.c.key_id == key_id, api_keys.c.revoked_at_ns.is_(None))
        .values(revoked_at_ns=time.time_ns())
    )


def authenticate(connection: sa.Connection, presented: str) -> Principal | None:
    """The principal of a presented key, or None when it is malformed, unknown, revoked or wrong."""
    match = _KEY.match(presented or "")
    if match is None:
        return None
    key_id, secret = match.groups()
    row = connection.execute(
        sa.select(api_keys).where(api_keys.c.key_id == key_id, api_keys.c.revoked_at_ns.is_(None))
    ).first()
    if row is None or not hmac.compare_digest(row.secret_sha256, _digest(secret)):
        return None
    return Principal(row.key_id, row.role, row.owner, row.institution_id)


class KeyCache:
    """A worker's recently checked keys (by the presented key's hash), trusted for :data:`CACHE_SECONDS`."""

    def __init__(self, engine: sa.Engine, *, seconds: float = CACHE_SECONDS) -> None:
        self.engine = engine
        self.seconds = seconds
        self._known: dict[str, tuple[float, Principal | None]] = {}
        self._lock = threading.Lock()

    def recent(self, presented: str) -> tuple[Principal | None] | None:
        """``(principal,)`` when this key was checked less than :attr:`seconds` ago (``(None,)`` when it was
        found unknown), else None: :meth:`principal` must read it. Never touches the database."""
        hit = self._known.get(_digest(presented))
        if hit is not None and time.monotonic() - hit[0] < self.seconds:
            return (hit[1],)
        return None

    def principal(self, presented: str) -> Principal | None:
        """The key's principal (None when unknown): from the cache, else read from the database."""
        known = self.recent(presented)
        if known is not None:
            return known[0]
        now = time.monotonic()
        with self.engine.connect() as connection:
            principal = authenticate(connection, presented)
        with self._lock:
            if len(self._known) >= MAX_KEYS_CACHED:
                self._known.clear()
            self._known[_digest(presented)] = (now, principal)
        return principal
