"""Shared fixtures. Real data is read in place from ../shared/data; databases are real:
every `store` test runs on SQLite and on PostgreSQL (127.0.0.1:5432 unless
XJIP_TEST_POSTGRES_URL says otherwise). Without a server, PostgreSQL tests are skipped with a
message, unless CI or XJIP_REQUIRE_POSTGRES is set: then they fail."""
from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path
from typing import Iterator

import pytest
from sqlalchemy import create_engine, text

from xjip.hub.store import Store, normalise_url
from xjip.settings import Settings, _default_shared_data

SHARED_DATA = Path(_default_shared_data())
PG_ADMIN_URL = os.environ.get("XJIP_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REQUIRE_PG = bool(os.environ.get("CI") or os.environ.get("XJIP_REQUIRE_POSTGRES"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.fail(f"../shared/data not found at {SHARED_DATA}: tests read the real public data there")
    return SHARED_DATA


def _pg_available() -> str | None:
    try:
        engine = create_engine(normalise_url(PG_ADMIN_URL), isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means "no server"
        return str(exc).splitlines()[0]


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A throwaway PostgreSQL database for this test session, migrated once."""
    problem = _pg_available()
    if problem:
        message = f"PostgreSQL not reachable at {PG_ADMIN_URL}: {problem}"
        if REQUIRE_PG:
            pytest.fail(message + " (required because CI/XJIP_REQUIRE_POSTGRES is set)")
        pytest.skip(message)
    name = f"xjip_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(normalise_url(PG_ADMIN_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
        # A throwaway test database need not wait for the disk at each commit (the per-test TRUNCATE).
        conn.execute(text(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    store = Store(Settings.from_env(database_url=url, data_dir=str(Path(os.environ.get("TMPDIR", "/tmp")) / name)))
    store.upgrade()
    store.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"))
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file; each test gets a copy (faster than migrating every time)."""
    folder = tmp_path_factory.mktemp("sqlite_template")
    store = Store(Settings.from_env(data_dir=str(folder)))
    store.upgrade()
    store.dispose()
    return folder / "xjip.db"


def _truncate_all(url: str) -> None:
    from xjip.hub.models import Base

    engine = create_engine(normalise_url(url))
    names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    try:
        with engine.begin() as conn:
            # A connection an earlier test left in a transaction would make this wait for ever
            # (CI once ran out of time that way): fail, naming what it was doing, instead.
            conn.execute(text("SET LOCAL lock_timeout = '30s'"))
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    except Exception as exc:
        with engine.connect() as conn:
            left = conn.execute(text(
                "SELECT state, left(query, 200) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()")).all()
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE datname = current_database() AND pid <> pg_backend_pid()"))
        pytest.fail(f"an earlier test left connections open ({left}): {exc}".splitlines()[0])
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        target = tmp_path / "xjip.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), target)
        return f"sqlite:///{target}"
    url = request.getfixturevalue("pg_database")
    _truncate_all(url)
    return url


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    data_dir = tmp_path / "data"
    return Settings.from_env(database_url=db_url, data_dir=str(data_dir), shared_data_dir=str(SHARED_DATA),
                             admin_password="test-admin-pw", import_batch_size=50)


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    s = Store(settings)
    yield s
    s.dispose()
