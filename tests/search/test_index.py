"""The index on real databases (SQLite and PostgreSQL): it follows imports, entity merges and
splits after each commit; a search during an import sees committed records only and never errors;
a rebuild swaps in atomically; saved searches hear of new matches. Real files from ../shared/data."""
from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select

from xjip.hub import models as m
from xjip.hub.pipeline import AFTER_COMMIT_HOOKS, run_import
from xjip.search import live, saved, service
from xjip.search.index import backend_for

GI = "gi/xinjiang_gi_records.csv"
PATENTS = "patents/real_exports/cn_export/ptics_cn_阿波罗智行.csv"

live.install()


def _search(store, q, **kw):  # noqa: ANN001, ANN202
    return service.search(store, q, service.Filters(**kw.pop("filters", {})), with_facets=kw.pop("facets", False), **kw)


@pytest.fixture
def empty_index(store):  # noqa: ANN001, ANN201
    result = backend_for(store.settings).rebuild(store)
    assert result["done"] == 0
    return store


def test_the_index_follows_an_import(empty_index, shared_data: Path) -> None:  # noqa: ANN001
    store = empty_index
    assert _search(store, "库尔勒香梨")["total"] == 0
    run_import(store, shared_data / GI)
    with store.reading() as s:
        gi_id = s.execute(select(m.GeographicalIndication.id).where(m.GeographicalIndication.name == "库尔勒香梨")).scalar()
    hits = _search(store, "库尔勒香梨", filters={"type": "gi"})
    assert gi_id in [i["id"] for i in hits["items"]]
    # pinyin, traditional script and full width find it too
    for q in ("kuerle xiangli", "kuerlexiangli", "庫爾勒香梨", "ｋｕｅｒｌｅ ｘｉａｎｇｌｉ", "香梨", "TI=香梨", "库尔勒"):
        assert gi_id in [i["id"] for i in _search(store, q, filters={"type": "gi"})["items"]], q
    # highlighted, escaped
    item = next(i for i in hits["items"] if i["id"] == gi_id)
    assert "<mark>库尔勒香梨</mark>" in item["title_html"]


def test_fields_facets_numbers_and_dates(empty_index, shared_data: Path) -> None:  # noqa: ANN001
    store = empty_index
    run_import(store, shared_data / PATENTS)
    with store.reading() as s:
        p = s.execute(select(m.Patent).where(m.Patent.app_number == "CN202111513510.5")).scalar_one()
        s.expunge(p)
    for q in ("AN=CN202111513510.5", "AN=202111513510.5", "AN=2021115135105", "PN=" + p.pub_number, "CN202111513510.5",
              "TI=建立通信连接", "TI=\"通信 连接\"~2", "建立 W/3 通信"):
        assert p.id in [i["id"] for i in _search(store, q)["items"]], q
    year = p.app_date.year
    assert p.id in [i["id"] for i in _search(store, f"AD={year} AND TI=通信")["items"]]
    assert p.id not in [i["id"] for i in _search(store, f"AD={year + 1}..{year + 3} AND TI=通信")["items"]]
    ipc = p.ipc_main
    got = _search(store, f"IPC={ipc[:4]}*", facets=True)
    assert p.id in [i["id"] for i in got["items"]] or got["total"] > len(got["items"])
    facet_subs = {b["value"] for b in got["facets"]["ipc_sub"]}
    assert ipc[:4] in facet_subs
    assert {b["value"] for b in got["by_type"]} == {"patent"}
    # a facet filter narrows to what it counts
    year_bucket = got["facets"]["year"][0]
    narrowed = _search(store, f"IPC={ipc[:4]}*", filters={"year": int(year_bucket["value"])})
    assert narrowed["total"] == year_bucket["count"]
    # analysis: co-applicants of this company pair, filings by year
    a = service.analyse(store, "阿波罗")
    assert a["total"] >= 10
    assert sum(b["count"] for b in a["filings"]) == a["total"]
    assert a["coapplicants"] and " × " in a["coapplicants"][0]["label"]
    assert a["applicants"][0]["label"]


def test_search_during_an_import_sees_committed_records_only(empty_index, shared_data: Path) -> None:  # noqa: ANN001
    store = empty_index
    seen: list[tuple[int, int]] = []
    errors: list[BaseException] = []

    def probe(st, changed) -> None:  # noqa: ANN001
        # runs after our index hook, right after a batch commit: index and database agree
        with st.reading() as s:
            committed = s.scalar(select(func.count()).select_from(m.Patent))
        seen.append((committed, _search(st, "TYPE=patent")["total"]))

    stop = threading.Event()

    def hammer() -> None:
        while not stop.is_set():
            try:
                _search(store, "阿波罗 OR 车辆", facets=True)
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)
                return

    AFTER_COMMIT_HOOKS.append(probe)
    thread = threading.Thread(target=hammer)
    thread.start()
    try:
        run_import(store, shared_data / PATENTS, options={"batch_size": 7})
    finally:
        stop.set()
        thread.join()
        AFTER_COMMIT_HOOKS.remove(probe)
    assert not errors, errors
    assert len(seen) >= 3
    assert all(committed == found for committed, found in seen), seen


