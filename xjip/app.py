"""The web application factory. Nothing here runs at import: `create_app(settings)` builds the app,
and its start-up (migrations, first admin account) runs when the server starts it."""
from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import AsyncIterator

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.middleware.sessions import SessionMiddleware

from xjip.hub.store import Store
from xjip.settings import Settings

log = logging.getLogger("xjip.web")
STATIC_DIR = Path(__file__).parent / "web" / "static"
SESSION_MAX_AGE = 8 * 3600


def startup(store: Store, settings: Settings) -> str | None:
    """Migrate, resume the uploads' imports that the last shutdown cut off, then create the first
    admin if there is no account. Returns a generated password."""
    from xjip.web.auth import ensure_first_admin

    store.upgrade()
    resume_cut_off_uploads(store, settings)
    password = ensure_first_admin(store, settings)
    if password:
        path = Path(settings.data_dir) / "admin_password.txt"
        # Shown once, at creation; afterwards only the file (mode 600) holds it.
        log.warning("首个管理员账户 admin 已创建，密码：%s（亦写入 %s）/ First admin account 'admin' created, "
                    "password: %s (also written to %s)", password, path, password, path)
    return password


def resume_cut_off_uploads(store: Store, settings: Settings) -> list[int]:
    """Imports left queued or running by a server that is gone are marked interrupted; those of
    files uploaded here go on by themselves, one after the other, where they stopped (the others,
    started from the command line, wait for their owner: `xjip jobs resume`)."""
    from xjip.hub import pipeline

    uploads = Path(settings.uploads_dir).resolve()
    resumed = [job_id for job_id, path in pipeline.recover_orphaned_jobs(store)
               if Path(path).resolve().is_relative_to(uploads)]
    if resumed:
        log.warning("继续被中断的上传导入 / resuming interrupted upload imports: %s", resumed)
        pipeline.start_job_thread(store, *resumed)
    return resumed


def create_app(settings: Settings, store: Store | None = None) -> FastAPI:
    """The whole web shell: pages, their JSON twins under /api, auth, CSRF, static files, /docs."""
    from xjip.web import errors
    from xjip.web.middleware import BodyLimitMiddleware, LanguageMiddleware, NoNulMiddleware, SecurityHeadersMiddleware
    from xjip.web.render import build_environment, make_renderer
    from xjip.web.routes import include_all

    owns_store = store is None
    store = store or Store(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.generated_admin_password = await run_in_threadpool(startup, store, settings)
        try:
            yield
        finally:
            if owns_store:
                store.dispose()

    app = FastAPI(title="新疆知识产权公共服务平台 API / Xinjiang IP Public Service Platform API", version="0.1.0",
                  description="JSON twin of every page. Errors: `{\"error\": {\"code\", \"message_zh\", "
                              "\"message_en\", \"detail\"}}`. Lists are paged by an opaque `next` token "
                              "(pass it back as `after`). Times are UTC (ISO 8601); pages show them in "
                              "`XJIP_DISPLAY_TIMEZONE` (Beijing time by default). State-changing requests need the session cookie and "
                              "the `X-CSRF-Token` header (from `GET /api/session`).",
                  docs_url=None, redoc_url=None, openapi_url="/openapi.json", lifespan=lifespan)
    app.state.settings = settings
    app.state.store = store
    app.state.render = make_renderer(build_environment())

    # Added innermost first: headers → language → session → body limit → NUL check → routes (a 413 page needs the session).
    app.add_middleware(NoNulMiddleware)  # inside the body limit: it reads no more than the limit lets through
    app.add_middleware(BodyLimitMiddleware, upload_limit=settings.max_upload_mb << 20)
    app.add_middleware(SessionMiddleware, secret_key=settings.secret_key, session_cookie="xjip_session",
                       max_age=SESSION_MAX_AGE, same_site="lax", https_only=settings.environment == "production")
    app.add_middleware(LanguageMiddleware, default=settings.default_language)
    app.add_middleware(SecurityHeadersMiddleware, hsts=settings.environment == "production")
    if settings.proxy_list:  # outermost: every layer sees the client the trusted proxy forwarded
        from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.proxy_list)
    errors.install(app)
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    include_all(app)
    return app
