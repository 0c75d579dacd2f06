"""The console's pages: thin routes that ask a view module for the page's data and render its template.

Every page needs a signed-in session (else a redirect to the sign-in page); every form post its CSRF token (else a
403 page). Operators see every page; a partner key sees only its institution's partner page (another's is a 404,
as on the API; a page for operators only is a 403). A page asked for by htmx (``HX-Request``) gets only its
fragment. Each answer says how long the server took (``Server-Timing: app;dur=<ms>``).
"""

from __future__ import annotations

import secrets
import time
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.concurrency import run_in_threadpool

from creditmesh.api.console import decisions, partners, reviews, rings
from creditmesh.api.console.sessions import (
    CSRF_FIELD,
    PRESESSION_COOKIE,
    SESSION_COOKIE,
    SESSION_SECONDS,
    ConsoleRefusal,
    Session,
    cookie_options,
    form_fields,
)
from creditmesh.errors import CreditmeshError
from creditmesh.money import format_minor

PREFIX = "/console"
STATIC = Path(__file__).parent / "static"
#: Headers of every console page: no framing, no sniffing, nothing loaded from elsewhere, nothing cached.
SECURITY_HEADERS = {
    "content-security-policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "cache-control": "no-store",
}
#: How often the review queue asks for news (seconds).
QUEUE_POLL_SECONDS = 3
PORTFOLIO_POLL_SECONDS = 2
#: The pages in the navigation, operators' only.
NAVIGATION = (
    ("reviews", "Review queue"),
    ("audit", "Audit log"),
    ("decisions", "Decisions"),
    ("partners", "Partners"),
    ("rings", "Rings"),
    ("portfolio", "Portfolio"),
    ("policies", "Policies"),
)


def _percent(value: Any, digits: int = 2) -> str:
    if value is None or value != value:
        return "n/a"
    return f"{100 * float(value):.{digits}f} %"


