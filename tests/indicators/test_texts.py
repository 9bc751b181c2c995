"""The indicators' page-visible texts (definition, formula, data source, unit) come from the
catalogue in both languages: the Chinese dashboard shows the Chinese formula of every indicator,
the English one the English, and the JSON API carries both."""
from __future__ import annotations

import html
import re
import string

import pytest
from fastapi.testclient import TestClient

from xjip.app import create_app
from xjip.i18n import catalogue, t
from xjip.indicators import definitions, entries, rebuild, report

CJK = re.compile(r"[\u4e00-\u9fff]")


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_every_text_in_both_languages_with_the_same_placeholders() -> None:
    for ind in definitions.indicators():
        for part in definitions.TEXT_PARTS:
            key = f"indicators.{part}.{ind.id}"
            zh, en = catalogue("zh").get(key), catalogue("en").get(key)
            assert zh and en, key
            assert _fields(zh) == _fields(en), key
        assert CJK.search(t(f"indicators.formula.{ind.id}", "zh")), ind.id
        assert not CJK.search(t(f"indicators.definition.{ind.id}", "en")), ind.id


@pytest.fixture
def client(ref_store, settings):
    with TestClient(create_app(settings, ref_store)) as c:
        if c.get("/api/indicators?year=2024").status_code == 202:  # a new database: built in the background
            rebuild.wait(ref_store)
        yield c


def _shown_formulas(page: str) -> dict[str, str]:
    return {m.group(1): html.unescape(m.group(2))
            for m in re.finditer(r'<span id="formula-([a-z0-9_]+)">(.*?)</span>', page, re.S)}


def test_dashboard_shows_formulas_in_the_page_language(client, ref_store) -> None:
    with ref_store.reading() as s:
        st = entries.load_settings(s)
    zh_page = client.get("/indicators?year=2024&lang=zh")
    en_page = client.get("/indicators?year=2024&lang=en")
    assert zh_page.status_code == en_page.status_code == 200
    zh, en = _shown_formulas(zh_page.text), _shown_formulas(en_page.text)
    ids = [i.id for i in definitions.indicators()]
    assert sorted(zh) == sorted(en) == sorted(ids)
    for ind in definitions.indicators():
        want_zh = t(f"indicators.formula.{ind.id}", "zh", **report.settings_text(st, "zh"))
        want_en = t(f"indicators.formula.{ind.id}", "en", **report.settings_text(st, "en"))
        assert zh[ind.id] == want_zh and CJK.search(zh[ind.id]), ind.id
        assert en[ind.id] == want_en and "{" not in en[ind.id], ind.id
        assert zh[ind.id] != en[ind.id]
    # settings are named in the page's language, not as ids
    assert "战略性新兴产业" in zh["hv_invention_per_10k"] and "sei" not in zh["hv_invention_per_10k"]
    assert "Strategic emerging industry" in en["hv_invention_per_10k"]
    assert t("indicators.definition.valid_tm_cum", "en") in html.unescape(en_page.text)
    # the JSON API: the existing fields in the requested language, and both languages
    api = client.get("/api/indicators?year=2024&lang=en").json()["indicators"][0]
    assert api["formula"] == en["hv_invention_per_10k"] and api["formula_zh"] == zh["hv_invention_per_10k"]
    assert api["unit"] == "件" and api["unit_text"] == "patents" and api["data_source_en"] and api["definition"]
