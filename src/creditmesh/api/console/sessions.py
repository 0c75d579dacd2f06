"""Signing in to the console with an API key: the session cookie, the CSRF tokens, who may see what.

An operator or partner signs in once with the key the service gave it (``creditmesh keys create``); the key is
checked by :func:`creditmesh.api.deps.resolve_principal` (the one place a key becomes a principal) and never kept.
The browser gets a random session token in a cookie that scripts cannot read (``HttpOnly``), sent only to this
site's console (``SameSite=Strict``, ``Path=/console``) and only over HTTPS when the console is served over HTTPS
(``Secure``). The database keeps the token's SHA-256 only, as a ``console_sign_in`` row of ``actors`` (who did what,
with which key); signing out adds a ``console_sign_out`` row, so a copied cookie is dead in every worker at once. A
session lasts :data:`SESSION_SECONDS` at most, and ends earlier when its key is revoked.

Every form carries a CSRF token (htmx sends it as the ``X-CSRF-Token`` header): an HMAC of the session token under
the console's secret, so a page from another site cannot post as the signed-in operator. The sign-in form has one
too, tied to a pre-session cookie (a site cannot sign a browser in under its own key). The secret is derived from
the service's identifier key, which every worker shares, so any worker checks any token.

Who sees what: ``operator`` keys see every page; ``partner`` keys only their own institution's partner page (another
institution's is "not found", as on the API); other roles cannot sign in.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from urllib.parse import parse_qsl

import sqlalchemy as sa
from fastapi import Request

from creditmesh.api.deps import resolve_principal
from creditmesh.api.keys import Principal
from creditmesh.api.middleware import TokenBuckets
from creditmesh.api.tables import actors, api_keys

#: The session cookie and the pre-session cookie (the sign-in form's CSRF anchor).
SESSION_COOKIE = "cm_console"
PRESESSION_COOKIE = "cm_console_pre"
COOKIE_PATH = "/console"
#: The longest a session lasts, signed out or not.
SESSION_SECONDS = 8 * 3600
#: How long a worker trusts a session it has checked (a sign-out in another worker takes this long to reach it).
CACHE_SECONDS = 2.0
MAX_SESSIONS_CACHED = 10_000
#: Rows of ``actors`` that open and close a session.
SIGN_IN, SIGN_OUT = "console_sign_in", "console_sign_out"
#: Roles that may sign in to the console.
CONSOLE_ROLES = ("operator", "partner")
#: The form field and the header that carry the CSRF token.
CSRF_FIELD, CSRF_HEADER = "csrf_token", "x-csrf-token"
#: The most fields a console form may post (a limit on everything).
MAX_FORM_FIELDS = 20


class ConsoleRefusal(Exception):
    """A console request refused: rendered as a page (or a redirect to sign in) by the console's handler."""

    def __init__(self, status: int, message: str, *, sign_in: bool = False) -> None:
        super().__init__(message)
        self.status, self.message, self.sign_in = status, message, sign_in


@dataclass(frozen=True, slots=True)
class Session:
    """A signed-in browser: who (the key's principal) and the CSRF token its forms carry."""

    principal: Principal
    token_sha256: str
    csrf_token: str

    @property
    def is_operator(self) -> bool:
        return self.principal.role == "operator"

    def may_see_institution(self, institution_id: str) -> bool:
        return self.is_operator or self.principal.institution_id == institution_id


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def console_secret(identifier_key: str) -> bytes:
    """The key of the console's CSRF tokens, derived from the service's identifier key (the same in every worker)."""
    return hmac.new(identifier_key.encode(), b"creditmesh console csrf v1", hashlib.sha256).digest()


def csrf_token(secret: bytes, anchor: str, purpose: str = "session") -> str:
    """The CSRF token tied to ``anchor`` (the session token, or the pre-session cookie's value)."""
    return hmac.new(secret, f"{purpose}:{anchor}".encode(), hashlib.sha256).hexdigest()[:40]


def form_fields(body: bytes) -> dict[str, str]:
    """A URL-encoded form's fields (the last value of a repeated one); at most :data:`MAX_FORM_FIELDS`."""
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
    except (UnicodeDecodeError, ValueError):
        raise ConsoleRefusal(400, "the form could not be read") from None
    return dict(pairs)


