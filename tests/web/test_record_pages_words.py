"""Record pages a patent searcher reads (issue 10 §4): fields grouped as bibliographic data,
parties, classification, legal status and events, family, source; words instead of codes.
Each check is how the page was found wanting: 主键 `库尔勒香梨|PGI_product`, 语言 `zh`,
所在地区 `— (410000)`, a `#` column of zeros, claims numbered twice, events as `category: other；…`,
GI categories in English and owner names with the compiler's notes. SQLite and PostgreSQL."""
from __future__ import annotations

import csv
import datetime as dt
import html
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from xjip.hub import models as m
from xjip.hub.pipeline import run_import
from xjip.hub.importers.gi_list import split_name_note
from xjip.web.record_view import claims_numbered, gi_category

from .conftest import ReadOnly


def _text(page: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


def _row(page: str, key: str) -> str | None:
    match = re.search(rf'<tr data-field="{key}"><th scope="row">[^<]*</th>(.*?)</tr>', page, re.S)
    return _text(match.group(1)).strip() if match else None


def _section(page: str, section: str) -> str:
    start = page.index(f'id="section-{section}"')
    return page[start:page.index('<div class="panel"', start + 10) if '<div class="panel"' in page[start + 10:] else None]


def test_every_gi_category_reads_in_chinese_and_owner_notes_move_to_the_notes(ro: ReadOnly) -> None:
    gis = ro.client.get("/api/records/gi", params={"page_size": 200}).json()["items"]
    assert len(gis) == 93
    categories = set()
    for item in gis:
        page = ro.client.get(f"/records/gi/{item['id']}").text
        assert "主键" not in page and "|" + item["gi_system"] not in page  # the internal key is not shown
        shown = _row(page, "category")
        if item["category"]:
            categories.add(item["category"])
            assert shown and not re.search(r"[A-Za-z]", shown), (item["category"], shown)
        applicant = _row(page, "applicant")
        if applicant:
            assert not re.search(r" \([^)]*\)$", applicant), applicant
    assert len(categories) == 44  # every category of the real list
    hetian = next(i for i in gis if (i["applicant"] or "").startswith("和田地区 ("))
    page = ro.client.get(f"/records/gi/{hetian['id']}").text
    assert _row(page, "applicant") == "和田地区" and "as printed" in _row(page, "notes")
    assert ro.client.get(f"/api/records/gi/{hetian['id']}").json()["fields"]["applicant"] == hetian["applicant"]
    english = TestClient(ro.app).get(f"/records/gi/{hetian['id']}?lang=en").text  # ?lang= is remembered: own client
    assert re.search(r"[\u4e00-\u9fff]", _row(english, "category") or "") is None


def test_gi_category_terms() -> None:
    assert gi_category("fruit (apricot)", "zh") == "水果（杏）"
    assert gi_category("medicinal/fruit (goji)", "zh") == "药材/水果（枸杞）"
    assert gi_category("aquatic (fish, northern pike 乔尔泰)", "zh") == "水产（鱼，白斑狗鱼 乔尔泰）"
    assert gi_category("dried_fruit", "en") == "dried fruit"
    assert gi_category("something new", "zh") == "something new"  # unknown: kept as compiled, never dropped


def test_the_gi_importer_keeps_the_name_and_moves_the_note(store, client, shared_data: Path) -> None:  # noqa: ANN001
    assert split_name_note("和田地区 (as printed)") == ("和田地区", "as printed")
    assert split_name_note("新疆某某农业专业合作社（有限合伙）") == ("新疆某某农业专业合作社（有限合伙）", None)
    assert split_name_note("Foo (Holdings)") == ("Foo (Holdings)", None)
    path = shared_data / "gi" / "xinjiang_gi_records.csv"
    job = run_import(store, path)
    assert job.rejected_count == 0
    with open(path, encoding="utf-8-sig", newline="") as fh:
        noted = [r for r in csv.DictReader(fh) if re.search(r" \([^)]*\)$", r["applicant_or_holder"])]
    assert len(noted) >= 4
    with store.session() as s:
        any_gi = s.scalars(select(m.GeographicalIndication.id)).first()
    assert _row(client.get(f"/records/gi/{any_gi}?lang=zh").text, "source_format") == "新疆地理标志汇编清单 gi_list"
    with store.session() as s:
        for r in noted:
            gi = s.scalars(select(m.GeographicalIndication).where(
                m.GeographicalIndication.name == r["name_zh"], m.GeographicalIndication.gi_system == r["gi_type"])).one()
            name, note = split_name_note(r["applicant_or_holder"])
            assert gi.applicant == name and "(" not in gi.applicant
            assert f"applicant note: {note}" in gi.notes
            raw = s.scalars(select(m.SourceRecord.raw).where(m.SourceRecord.record_key == gi.key)).first()
            assert r["applicant_or_holder"] in raw  # the source record keeps the row as read
        owners = set(s.scalars(select(m.Entity.name)))
        assert "和田地区" in owners and "和田地区 (as printed)" not in owners


def test_a_patent_page_reads_as_a_searcher_expects(ro: ReadOnly) -> None:
    patent_id = next(iter(ro.loaded.patents.values()))
    with ro.store.session() as s:
        with_claims = s.scalars(select(m.PatentText.patent_id)).first()
        language = s.scalars(select(m.Patent.id).where(m.Patent.language.is_not(None))).first()
    page = ro.client.get(f"/records/patent/{with_claims}").text
    for section in ("biblio", "parties", "status", "source"):
        assert f'id="section-{section}"' in page
    assert "主键" not in page and 'data-field="key"' not in page
    header = re.search(r'<table id="parties"><thead><tr>(.*?)</tr>', page, re.S).group(1)
    assert "<th>#</th>" not in header and "<th>" + "序号" not in header
    claims = re.findall(r"<li>(.*?)</li>", re.search(r'<ol class="claims" id="claims">(.*?)</ol>', page, re.S).group(1))
    assert claims and html.unescape(claims[0]).startswith("1.") and not re.match(r"1\.\s*1\.", claims[0])
    assert "category:" not in page and "date:" not in page
    if language:
        shown = _row(ro.client.get(f"/records/patent/{language}").text, "language")
        assert shown in ("中文", "英语", "日语") and shown != "zh"
    # the classification with the IPC titles of the shipped table, in either language
    with ro.store.session() as s:
        with_ipc = s.scalars(select(m.Patent).where(m.Patent.ipc_main.is_not(None))).first()
        title = s.scalar(select(m.IpcClass.title_zh).where(m.IpcClass.code == with_ipc.ipc_main))
        title_en = s.scalar(select(m.IpcClass.title_en).where(m.IpcClass.code == with_ipc.ipc_main))
    if title:  # the shipped table knows the code
        zh = ro.client.get(f"/records/patent/{with_ipc.id}").text
        assert with_ipc.ipc_main in _row(zh, "ipc_main") and title in _row(zh, "ipc_main")
        en = TestClient(ro.app).get(f"/records/patent/{with_ipc.id}?lang=en").text
        assert title_en is None or title_en in _row(en, "ipc_main")
    assert patent_id


def test_claims_keep_their_own_numbers() -> None:
    assert claims_numbered(["1.一种方法", "2、根据权利要求1", "一种装置"]) == ["1.一种方法", "2、根据权利要求1", "3. 一种装置"]


def test_places_events_and_countries_in_words(store, client) -> None:  # noqa: ANN001
    from xjip.hub.reference import PACKAGE_DIR, ipc_rows

    ipc = next(r for r in ipc_rows(PACKAGE_DIR) if r["code"] == "A01B1/00")  # the shipped IPC table's row
    with store.session() as s:
        s.add(m.IpcClass(**ipc))
        henan = m.Patent(key="CN202310000001.1", country="CN", app_number="CN202310000001.1", title="河南的专利",
                         language="zh", region_code="410000", province_code="41", status="pending",
                         ipc_main="A01B1/00", ipc=["A01B1/00"], source="test", source_format="orm")
        s.add(henan)
        s.flush()
        s.add(m.PatentParty(patent_id=henan.id, role="applicant", seq=0, name="郑州某某有限公司", country="CN",
                            region_code="410000"))
        s.add(m.PatentEvent(patent_id=henan.id, event_key="g", category="grant", event_date=dt.date(2024, 5, 1), code="GRANT",
                            description="授权"))
        s.add(m.PatentEvent(patent_id=henan.id, event_key="p", category="other", event_date=dt.date(2023, 2, 1), code="PUB",
                            description="公布"))
        mark = m.Trademark(key="ID:D002014000001", office="ID", app_number="D002014000001", word_element="Suatu",
                           events=[{"category": "other", "date": "2014-06-27", "code": "Filed", "description": "Filing",
                                    "details": {}}], source="test", source_format="orm")
        s.add(mark)
        s.flush()
        ids = henan.id, mark.id
    page = client.get(f"/records/patent/{ids[0]}").text
    assert _row(page, "place") == "河南省" and "(410000)" not in page and "— (" not in page
    assert _row(page, "language") == "中文" and _row(page, "country") == "中国"
    events = re.search(r'<table id="events">.*?</table>', page, re.S).group(0)
    rows = [_text(r).strip() for r in re.findall(r"<tr>(.*?)</tr>", events, re.S)[1:]]
    assert rows == ["2023-02-01 公布 PUB", "2024-05-01 授权 GRANT"]  # date · the event in words · the office's code
    assert _row(page, "ipc_main") == f"A01B1/00 {ipc['title_zh']}"
    assert _row(client.get(f"/records/patent/{ids[0]}?lang=en").text, "ipc_main") == f"A01B1/00 {ipc['title_en']}"
    party = re.search(r'<table id="parties">.*?</table>', page, re.S).group(0)
    assert "河南省" in _text(party) and "中国" in _text(party)
    english = client.get(f"/records/patent/{ids[0]}?lang=en").text
    assert _row(english, "place") == "Henan" and _row(english, "language") == "Chinese"
    tm = client.get(f"/records/trademark/{ids[1]}?lang=zh").text  # ?lang= is remembered: back to Chinese
    assert "category:" not in tm and "date:" not in tm
    events = re.search(r'<table id="events">.*?</table>', tm, re.S).group(0)
    assert [_text(r).strip() for r in re.findall(r"<tr>(.*?)</tr>", events, re.S)[1:]] == ["2014-06-27 Filing Filed"]
    assert _row(tm, "office") == "印度尼西亚"


@pytest.fixture
def every_type(store, shared_data: Path, tmp_path: Path) -> dict[str, int]:  # noqa: ANN001
    """One record of every type, through the importers (synthetic rights from real vocabularies)."""
    from xjip.hub import synth
    from xjip.hub.synth_rights import write_rights

    run_import(store, shared_data / "gi" / "xinjiang_gi_records.csv")
    synth.write_cn_biblio_csv(tmp_path / "patents.csv", 60, seed=5, shared=shared_data)
    write_rights(tmp_path / "rights", 20, seed=3, patents=60, patent_seed=5, shared=shared_data)
    run_import(store, tmp_path / "patents.csv")
    run_import(store, tmp_path / "rights")
    from xjip.hub.queries import TYPES

    with store.session() as s:
        return {name: s.scalars(select(spec.model.id).order_by(spec.model.id)).first() for name, spec in TYPES.items()}


def test_every_record_type_is_grouped_without_codes(client, every_type: dict[str, int]) -> None:  # noqa: ANN001
    assert all(every_type.values()), every_type
    for record_type, record_id in every_type.items():
        for lang in ("zh", "en"):
            page = client.get(f"/records/{record_type}/{record_id}?lang={lang}")
            assert page.status_code == 200, (record_type, lang)
            body = page.text
            assert 'id="section-biblio"' in body and 'id="section-source"' in body, record_type
            assert 'data-field="key"' not in body and 'data-field="id"' not in body, record_type
            assert not re.search(r'data-field="(region|prefecture|county|province)_code"', body), record_type  # by name
            assert "category:" not in body and "{'" not in body and "[{" not in body, record_type
            labels = re.findall(r'<tr data-field="(\w+)"><th scope="row">([^<]*)</th>', body)
            for key, label in labels:  # every row has a label in words, not the column's name
                assert label != key or key in ("cpc",), (record_type, key, label)


def test_the_gi_list_shows_categories_in_the_page_language(ro: ReadOnly) -> None:
    page = ro.client.get("/records/gi?page_size=200&lang=zh").text
    cells = [_text(c).strip() for c in re.findall(r'<td[^>]*>(.*?)</td>', page, re.S)]
    assert "水果（杏）" in cells and "fruit (apricot)" not in page
    english = TestClient(ro.app).get("/records/gi?page_size=200&lang=en").text  # ?lang= is remembered: own client
    assert "fruit (apricot)" in english
    options = re.search(r'<select name="prefecture">(.*?)</select>', english, re.S).group(1)
    assert '<option value="652900" >Aksu Prefecture</option>' in options and "阿克苏" not in options
    places = [_text(c).strip() for c in re.findall(r'<td[^>]*>(.*?)</td>', english, re.S)]
    assert "Aksu Prefecture · Aksu City" in places or any(p.startswith("Aksu Prefecture") for p in places)


def test_an_owner_page_in_words(client, store, every_type: dict[str, int]) -> None:  # noqa: ANN001
    from xjip.hub.region_names import region_name

    with store.session() as s:
        owners = list(s.scalars(select(m.Patent.first_applicant_entity_id).where(
            m.Patent.first_applicant_entity_id.is_not(None)).limit(50)))
    owner, place = next((o, p) for o in owners
                        if (p := client.get(f"/api/entities/{o}").json()["place"]) and p.get("prefecture_code")
                        and p["prefecture_code"] != "659000")
    page = client.get(f"/entities/{owner}?lang=zh").text
    assert "<th>ID</th>" not in page and "权利人编号" in page
    shown = _text(re.search(r'<td id="entity-place">(.*?)</td>', page, re.S).group(1)).strip()
    zh = region_name(place["prefecture_code"], "zh")
    assert shown.startswith(zh) and f"{zh} · {zh}" not in shown
    english = client.get(f"/entities/{owner}?lang=en").text
    shown = _text(re.search(r'<td id="entity-place">(.*?)</td>', english, re.S).group(1))
    assert shown.strip().startswith(region_name(place["prefecture_code"], "en")), shown


def test_search_facets_name_prefectures_in_the_page_language(client, store, loaded) -> None:  # noqa: ANN001
    from xjip.search.index import backend_for

    backend_for(store.settings).rebuild(store)
    # the facets come by htmx after the results (/search/facets)
    english = client.get("/search/facets", params={"q": "新疆 OR 大学", "lang": "en"}).text
    facet = re.search(r'<div class="facet" data-facet="pref">(.*?)</div>', english, re.S)
    assert facet, "no prefecture facet"
    names = [_text(a).strip() for a in re.findall(r"<a [^>]*>(.*?)</a>", facet.group(1))]
    assert names and not [n for n in names if re.search(r"[\u4e00-\u9fff]", n)], names
    chinese = client.get("/search/facets", params={"q": "新疆 OR 大学", "lang": "zh"}).text
    facet = re.search(r'<div class="facet" data-facet="pref">(.*?)</div>', chinese, re.S).group(1)
    assert re.search(r"[\u4e00-\u9fff]", facet)
