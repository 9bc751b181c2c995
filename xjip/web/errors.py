"""One error envelope for the JSON API, friendly pages for the browser.

Every API error body is `{"error": {"code", "message_zh", "message_en", "detail"}}`; `code` is stable
(its message is `web.error.<code>` in the catalogue). Pages get the same message in the page language.
"""
from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from xjip.hub.queries import BadFilter, BadPageToken
from xjip.i18n import both, t

log = logging.getLogger(__name__)

STATUS_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
                409: "conflict", 413: "too_large", 422: "validation", 429: "rate_limited", 500: "internal",
                503: "unavailable"}


class ApiError(Exception):
    """Raised by routes and dependencies; rendered as the envelope (API) or an error page (HTML)."""

    def __init__(self, status: int, code: str | None = None, detail: Any = None, *, message_id: str | None = None,
                 **params: Any):
        self.status = status
        self.code = code or STATUS_CODES.get(status, "error")
        self.detail = detail
        self.message_id = message_id or f"web.error.{self.code}"
        self.params = params
        super().__init__(f"{status} {self.code}")

    def messages(self) -> tuple[str, str]:
        return both(self.message_id, **self.params)


def envelope(error: ApiError) -> dict[str, Any]:
    zh, en = error.messages()
    return {"error": {"code": error.code, "message_zh": zh, "message_en": en, "detail": error.detail}}


def wants_json(request: Request) -> bool:
    if request.url.path.startswith("/api/") or request.url.path == "/openapi.json":
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def error_response(request: Request, error: ApiError) -> Response:
    headers = {"Cache-Control": "no-store"}
    if wants_json(request):
        return JSONResponse(envelope(error), status_code=error.status, headers=headers)
    if error.status == 401 and request.method == "GET":
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
    renderer = getattr(request.app.state, "render", None)
    if renderer is None:  # pragma: no cover - the app always installs one
        return JSONResponse(envelope(error), status_code=error.status, headers=headers)
    lang = getattr(request.state, "lang", "zh")
    return renderer(request, "error.html", {"status": error.status, "code": error.code,
                                            "message": t(error.message_id, lang, **error.params),
                                            "detail": error.detail}, status=error.status, headers=headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> Response:
        return error_response(request, exc)

    from xjip.web.middleware import NulCharacter

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 413:
            limit_mb = getattr(exc, "limit_mb", request.app.state.settings.max_upload_mb)
            upload = getattr(exc, "upload", True)
            return error_response(request, ApiError(413, message_id="import.error.too_large" if upload else None,
                                                    detail={"limit_bytes": limit_mb << 20}, limit_mb=limit_mb))
        if isinstance(exc, NulCharacter):
            return error_response(request, nul_error())
        detail = exc.detail if isinstance(exc.detail, (dict, list)) else None
        return error_response(request, ApiError(exc.status_code, detail=detail))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        detail = [{"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")} for e in exc.errors()]
        return error_response(request, ApiError(422, detail=detail))

    @app.exception_handler(BadFilter)
    async def _bad_filter(request: Request, exc: BadFilter) -> Response:
        return error_response(request, bad_filter(exc))

    @app.exception_handler(BadPageToken)
    async def _bad_page_token(request: Request, exc: BadPageToken) -> Response:
        return error_response(request, ApiError(400, "bad_page_token"))

    @app.exception_handler(ClientDisconnect)
    async def _client_gone(request: Request, exc: ClientDisconnect) -> Response:
        # The browser left mid-body (a tab closed during an upload or a preview): nobody is there to
        # read an answer, and it is not our failure, so no error is logged.
        log.info("client left during %s %s", request.method, request.url.path)
        return Response(status_code=499)

    @app.exception_handler(Exception)
    async def _unhandled(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        error = ApiError(500)
        if wants_json(request):
            response: Response = JSONResponse(envelope(error), status_code=500)
        else:
            try:
                response = error_response(request, error)
            except Exception:  # noqa: BLE001 - the error page itself failed: plain text is all that is left
                zh, en = error.messages()
                response = Response(f"{zh}\n{en}\n", status_code=500, media_type="text/plain; charset=utf-8")
        # Starlette re-raises the error after this response, and the server then drops the
        # connection: say so, or a keep-alive client sends its next request into a reset.
        response.headers["Connection"] = "close"
        response.headers["Cache-Control"] = "no-store"
        return response


def nul_error() -> ApiError:
    return ApiError(400, "nul_character", message_id="security.error.nul_character")


def bad_filter(exc: BadFilter) -> ApiError:
    """A filter value no record can have (year 0000…), named in both languages."""
    return ApiError(400, "bad_filter", {"field": exc.field, "value": exc.shown},
                    message_id=bad_filter_message(exc.field), value=exc.shown)


def bad_filter_message(field_name: str) -> str:
    # a region code that names no region: pages.* (the place filters), the year: security.*
    return f"pages.error.unknown_{field_name}" if field_name in ("prefecture", "county") else \
        f"security.error.bad_{field_name}"