class Sessions:
    """The console's sessions over the service's database, checked sessions cached for :data:`CACHE_SECONDS`."""

    def __init__(self, engine: sa.Engine, secret: bytes, *, auth_failures_per_minute: float) -> None:
        self.engine = engine
        self.secret = secret
        self.failures = TokenBuckets(auth_failures_per_minute / 60, 2 * auth_failures_per_minute)
        self._known: dict[str, tuple[float, Principal | None]] = {}
        self._lock = threading.Lock()

    # -- signing in and out --------------------------------------------------------------------------

    def sign_in(self, state, address: str, presented: str) -> tuple[str, Principal]:
        """Check a presented key and open a session; the new session token and the principal.

        A wrong key, or too many wrong keys from one address, is refused without saying which keys exist."""
        if self.failures.wait(address):
            raise ConsoleRefusal(429, "too many wrong keys from this address; wait a minute and try again")
        try:
            principal = resolve_principal(state, presented.strip())
        except sa.exc.SQLAlchemyError:
            raise ConsoleRefusal(503, "the key cannot be checked now; try again shortly") from None
        if principal is None:
            self.failures.take(address)
            raise ConsoleRefusal(401, "that key is not known, or it was revoked")
        if principal.role not in CONSOLE_ROLES:
            raise ConsoleRefusal(
                403, f"a {principal.role} key cannot sign in to the console (operator or partner)"
            )
        token = secrets.token_urlsafe(32)
        with self.engine.begin() as connection:
            connection.execute(
                actors.insert().values(
                    kind=SIGN_IN,
                    object_id=_sha256(token),
                    tenant=principal.owner,
                    key_id=principal.key_id,
                    at_ns=time.time_ns(),
                )
            )
        return token, principal

    def sign_out(self, session: Session) -> None:
        """End a session in every worker (a second sign-out changes nothing)."""
        with self.engine.begin() as connection:
            done = connection.execute(
                sa.select(actors.c.object_id).where(
                    actors.c.kind == SIGN_OUT, actors.c.object_id == session.token_sha256
                )
            ).first()
            if done is None:
                connection.execute(
                    actors.insert().values(
                        kind=SIGN_OUT,
                        object_id=session.token_sha256,
                        tenant=session.principal.owner,
                        key_id=session.principal.key_id,
                        at_ns=time.time_ns(),
                    )
                )
        with self._lock:
            self._known.pop(session.token_sha256, None)

    # -- every request --------------------------------------------------------------------------------

    def _principal(self, digest: str) -> Principal | None:
        """The principal of an open session (signed in, not out, not expired, its key not revoked), or None."""
        now = time.monotonic()
        hit = self._known.get(digest)
        if hit is not None and now - hit[0] < CACHE_SECONDS:
            return hit[1]
        oldest = time.time_ns() - SESSION_SECONDS * 1_000_000_000
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.select(actors.c.kind, actors.c.key_id, actors.c.at_ns).where(
                    actors.c.kind.in_((SIGN_IN, SIGN_OUT)), actors.c.object_id == digest
                )
            ).all()
            opened = [r for r in rows if r.kind == SIGN_IN and r.at_ns >= oldest]
            principal = None
            if opened and not any(r.kind == SIGN_OUT for r in rows):
                key = connection.execute(
                    sa.select(api_keys).where(
                        api_keys.c.key_id == opened[0].key_id, api_keys.c.revoked_at_ns.is_(None)
                    )
                ).first()
                if key is not None and key.role in CONSOLE_ROLES:
                    principal = Principal(key.key_id, key.role, key.owner, key.institution_id)
        with self._lock:
            if len(self._known) >= MAX_SESSIONS_CACHED:
                self._known.clear()
            self._known[digest] = (now, principal)
        return principal

    def session(self, request: Request) -> Session | None:
        """The request's session, or None when it has no open one."""
        token = request.cookies.get(SESSION_COOKIE, "")
        if not 20 <= len(token) <= 128:
            return None
        digest = _sha256(token)
        principal = self._principal(digest)
        if principal is None:
            return None
        return Session(principal, digest, csrf_token(self.secret, token))

    def check_csrf(self, request: Request, session: Session, fields: dict[str, str]) -> None:
        """Refuse a form posted without this session's CSRF token (in the form, or htmx's header)."""
        given = fields.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or ""
        if not hmac.compare_digest(given.encode(), session.csrf_token.encode()):
            raise ConsoleRefusal(
                403, "the form's security token is missing or stale; reload the page and try again"
            )

    def presession_token(self, anchor: str) -> str:
        return csrf_token(self.secret, anchor, "sign-in")

    def check_sign_in_csrf(self, request: Request, fields: dict[str, str]) -> None:
        anchor = request.cookies.get(PRESESSION_COOKIE, "")
        given = fields.get(CSRF_FIELD, "")
        if not anchor or not hmac.compare_digest(given.encode(), self.presession_token(anchor).encode()):
            raise ConsoleRefusal(
                403, "the sign-in form's security token is missing or stale; reload the page"
            )


def cookie_options(request: Request) -> dict:
    """The session cookie's flags: HttpOnly, SameSite=Strict, the console's path, Secure over HTTPS."""
    return {
        "httponly": True,
        "samesite": "strict",
        "path": COOKIE_PATH,
        "secure": request.url.scheme == "https",
    }
