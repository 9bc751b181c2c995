"""Routers of the web shell. Each page `/x` has its JSON twin `/api/x` built from the same query call."""
from __future__ import annotations

from fastapi import FastAPI


def include_all(app: FastAPI) -> None:
    from xjip.web.routes import account, data, docs, gi, imports, indicators, search

    for module in (data, imports, account, docs, search, indicators, gi):
        app.include_router(module.router)
    from xjip.web.routes import ai  # noqa: E402 - semantic search and IPC classification (issue 11 §5-6)
    app.include_router(ai.router)