def _environment() -> Environment:
    environment = Environment(
        loader=PackageLoader("creditmesh.api.console", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["percent"] = _percent
    environment.filters["money"] = lambda minor: "" if minor is None else format_minor(int(minor))
    return environment


TEMPLATES = _environment()


def _state(request: Request):
    return request.app.state.console


def _started(request: Request) -> float:
    started = time.perf_counter()
    request.state.console_started = started
    return started


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """A page (or, for htmx, a fragment) with the console's headers and its server time."""
    session = getattr(request.state, "console_session", None)
    html = TEMPLATES.get_template(template).render(
        session=session,
        navigation=NAVIGATION,
        path=request.url.path,
        csrf_field=CSRF_FIELD,
        **context,
    )
    response = HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)
    started = getattr(request.state, "console_started", None)
    if started is not None:
        response.headers["server-timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
    return response


def signed_in(request: Request, _: Annotated[float, Depends(_started)]) -> Session:
    """The request's session; without one, a redirect to the sign-in page (then back here)."""
    session = _state(request).sessions.session(request)
    if session is None:
        raise ConsoleRefusal(401, "sign in to continue", sign_in=True)
    request.state.console_session = session
    return session


def operator(session: Annotated[Session, Depends(signed_in)]) -> Session:
    """An operator's session; a partner's is a 403 here."""
    if not session.is_operator:
        raise ConsoleRefusal(403, "this page is for operators; a partner key sees its own institution's page")
    return session


async def posted(request: Request) -> dict[str, str]:
    """The form's fields (URL-encoded, within the service's body limit)."""
    return form_fields(await request.body())


def checked_form(
    request: Request,
    session: Annotated[Session, Depends(signed_in)],
    fields: Annotated[dict, Depends(posted)],
) -> dict[str, str]:
    """A form posted with the session's CSRF token; without it, a 403."""
    _state(request).sessions.check_csrf(request, session, fields)
    return fields


SignedIn = Annotated[Session, Depends(signed_in)]
Operator = Annotated[Session, Depends(operator)]
Form = Annotated[dict, Depends(checked_form)]
ApplicationId = Annotated[str, PathParam(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:-]+$")]

router = APIRouter(prefix=PREFIX, include_in_schema=False)


def _home(session: Session) -> str:
    if session.is_operator:
        return f"{PREFIX}/reviews"
    return f"{PREFIX}/partners/{quote(session.principal.institution_id or '', safe='')}"


def _safe_next(target: str | None) -> str | None:
    """Only a console path (never another site) is a place to go back to after signing in."""
    if target and target.startswith(f"{PREFIX}/") and not target.startswith("//") and "\\" not in target:
        return target
    return None


# -- signing in and out -------------------------------------------------------------------------------


@router.get("")
@router.get("/")
def home(request: Request) -> Response:
    session = _state(request).sessions.session(request)
    return RedirectResponse(_home(session) if session else f"{PREFIX}/sign-in", status_code=303)


def _sign_in_page(request: Request, status: int = 200, message: str | None = None, target: str | None = None):
    anchor = request.cookies.get(PRESESSION_COOKIE) or secrets.token_urlsafe(24)
    response = render(
        request,
        "sign_in.html",
        status,
        csrf_token=_state(request).sessions.presession_token(anchor),
        message=message,
        next=_safe_next(target) or "",
    )
    response.set_cookie(PRESESSION_COOKIE, anchor, max_age=3600, **cookie_options(request))
    return response


@router.get("/sign-in")
def sign_in_form(request: Request, next: Annotated[str | None, Query(max_length=300)] = None) -> Response:
    return _sign_in_page(request, target=next)


@router.post("/sign-in")
def sign_in(request: Request, fields: Annotated[dict, Depends(posted)]) -> Response:
    state = _state(request)
    try:
        state.sessions.check_sign_in_csrf(request, fields)
        client = request.client.host if request.client else "unknown"
        token, principal = state.sessions.sign_in(request.app.state, client, fields.get("api_key", ""))
    except ConsoleRefusal as refusal:
        return _sign_in_page(request, refusal.status, refusal.message, fields.get("next"))
    target = _safe_next(fields.get("next"))
    if principal.role != "operator":
        target = None
    session_home = (
        f"{PREFIX}/reviews"
        if principal.role == "operator"
        else f"{PREFIX}/partners/{quote(principal.institution_id or '', safe='')}"
    )
    response = RedirectResponse(target or session_home, status_code=303, headers=SECURITY_HEADERS)
    response.set_cookie(SESSION_COOKIE, token, max_age=SESSION_SECONDS, **cookie_options(request))
    response.delete_cookie(PRESESSION_COOKIE, path=cookie_options(request)["path"])
    return response


@router.post("/sign-out")
def sign_out(request: Request, session: SignedIn, _: Form) -> Response:
    _state(request).sessions.sign_out(session)
    response = RedirectResponse(f"{PREFIX}/sign-in", status_code=303, headers=SECURITY_HEADERS)
    options = cookie_options(request)
    response.delete_cookie(
        SESSION_COOKIE, path=options["path"], secure=options["secure"], httponly=True, samesite="strict"
    )
    return response


# -- the review queue and the audit log ------------------------------------------------------------------


@router.get("/reviews")
def review_queue(
    request: Request, session: Operator, settled: Annotated[str | None, Query(max_length=128)] = None
):
    platform = request.app.state.platform
    template = "_queue.html" if request.headers.get("hx-request") else "reviews.html"
    return render(
        request,
        template,
        queue=reviews.queue(platform),
        pending=reviews.pending_count(platform),
        settled=settled,
        poll_seconds=QUEUE_POLL_SECONDS,
    )


@router.get("/reviews/{application_id}")
def review(request: Request, session: Operator, application_id: ApplicationId):
    app = request.app.state
    page = reviews.review_page(
        app.platform, _state(request).graphs, app.matcher, app.report_salt, application_id
    )
    if page is None:
        raise ConsoleRefusal(404, f"no review is queued for {application_id}")
    return render(request, "review.html", **page)


@router.post("/reviews/{application_id}")
def settle_review(request: Request, session: Operator, fields: Form, application_id: ApplicationId):
    app = request.app.state
    try:
        reviews.settle(app.platform, session.principal, application_id, fields)
    except CreditmeshError as error:
        page = reviews.review_page(
            app.platform, _state(request).graphs, app.matcher, app.report_salt, application_id
        )
        if page is None:
            raise ConsoleRefusal(404, f"no review is queued for {application_id}") from None
        return render(
            request,
            "review.html",
            422,
            error=f"{error.field}: {error.reason}",
            note=fields.get("note", ""),
            **page,
        )
    return RedirectResponse(
        f"{PREFIX}/reviews?settled={quote(application_id, safe='')}",
        status_code=303,
        headers=SECURITY_HEADERS,
    )


@router.get("/audit")
def audit(request: Request, session: Operator):
    return render(request, "audit.html", entries=reviews.audit_log(request.app.state.platform))


# -- decisions ---------------------------------------------------------------------------------------------


@router.get("/decisions")
def decision_search(request: Request, session: Operator, q: Annotated[str, Query(max_length=128)] = ""):
    platform = request.app.state.platform
    exact = decisions.decision_page(platform, q.strip()) if q.strip() else None
    if exact is not None:
        return RedirectResponse(f"{PREFIX}/decisions/{quote(q.strip(), safe='')}", status_code=303)
    return render(request, "decisions.html", q=q, found=decisions.search(platform, q))


@router.get("/decisions/{application_id}")
def decision(request: Request, session: Operator, application_id: ApplicationId):
    page = decisions.decision_page(request.app.state.platform, application_id)
    if page is None:
        raise ConsoleRefusal(404, f"no decision is stored for {application_id}")
    return render(request, "decision.html", **page)


@router.get("/decisions/{application_id}/replay")
def replay(request: Request, session: Operator, application_id: ApplicationId):
    platform = request.app.state.platform
    page = decisions.decision_page(platform, application_id)
    if page is None:
        raise ConsoleRefusal(404, f"no decision is stored for {application_id}")
    replayed = decisions.replay_page(platform, application_id)
    if request.headers.get("hx-request"):
        return render(request, "_replay.html", replay=replayed, **page)
    return render(request, "decision.html", replay=replayed, **page)


# -- partners ----------------------------------------------------------------------------------------------


@router.get("/partners")
def partner_list(request: Request, session: SignedIn):
    if not session.is_operator:
        return RedirectResponse(_home(session), status_code=303)
    return render(request, "partners.html", **partners.partners_page(request.app.state.platform))


@router.get("/partners/{institution_id}")
def partner(request: Request, session: SignedIn, institution_id: Annotated[str, PathParam(max_length=40)]):
    page = (
        partners.partner_page(request.app.state.platform, institution_id)
        if session.may_see_institution(institution_id)
        else None
    )
    if page is None:  # another partner's page is "not found", as on the API
        raise ConsoleRefusal(404, f"no partner {institution_id} to show")
    return render(request, "partner.html", **page)


# -- rings -------------------------------------------------------------------------------------------------


@router.get("/rings")
def ring_list(request: Request, session: Operator):
    return render(request, "rings.html", **rings.rings_page(_state(request).graphs.latest()))


@router.get("/rings/{ring}")
def ring(request: Request, session: Operator, ring: Annotated[int, PathParam(ge=0, le=10**9)]):
    page = rings.ring_page(request.app.state.platform, _state(request).graphs.latest(), ring)
    if page is None:
        raise ConsoleRefusal(404, f"no ring {ring}")
    return render(request, "ring.html", **page)


# -- the portfolio and the policies ------------------------------------------------------------------------


def _portfolio_context(request: Request) -> dict[str, Any]:
    figures, computing = _state(request).portfolio.current()
    return {
        "figures": figures,
        "computing": computing,
        "computed_at": None
        if figures is None
        else time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(figures.computed_at)),
        "poll_seconds": PORTFOLIO_POLL_SECONDS,
        "source": "the live ledger"
        if _state(request).portfolio.book_path is None
        else str(_state(request).portfolio.book_path),
    }


@router.get("/portfolio")
def portfolio_page(request: Request, session: Operator):
    template = "_portfolio.html" if request.headers.get("hx-request") else "portfolio.html"
    return render(request, template, **_portfolio_context(request))


@router.get("/policies")
def policies(request: Request, session: Operator):
    return render(request, "policies.html", **_state(request).policies.page())


# -- refusals ------------------------------------------------------------------------------------------------


async def _refused(request: Request, refusal: ConsoleRefusal) -> Response:
    if refusal.sign_in:
        target = f"{PREFIX}/sign-in?next={quote(request.url.path, safe='/')}"
        if request.headers.get("hx-request"):
            return Response(status_code=401, headers={"hx-redirect": target})
        return RedirectResponse(target, status_code=303)
    return await run_in_threadpool(
        lambda: render(request, "refused.html", refusal.status, message=refusal.message)
    )


def install(app: FastAPI) -> None:
    """The console's router, its static files and its refusal pages, on ``app``."""
    app.include_router(router)
    app.mount(f"{PREFIX}/static", StaticFiles(directory=STATIC), name="console-static")
    app.add_exception_handler(ConsoleRefusal, _refused)
