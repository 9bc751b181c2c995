"""Fixtures of the GI part's tests: a real database (SQLite and PostgreSQL, tests/conftest.py's
`store`) filled with the real regions (current and former units, through the hub's reference
loader) and the real GI list (gi/xinjiang_gi_records.csv, through the web tests' ORM loader)."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.web.conftest import Loaded, load_gis
from xjip.hub.reference import load_regions
from xjip.hub.store import Store


@pytest.fixture
def gi_loaded(store: Store, shared_data: Path) -> Loaded:
    loaded = Loaded()
    with store.session() as s:
        load_regions(s, shared_data)
        load_gis(s, shared_data, loaded)
    return loaded


def gi_id(loaded: Loaded, name: str, system: str) -> int:
    return loaded.gis[f"{name}|{system}"]


# The web tests' app, client, accounts and cheap password hashing, for the GI pages.
from tests.web.conftest import app, cheap_scrypt, client, users  # noqa: E402,F401
