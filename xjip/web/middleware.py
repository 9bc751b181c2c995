"""Pure ASGI middleware: page language, request-body limits, security headers."""
from __future__ import annotations

import re
from http.cookies import SimpleCookie
from urllib.parse import parse_qs

from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from xjip.i18n import languages

LANG_COOKIE = "xjip_lang"
UPLOAD_PATHS = ("/import", "/api/import")
FORM_LIMIT = 1 << 20  # every other request body: 1 MiB
MULTIPART_SLACK = 64 << 10  # multipart headers and the other form fields around the file

CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; "
       "font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")


def supported_languages() -> tuple[str, ...]:
    return tuple(languages()) or ("zh",)


class LanguageMiddleware:
    """`?lang=en` switches the language and remembers it in a cookie; otherwise the cookie, then the default."""

    def __init__(self, app: ASGIApp, default: str = "zh"):
        self.app, self.default = app, default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        supported = supported_languages()
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        chosen = next((v for v in query.get("lang", []) if v in supported), None)
        cookie = None
        for name, value in scope.get("headers", []):
            if name == b"cookie":
                jar: SimpleCookie = SimpleCookie()
                try:
                    jar.load(value.decode("latin-1"))
                except Exception:  # noqa: BLE001 - a malformed cookie header is ignored, not fatal
                    continue
                if LANG_COOKIE in jar and jar[LANG_COOKIE].value in supported:
                    cookie = jar[LANG_COOKIE].value
        lang = chosen or cookie or (self.default if self.default in supported else "zh")
        scope.setdefault("state", {})["lang"] = lang
        if not chosen or chosen == cookie:
            await self.app(scope, receive, send)
            return

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"set-cookie", f"{LANG_COOKIE}={chosen}; Path=/; Max-Age=31536000; SameSite=Lax"
                                .encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_cookie)


class BodyTooLarge(StarletteHTTPException):
    def __init__(self, limit_bytes: int, upload: bool):
        super().__init__(status_code=413)
        self.limit_mb = max(1, limit_bytes >> 20)
        self.upload = upload


class BodyLimitMiddleware:
    """Refuse bodies over the limit: by Content-Length before reading, else while streaming."""

    def __init__(self, app: ASGIApp, upload_limit: int):
        self.app, self.upload_limit = app, upload_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        upload = scope["path"] in UPLOAD_PATHS
        limit = self.upload_limit + MULTIPART_SLACK if upload else FORM_LIMIT
        length = None
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    length = None
        if length is not None and length > limit:
            await self._refuse(scope, receive, send, limit, upload)
            return
        seen = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(self.upload_limit if upload else FORM_LIMIT, upload)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if started:
                raise
            await self._refuse(scope, receive, send, limit, upload)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, limit: int, upload: bool) -> None:
        from xjip.web.errors import ApiError, error_response

        limit_bytes = self.upload_limit if upload else FORM_LIMIT
        error = ApiError(413, message_id="import.error.too_large" if upload else None,
                         detail={"limit_bytes": limit_bytes}, limit_mb=max(1, limit_bytes >> 20))
        response = error_response(Request(scope, receive), error)
        response.headers["Connection"] = "close"
        await response(scope, receive, send)


class NulCharacter(StarletteHTTPException):
    """A NUL character in a request's text: PostgreSQL cannot store or compare it (SQLite can), so
    it is refused on both, before any query, with the same 400."""

    def __init__(self) -> None:
        super().__init__(status_code=400)


_NUL_IN_QUERY = re.compile(rb"%00|\x00")
_NUL_IN_BODY = {"application/json": re.compile(rb"\\u0000"),  # JSON can only carry NUL escaped
                "application/x-www-form-urlencoded": _NUL_IN_QUERY}


class NoNulMiddleware:
    """Refuse NUL characters in the path, the query string and JSON or form bodies (uploads'
    file contents are bytes, not text, and are not looked at)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if "\x00" in scope.get("path", "") or _NUL_IN_QUERY.search(scope.get("query_string", b"")):
            from xjip.web.errors import error_response, nul_error

            await error_response(Request(scope, receive), nul_error())(scope, receive, send)
            return
        content_type = next((v.decode("latin-1").split(";")[0].strip().lower()
                             for k, v in scope.get("headers", []) if k == b"content-type"), "")
        pattern = _NUL_IN_BODY.get(content_type)
        if pattern is None:
            await self.app(scope, receive, send)
            return
        tail = b""

        async def checked_receive() -> Message:
            nonlocal tail
            message = await receive()
            if message["type"] == "http.request":
                chunk = tail + message.get("body", b"")
                if pattern.search(chunk):
                    raise NulCharacter()
                tail = chunk[-6:]  # a pattern cut by the chunk boundary
            return message

        await self.app(scope, checked_receive, send)


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, hsts: bool = False):
        self.app, self.hsts = app, hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                extra = [(b"content-security-policy", CSP.encode()), (b"x-content-type-options", b"nosniff"),
                         (b"x-frame-options", b"DENY"), (b"referrer-policy", b"same-origin"),
                         (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
                         (b"cross-origin-opener-policy", b"same-origin")]
                if not static:
                    extra.append((b"cache-control", b"no-store"))
                if self.hsts:
                    extra.append((b"strict-transport-security", b"max-age=31536000"))
                headers += [(k, v) for k, v in extra if k not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
