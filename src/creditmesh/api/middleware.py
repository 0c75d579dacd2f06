"""The service's request guards, as pure ASGI middleware: cheap refusals first, the body last.

In the order a request meets them (:func:`install` adds them):

1. :class:`ObservedRequests` gives every request an id (``X-Request-ID``, the caller's when it is
   safe, else a new one, echoed either way), times it, writes one JSON access-log line and counts it
   in the metrics, and turns an unexpected error into a bare 500 logged as one JSON line.
2. :class:`GuardedRequests` applies the rate limits and resolves the API key *before a byte of the
   body is read*: a client address over its rate, or one that sent too many wrong keys, gets a 429
   with ``Retry-After``; a missing or unknown key on ``/v1/`` a 401; a key over its rate a 429.
3. :class:`StrictBodies` reads the body within a size limit (413 as soon as it is exceeded, or at
   once from ``Content-Length``) and a time limit (408 for a slow body, or one shorter than it
   said), then parses JSON strictly: non-finite numbers (``NaN``, ``Infinity``, ``1e309``) and
   duplicate keys are a 422 naming the field, before any route sees the body.

The rate limits are token buckets held in this process: with ``--workers N`` a client may get up to
N times each rate (one bucket per worker). A shared store (Redis, PostgreSQL) would make them exact.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
import time
import traceback
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import anyio
from fastapi import FastAPI

from creditmesh.api.deps import plausible_key

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

ACCESS_LOG = logging.getLogger("creditmesh.access")
ERROR_LOG = logging.getLogger("creditmesh.errors")

#: A caller's request id is echoed only when it looks like one.
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
#: Paths whose requests need an API key.
KEYED_PREFIX = "/v1/"
#: The most client addresses or keys whose buckets one worker remembers (least recently seen forgotten).
MAX_BUCKETS = 100_000
#: The most characters of a field path a 422 quotes.
MAX_LOC_CHARS = 64


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


async def answer(send: Send, status: int, detail: Any, headers: tuple[tuple[bytes, bytes], ...] = ()) -> None:
    """Send a JSON ``{"detail": ...}`` answer straight from a guard."""
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _state(scope: Scope) -> dict[str, Any]:
    return scope.setdefault("state", {})


# --------------------------------------------------------------------------------------------------
# 1. request id, access log, metrics, last-resort 500


class ObservedRequests:
    """Request id, one JSON access-log line and the request metrics for every HTTP request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = _header(scope, b"x-request-id")
        request_id = given if given and REQUEST_ID.match(given) else uuid.uuid4().hex
        state = _state(scope)
        state["request_id"] = request_id
        status, started = 500, False
        began = time.perf_counter()

        async def observed_send(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                status, started = message["status"], True
                message["headers"] = [*message.get("headers", ()), (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, observed_send)
        except Exception as error:  # noqa: BLE001 - a bug: logged as one JSON line, answered as a bare 500
            status = 500
            ERROR_LOG.error(
                json.dumps(
                    {
                        "event": "error",
                        "request_id": request_id,
                        "error": type(error).__name__,
                        "traceback": "".join(traceback.format_exception(error))[-4_000:],
                    }
                )
            )
            if not started:
                await answer(
                    observed_send,
                    500,
                    "internal error; quote the request id when you report it",
                    ((b"connection", b"close"),),
                )
        finally:
            elapsed = time.perf_counter() - began
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            principal = state.get("principal")
            method = scope.get("method", "")
            metrics = getattr(scope["app"].state, "metrics", None) if "app" in scope else None
            if metrics is not None:
                metrics.observe_request(method, template, status, elapsed)
            ACCESS_LOG.info(
                json.dumps(
                    {
                        "event": "request",
                        "request_id": request_id,
                        "method": method,
                        "route": template,
                        "status": status,
                        "latency_ms": round(elapsed * 1000, 3),
                        "key_id": principal.key_id if principal is not None else None,
                    }
                )
            )


# --------------------------------------------------------------------------------------------------
# 2. rate limits and the API key, before the body


class TokenBuckets:
    """A token bucket per name (a client address, a key id) in this process: ``rate`` tokens a second
    up to ``burst``. Remembers at most :data:`MAX_BUCKETS` names, forgetting the least recently seen."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.burst = rate, burst
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def _level(self, name: str, now: float) -> float:
        tokens, at = self._buckets.get(name, (self.burst, now))
        return min(self.burst, tokens + (now - at) * self.rate)

    def wait(self, name: str, now: float | None = None) -> float:
        """Seconds until ``name`` has a whole token (0 when it has one now); takes nothing."""
        level = self._level(name, time.monotonic() if now is None else now)
        return 0.0 if level >= 1 else (1 - level) / self.rate

    def take(self, name: str, now: float | None = None) -> float:
        """Take a token for ``name``: 0 when there was one, else the seconds to wait (nothing taken)."""
        now = time.monotonic() if now is None else now
        level = self._level(name, now)
        if level < 1:
            return (1 - level) / self.rate
        self._buckets[name] = (level - 1, now)
        self._buckets.move_to_end(name)
        if len(self._buckets) > MAX_BUCKETS:
            self._buckets.popitem(last=False)
        return 0.0


def _too_many(wait: float, what: str) -> tuple[int, str, tuple[tuple[bytes, bytes], ...]]:
    seconds = max(1, math.ceil(wait))
    return (
        429,
        f"too many requests {what}; retry after {seconds} s",
        ((b"retry-after", str(seconds).encode()),),
    )


#: Key checks read from the database at once in a worker (each on a connection of its own, beside the routes').
KEY_CHECKS = 2


class GuardedRequests:
    """Per-address and per-key rate limits, and the API key resolved before the body is read."""

    def __init__(self, app: ASGIApp, *, per_address: float, per_key: float, auth_failures_per_minute: float):
        self.app = app
        self.addresses = TokenBuckets(per_address, 2 * per_address)
        self.keys = TokenBuckets(per_key, 2 * per_key)
        self.failures = TokenBuckets(auth_failures_per_minute / 60, 2 * auth_failures_per_minute)
        self._key_checks: anyio.CapacityLimiter | None = None  # made on the event loop, at the first check

    async def _principal(self, state: Any, api_key: str | None):
        """The key's principal, never waiting on the database on the event loop: a key checked lately answers
        from the worker's cache; another is read on a thread, at most :data:`KEY_CHECKS` at once (the
        connections the pool keeps beside the routes'), so a slow database holds up only those requests."""
        if not plausible_key(api_key):
            return None
        known = state.keys.recent(api_key)
        if known is not None:
            return known[0]
        if self._key_checks is None:
            self._key_checks = anyio.CapacityLimiter(KEY_CHECKS)
        return await anyio.to_thread.run_sync(state.keys.principal, api_key, limiter=self._key_checks)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(KEYED_PREFIX):
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        address = client[0] if client else "unknown"
        refusal = None
        if wait := self.addresses.take(address):
            refusal = _too_many(wait, "from this address")
        elif wait := self.failures.wait(address):
            refusal = _too_many(wait, "with a missing or unknown API key from this address")
        else:
            try:
                principal = await self._principal(scope["app"].state, _header(scope, b"x-api-key"))
            except Exception:  # noqa: BLE001 - the key store (the database) does not answer: retry later
                await answer(
                    send, 503, "cannot check the API key now; retry shortly", ((b"retry-after", b"1"),)
                )
                return
            if principal is None:
                self.failures.take(address)
                refusal = (
                    401,
                    "missing or unknown API key (X-API-Key header)",
                    ((b"www-authenticate", b"X-API-Key"),),
                )
            else:
                _state(scope)["principal"] = principal
                if wait := self.keys.take(principal.key_id):
                    refusal = _too_many(wait, "for this API key")
        if refusal is None:
            await self.app(scope, receive, send)
            return
        status, detail, headers = refusal
        await answer(send, status, detail, headers)


# --------------------------------------------------------------------------------------------------
# 3. the body: bounded in size and time, strict JSON


class _NonFinite:
    """Where a non-finite number stood in a parsed body."""

    def __init__(self, text: str) -> None:
        self.text = text


class _Duplicate:
    """Where a key stood twice in one JSON object."""


def _number(text: str) -> float | _NonFinite:
    value = float(text)
    return value if math.isfinite(value) else _NonFinite(text)


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        found[key] = _Duplicate() if key in found else value
    return found


def strict_json_problems(body: bytes) -> list[dict[str, Any]]:
    """The strict-JSON problems of a body, as 422 details: non-finite numbers and duplicate keys.

    A body that is not UTF-8 is one (RFC 8259: JSON between systems is UTF-8); a body that is not JSON
    at all has none here (FastAPI answers it with its own 422).
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return [{"loc": ["body"], "msg": "the body is not UTF-8 text", "type": "json_invalid"}]
    try:
        parsed = json.loads(text, parse_constant=_NonFinite, parse_float=_number, object_pairs_hook=_pairs)
    except (ValueError, RecursionError):
        return []
    problems: list[dict[str, Any]] = []
    stack: list[tuple[tuple[Any, ...], Any]] = [((), parsed)]
    while stack and len(problems) < 20:
        loc, value = stack.pop()
        if isinstance(value, _NonFinite):
            problems.append(
                {"loc": ["body", *loc], "msg": "must be a finite number", "type": "finite_number"}
            )
        elif isinstance(value, _Duplicate):
            problems.append(
                {
                    "loc": ["body", *loc],
                    "msg": "a duplicate key: say each field once",
                    "type": "duplicate_key",
                }
            )
        elif isinstance(value, dict):
            stack += [((*loc, str(k)[:MAX_LOC_CHARS]), v) for k, v in value.items()]
        elif isinstance(value, list):
            stack += [((*loc, i), v) for i, v in enumerate(value)]
    return problems


class StrictBodies:
    """The body read whole within ``limit_bytes`` and ``timeout_seconds``, then checked as strict JSON."""

    def __init__(self, app: ASGIApp, *, limit_bytes: int, timeout_seconds: float) -> None:
        self.app = app
        self.limit, self.timeout = limit_bytes, timeout_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        too_large = (413, f"the body is larger than {self.limit} bytes", ((b"connection", b"close"),))
        declared = _header(scope, b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await answer(send, *too_large)
            return
        chunks, size, more = [], 0, True
        deadline = time.monotonic() + self.timeout
        while more:
            try:
                message = await asyncio.wait_for(receive(), max(deadline - time.monotonic(), 0))
            except TimeoutError:
                await answer(
                    send,
                    408,
                    f"the body did not arrive whole within {self.timeout:g} s",
                    ((b"connection", b"close"),),
                )
                return
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await answer(send, *too_large)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        content_type = _header(scope, b"content-type") or "application/json"
        if body and "json" in content_type and (problems := strict_json_problems(body)):
            await answer(send, 422, problems)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


def install(app: FastAPI) -> None:
    """Add the guards to ``app`` under its settings (the last added runs first)."""
    settings = app.state.settings
    app.add_middleware(
        StrictBodies, limit_bytes=settings.body_limit_bytes, timeout_seconds=settings.body_timeout_seconds
    )
    app.add_middleware(
        GuardedRequests,
        per_address=settings.rate_per_address,
        per_key=settings.rate_per_key,
        auth_failures_per_minute=settings.auth_failures_per_minute,
    )
    app.add_middleware(ObservedRequests)
