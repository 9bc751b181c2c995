"""Engine, sessions and migrations. Nothing connects at import time."""
from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any, Iterator

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from xjip.settings import Settings

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
READ_ONLY = "xjip_read_only"  # execution option of the sessions `Store.reading` opens
CHANGED = "xjip_changed"  # session.info key: {record_type: [ids]} a write outside the import pipeline changed


def mark_changed(session: Session, record_type: str, ids: Any) -> None:
    """Note records a write changed (an entity merge or split, an edit), so that the after-commit
    hooks (`pipeline.AFTER_COMMIT_HOOKS`, e.g. the search index) hear of them once
    `Store.session` has committed, as they do after each import batch."""
    bucket = session.info.setdefault(CHANGED, {}).setdefault(record_type, [])
    bucket.extend(int(i) for i in ids if i is not None)


def notify_changed(store: "Store", changed: dict[str, list[int]]) -> None:
    """Call every after-commit hook with `changed`; a failing hook is logged, never raised: the
    write it follows is already committed."""
    import logging

    from xjip.hub.pipeline import AFTER_COMMIT_HOOKS

    for hook in list(AFTER_COMMIT_HOOKS):
        try:
            hook(store, {k: sorted(set(v)) for k, v in changed.items()})
        except Exception:  # noqa: BLE001
            logging.getLogger(__name__).exception("after-commit hook %r failed", hook)


def normalise_url(url: str) -> str:
    # Accept the libpq form people paste; SQLAlchemy needs the driver named.
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url[len("postgresql://"):]
    if url.startswith("postgres://"):
        return "postgresql+psycopg://" + url[len("postgres://"):]
    return url


def dump_json(value: Any) -> str:
    """JSON columns as UTF-8 text: Chinese claims and names take half the bytes of the default
    \\uXXXX escapes (a CNIPA full text's claims: 6.9 → 3.5 kB)."""
    return json.dumps(value, ensure_ascii=False)


def make_engine(url: str) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False},
                               json_serializer=dump_json)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # noqa: ANN001
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()
            # The driver would BEGIN only before an INSERT/UPDATE/DELETE: a SAVEPOINT issued
            # first then opens the transaction itself, and its RELEASE commits it, part of a
            # batch on its own. SQLAlchemy emits every BEGIN instead (its SQLite dialect docs,
            # "Serializable isolation / Savepoints / Transactional DDL").
            dbapi_conn.isolation_level = None

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):  # noqa: ANN001
            # A transaction that may write takes the write lock when it begins. Begun deferred,
            # it reads from a snapshot, and if another connection commits before its first
            # write, that write fails at once with "database is locked" whatever the busy
            # timeout (SQLite docs, "WAL mode", SQLITE_BUSY_SNAPSHOT): a login during an
            # import failed, and so did the import. Transactions that only read say so
            # (`Store.reading`) and begin deferred, so readers never wait for writers.
            conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(READ_ONLY) else "BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5, json_serializer=dump_json)


class Store:
    """The hub's database: one engine, a session factory, and the migration entry point."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.url = normalise_url(settings.database_url)
        self.engine = make_engine(self.url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.read_sessions = sessionmaker(self.engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: commit on success, roll back on any error."""
        with self.sessions() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise
            changed = session.info.pop(CHANGED, None)
        if changed:
            notify_changed(self, changed)

    @contextlib.contextmanager
    def reading(self) -> Iterator[Session]:
        """A transaction that only reads: on SQLite it neither waits for nor blocks a writer
        (see `make_engine`). Anything written in it is discarded."""
        with self.read_sessions() as session:
            try:
                yield session
            finally:
                session.rollback()

    def alembic_config(self):  # noqa: ANN201
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
        cfg.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        cfg.attributes["engine"] = self.engine
        return cfg

    def upgrade(self, revision: str = "head") -> None:
        from alembic import command

        command.upgrade(self.alembic_config(), revision)

    def current_revision(self) -> str | None:
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def dispose(self) -> None:
        self.engine.dispose()


def open_store(settings: Settings, migrate: bool = True) -> Store:
    store = Store(settings)
    if migrate:
        store.upgrade()
    return store