def test_entity_merge_and_split_reach_the_index(empty_index, shared_data: Path) -> None:  # noqa: ANN001
    from xjip.hub.entity_records import merge_entities, split_entity

    store = empty_index
    run_import(store, shared_data / PATENTS)
    with store.reading() as s:
        ents = s.execute(select(m.Entity.id, m.Entity.name).where(m.Entity.name.like("阿波罗%"))
                         .order_by(m.Entity.id)).all()
    assert len(ents) >= 2
    (keep, keep_name), (gone, gone_name) = ents[0], ents[1]
    before = _search(store, "TYPE=patent", filters={"ent": str(keep)})["total"]
    gone_count = _search(store, "TYPE=patent", filters={"ent": str(gone)})["total"]
    assert gone_count > 0
    with store.session() as s:
        merge_entities(s, keep, [gone], "tester")
    assert _search(store, "TYPE=patent", filters={"ent": str(gone)})["total"] == 0
    assert _search(store, "TYPE=patent", filters={"ent": str(keep)})["total"] >= max(before, gone_count)
    owners = _search(store, f'"{gone_name}"', filters={"type": "entity"})["items"]
    assert [o["id"] for o in owners if o["id"] == gone] == []  # merged away: no longer an owner of its own
    assert keep in [o["id"] for o in owners]  # found by the alias it took over
    with store.session() as s:
        result = split_entity(s, keep, [gone_name], gone_name, "tester")
    assert _search(store, "TYPE=patent", filters={"ent": str(result["new_entity_id"])})["total"] == gone_count


def test_rebuild_swaps_atomically_while_searches_run(store, shared_data: Path) -> None:  # noqa: ANN001
    backend = backend_for(store.settings)
    run_import(store, shared_data / PATENTS)  # no index yet: the import is not slowed, nothing indexed
    assert not backend.exists()
    first = backend.rebuild(store)
    total = _search(store, "TYPE=patent")["total"]
    assert total == first["by_type"]["patent"] > 0
    errors: list[BaseException] = []
    counts: set[int] = set()
    stop = threading.Event()

    def hammer() -> None:
        while not stop.is_set():
            try:
                counts.add(_search(store, "TYPE=patent")["total"])
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)
                return

    thread = threading.Thread(target=hammer)
    thread.start()
    try:
        second = backend.rebuild(store)
    finally:
        stop.set()
        thread.join()
    assert not errors
    assert counts == {total}  # the old index or the new one, never half of one
    assert second["folder"] != first["folder"]
    assert not (backend.root / first["folder"]).exists()
    assert backend.status()["docs"] == second["done"]


def test_saved_search_hears_of_new_matches(empty_index, shared_data: Path) -> None:  # noqa: ANN001
    store = empty_index
    sid = saved.save(store, "viewer1", "香梨", "香梨", {"type": "gi"})
    other = saved.save(store, "viewer1", "no match", "TI=火星探测器", {})
    assert saved.notices(store, "viewer1") == []
    run_import(store, shared_data / GI)
    notices = {n["id"]: n for n in saved.notices(store, "viewer1")}
    assert sid in notices and other not in notices
    assert notices[sid]["new_count"] >= 1 and notices[sid]["new_sample"][0][0] == "gi"
    assert saved.notices(store, "someone_else") == []
    assert saved.mark_seen(store, "someone_else", sid) is None
    assert saved.mark_seen(store, "viewer1", sid)["new_count"] == 0
    assert saved.notices(store, "viewer1") == []


def test_law_articles_are_indexed_when_the_reference_data_loads(empty_index, shared_data: Path) -> None:  # noqa: ANN001
    from xjip.hub.reference import laws_available, load_all

    store = empty_index
    if not laws_available(str(shared_data)):
        pytest.skip("no ../shared/data/legal")
    with store.session() as s:
        load_all(s, str(shared_data))
    got = _search(store, "地理标志 AND TYPE=law", facets=True)
    assert got["total"] > 0
    item = got["items"][0]
    assert item["record_type"] == "law" and "第" in item["title"] and "<mark>" in item["snippet"]


def test_hybrid_fuses_every_registered_ranker(empty_index, shared_data: Path) -> None:  # noqa: ANN001
    """With a semantic ranker registered (the ai part's; here a stand-in that ranks one record
    first), mode=hybrid fuses it with the lexical ranking by reciprocal rank fusion."""
    from xjip.search import rankers

    store = empty_index
    run_import(store, shared_data / GI)
    with store.reading() as s:
        other = s.execute(select(m.GeographicalIndication.id).where(m.GeographicalIndication.name != "库尔勒香梨")
                          .order_by(m.GeographicalIndication.id)).scalars().first()
    real = rankers.RANKERS.pop("semantic", None)  # the ai part's, when it is loaded: set aside for the test
    try:
        assert _search(store, "库尔勒香梨")["modes"] == ["lexical"]
        rankers.register_ranker("semantic", lambda st, q, limit, filters=None: [("gi", other, 0.99)])
        lexical = _search(store, "库尔勒香梨")
        hybrid = _search(store, "库尔勒香梨", mode="hybrid")
    finally:
        rankers.RANKERS.pop("semantic", None)
        if real is not None:
            rankers.register_ranker("semantic", real)
    assert hybrid["mode"] == "hybrid" and "hybrid" in hybrid["modes"]
    assert ("gi", other) in {(i["record_type"], i["id"]) for i in hybrid["items"]}
    assert ("gi", other) not in {(i["record_type"], i["id"]) for i in lexical["items"]}
    assert rankers.get_ranker("lexical") is service.lexical_ranker
