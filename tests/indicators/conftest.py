"""Fixtures of the indicator tests: a store (SQLite and PostgreSQL, tests/conftest.py) with the
reference tables the indicators read (regions, population, the SEI concordance)."""
from __future__ import annotations

from pathlib import Path

import pytest

import xjip.indicators  # noqa: F401 - subscribes the after-commit hook
from xjip.hub import reference
from xjip.hub.pipeline import run_import

EPO = Path("patents/real_exports/epo_ops")
EPO_FAMILY_LEGAL = Path("patents/epo_ops_family_legal/demo/examples/get_family_with_legal/response.xml.gz")
CN_XML = Path("patents/cn_cnipa_xml/xml")


@pytest.fixture
def ref_store(store):
    with store.session() as s:
        for loader in (reference.load_regions, reference.load_population, reference.load_sei):
            loader(s, reference.PACKAGE_DIR)
    return store


@pytest.fixture
def real_patents(ref_store, shared_data):
    """Real records: the EPO OPS family of EP2906782 (with CN104968889A), EP2400812's family with
    its INPADOC legal events (US9648662B2 and its maintenance fees), and the CNIPA XML examples."""
    for rel in (EPO / "ops_family_EP2906782A2.xml", EPO_FAMILY_LEGAL, CN_XML):
        job = run_import(ref_store, shared_data / rel)
        assert job.status == "done", (rel, job.error)
    return ref_store
