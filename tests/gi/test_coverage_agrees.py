"""Special-mark coverage has one definition (xjip.hub.gi_coverage): the GI part's coverage page and
plan indicator 5 give the same numerator and denominator for the same year and settings, for the
region and every prefecture, and both follow a changed setting. Both databases."""
from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient

from xjip.app import create_app
from xjip.hub import models as m
from xjip.indicators import entries, rebuild

from tests.gi.conftest import gi_id

YEAR = 2024


def _user(s, gi: int, name: str, approved: dt.date, *, revoked: dt.date | None = None, synthetic: bool = False) -> None:
    s.add(m.GIMarkUser(key=f"{gi}|{name}", gi_id=gi, gi_name=str(gi), user_name=name, approved_date=approved,
                       revoked_date=revoked, is_synthetic=synthetic))


@pytest.fixture
def web(store, gi_loaded, settings):
    pear, = (gi_id(gi_loaded, "库尔勒香梨", "PGI_product"),)
    others = sorted(set(gi_loaded.gis.values()) - {pear})
    with store.session() as s:
        _user(s, pear, "real user", dt.date(2020, 3, 1))
        _user(s, others[0], "synthetic user", dt.date(2021, 3, 1), synthetic=True)
        _user(s, others[1], "revoked before the year end", dt.date(2019, 3, 1), revoked=dt.date(2024, 6, 1))
        _user(s, others[2], "approved after the year", dt.date(2025, 2, 1))
    with TestClient(create_app(settings, store)) as client:
        if client.get(f"/api/indicators?year={YEAR}").status_code == 202:
            rebuild.wait(store)
        yield client


def _indicator(client) -> tuple[dict, dict]:
    data = client.get(f"/api/indicators?year={YEAR}").json()
    ind = next(i for i in data["indicators"] if i["id"] == "gi_special_mark_coverage")
    return ind, {r["code"]: r for r in ind["by_prefecture"]}


def _page(client, definition: str | None = None) -> tuple[dict, dict]:
    extra = f"&definition={definition}" if definition else ""
    region = client.get(f"/api/gi/coverage?level=region&year={YEAR}{extra}").json()
    prefs = client.get(f"/api/gi/coverage?level=prefecture&year={YEAR}{extra}").json()
    return region, {r["code"]: r for r in prefs["rows"]}


def _agree(client) -> tuple[int, int]:
    ind, ind_prefs = _indicator(client)
    region, prefs = _page(client)
    row = region["rows"][0]
    assert (ind["numerator"], ind["denominator"]) == (row["numerator"], row["denominator"])
    assert ind["value"] == pytest.approx(100 * row["rate"])
    assert ind["synthetic_in_numerator"] == row["synthetic"]
    compared = 0
    for code, r in prefs.items():
        if code in ind_prefs:
            assert (ind_prefs[code]["numerator"], ind_prefs[code]["denominator"]) == (r["numerator"], r["denominator"]), code
            compared += 1
    assert compared >= 10
    return row["numerator"], row["denominator"]


def test_indicator_and_coverage_page_agree(web, store, gi_loaded):
    num, den = _agree(web)
    # the real user and the synthetic one count; the revoked one and the later one do not
    assert num == 2 and den > 50
    _, prefs = _page(web)
    assert prefs["652800"]["numerator"] >= 1  # 库尔勒香梨's protected area
    # a changed setting: both follow it
    with store.session() as s:
        entries.add(s, entries.EntryInput(kind="setting", key="gi_coverage", year=None, region_code=None,
                                          value="products_with_users", value_json=None, source_document="test",
                                          entered_by="staff1"))
    products_num, products_den = _agree(web)
    assert products_den < den
    assert _page(web)[0]["definition"] == "products_with_users"
    # the page can still be asked for the other definition explicitly
    assert _page(web, "gi_with_users")[0]["rows"][0]["denominator"] == den
