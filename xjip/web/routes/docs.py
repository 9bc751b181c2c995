"""API documentation (Swagger UI served from vendored files, no CDN) and the health check."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import text

from xjip.web.deps import get_store

router = APIRouter()


@router.get("/docs", response_class=HTMLResponse, include_in_schema=False)
def docs_page(request: Request) -> HTMLResponse:
    # FastAPI's get_swagger_ui_html() inlines its start-up script, which our CSP (script-src 'self')
    # forbids; this page loads the same vendored bundle and a static start-up file instead.
    return request.app.state.render(request, "docs.html", {})


@router.get("/healthz", tags=["system"], summary="Liveness and database check")
def healthz(request: Request) -> dict[str, Any]:
    with get_store(request).reading() as s:
        s.execute(text("select 1"))
    return {"status": "ok", "database": get_store(request).dialect}
