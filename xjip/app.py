"""The web application factory. Nothing here runs at import: `create_app(settings)` builds the app,
and its start-up (migrations, first admin account) runs when the server starts it."""
from __future__ import annotations

import contextlib
import logging
import os
import threading
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

    from xjip.hub.pipeline import WEB_WORKER_ENV

    worker = os.environ.get(WEB_WORKER_ENV) == "1"

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # A worker of `xjip serve --workers N`: the parent process has migrated, recovered and
        # resumed the imports, and runs them (serve_workers); the worker only serves.
        app.state.generated_admin_password = None if worker else await run_in_threadpool(startup, store, settings)
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


def default_workers() -> int:
    """Web worker processes by default: one per core. A worker is one Python process, which the
    GIL holds to one core; readers run side by side on SQLite (WAL) and PostgreSQL alike, so a
    worker per core uses the machine, and more only add memory and switching (measured in
    bench/RESULTS.md, `bench/load.py --workers`). Imports run outside the workers (serve_workers)."""
    return max(1, os.cpu_count() or 1)


PARENT_ENV = "XJIP_SERVE_PARENT"


def worker_app() -> FastAPI:
    """The app of one worker process (uvicorn factory); settings come from the environment that
    `serve_workers` set."""
    _die_with_parent(int(os.environ.get(PARENT_ENV) or 0))
    return create_app(Settings.from_env())


def _die_with_parent(parent: int) -> None:
    """A worker ends when the server's parent process ends, even by kill -9: an orphaned worker
    would keep the port and answer while the parent that runs the imports is gone (a server
    started again then could not listen, and the cut-off upload was never resumed)."""
    import signal

    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG (Linux): the kernel ends us with the parent
        if parent and os.getppid() != parent:  # the parent died before that
            os._exit(1)
        return
    except (OSError, AttributeError):
        pass

    def watch() -> None:  # elsewhere: look every half second
        while True:
            if parent and os.getppid() != parent:
                os._exit(1)
            threading.Event().wait(0.5)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def serve_workers(settings: Settings, host: str, port: int, workers: int) -> None:
    """Several uvicorn worker processes behind one socket, and imports in one place: this parent
    process migrates, recovers the imports a stopped server cut off, creates the first admin,
    then runs every import (cut off ones, uploads, resumes) one after the other in its import
    runner thread; workers hand theirs over (pipeline.request_jobs)."""
    import uvicorn

    from xjip.hub import pipeline

    store = Store(settings)
    stop = threading.Event()
    cut_off = _startup_parent(store, settings)
    runner = threading.Thread(target=pipeline.run_requested_jobs, args=(store, stop), name="import-runner",
                              daemon=True)
    runner.start()
    if cut_off:
        pipeline.request_jobs(store, *cut_off)
    os.environ.update({"XJIP_DATABASE_URL": settings.database_url, "XJIP_DATA_DIR": settings.data_dir,
                       pipeline.WEB_WORKER_ENV: "1", PARENT_ENV: str(os.getpid())})
    try:
        # Forwarded headers are believed only from `trusted_proxies` (create_app), never by uvicorn's default.
        uvicorn.run("xjip.app:worker_app", factory=True, host=host, port=port, workers=workers,
                    proxy_headers=False, server_header=False)
    finally:
        os.environ.pop(pipeline.WEB_WORKER_ENV, None)
        stop.set()
        runner.join(timeout=5)
        store.dispose()


def _startup_parent(store: Store, settings: Settings) -> list[int]:
    """`startup` for the parent of several workers; the cut-off uploads go to the import runner."""
    from xjip.hub import pipeline
    from xjip.web.auth import ensure_first_admin

    store.upgrade()
    uploads = Path(settings.uploads_dir).resolve()
    resumed = [job_id for job_id, path in pipeline.recover_orphaned_jobs(store)
               if Path(path).resolve().is_relative_to(uploads)]
    password = ensure_first_admin(store, settings)
    if password:
        path = Path(settings.data_dir) / "admin_password.txt"
        log.warning("首个管理员账户 admin 已创建，密码：%s（亦写入 %s）/ First admin account 'admin' created, "
                    "password: %s (also written to %s)", password, path, password, path)
    return resumed
