"""Semantic search over every embedded record type, on SQLite and PostgreSQL: the after-commit hook
queues trademarks, GIs, copyrights… (not owners or transfers), `enqueue_missing` works per type,
a described sentence sharing no word with a record finds it (the real encoder, a few records: one
embedding per test), the type filter, the mixed result list in the API and the page, and a data
dir written before other types were embedded (patents' vectors only) still searched."""
from __future__ import annotations

import csv
import gzip
from pathlib import Path

import pytest
from sqlalchemy import func, select

import xjip.search.semantic  # noqa: F401 - subscribes the hook, registers the ranker
from xjip.hub import models as m
from xjip.hub.pipeline import run_import
from xjip.hub.store import mark_changed
from xjip.search.semantic import embed, search
from xjip.search.semantic.encoder import e5
from xjip.search.semantic.index import VectorIndex, type_index
from xjip.search.semantic.texts import EMBEDDED_TYPES, patent_text, texts_of

GI_CSV = Path("gi/xinjiang_gi_records.csv")
TM_CSV = Path("trademarks/records/opposed_applications_2023.csv.gz")
GI_NAMES = ("伊犁薰衣草精油", "玛纳斯碧玉", "博斯腾湖鲤鱼", "温宿大米", "库尔勒香梨")
TM_NUMBERS = ("1183887", "1231237", "1215285", "1196669", "1209903")  # electric fences, bird repeller, cruises, cream, toys
# No real copyright register is public: four records made up here, flagged synthetic.
COPYRIGHTS = [("天山牧歌", "works", "音乐作品", "王小明"), ("棉田智能灌溉控制系统V1.0", "software", "应用软件", "新疆某农业科技有限公司"),
              ("胡杨林风光摄影集", "works", "摄影作品", "李某某"), ("维吾尔族传统刺绣图案", "works", "美术作品", "喀什某文化传播有限公司")]


def _queued(store) -> dict[str, int]:  # noqa: ANN001
    with store.reading() as s:
        return dict(s.execute(select(m.EmbedQueue.record_type, func.count()).where(m.EmbedQueue.model == "e5")
                              .group_by(m.EmbedQueue.record_type)).all())


def _load(store, shared: Path, *, hook: bool, with_gis: bool = True) -> dict[str, dict[str, int]]:  # noqa: ANN001
    """A few real GIs and trademarks and the made-up copyrights, written as an edit would be
    (`mark_changed` → the after-commit hooks) when `hook`, silently otherwise."""
    with open(shared / GI_CSV, encoding="utf-8", newline="") as fh:
        gi_rows = {r["name_zh"]: r for r in csv.DictReader(fh) if r["name_zh"] in GI_NAMES}
    with gzip.open(shared / TM_CSV, "rt", encoding="utf-8", newline="") as fh:
        tm_rows = {r["application_no"]: r for r in csv.DictReader(fh) if r["application_no"] in TM_NUMBERS}
    assert len(gi_rows) == len(GI_NAMES) and len(tm_rows) == len(TM_NUMBERS)
    gis = [m.GeographicalIndication(key=f"{r['name_zh']}|{r['gi_type']}", name=r["name_zh"], gi_system=r["gi_type"],
                                    category=r["product_category"] or None, status=r["status"][:60],
                                    protected_area_text=r["protected_area_text"] or None,
                                    registration_no=r["registration_no"] or None, source=GI_CSV.name,
                                    source_format="gi_list") for r in gi_rows.values()] if with_gis else []
    tms = [m.Trademark(key=f"AU{r['application_no']}", office="AU", app_number=r["application_no"],
                       word_element=r["mark_text"], nice_classes=r["nice_classes"].split(";"),
                       goods=r["goods_services"], owner_name=r["applicant"], source=TM_CSV.name, source_format="csv")
           for r in tm_rows.values()]
    crs = [m.Copyright(key=f"SYN-CR-{n}", title=title, kind=kind, category=category, owner_name=owner,
                       source="tests (synthetic)", source_format="orm", is_synthetic=True)
           for n, (title, kind, category, owner) in enumerate(COPYRIGHTS, start=1)]
    transfer = m.RightTransaction(key="SYN-TR-1", kind="transfer", right_type="trademark", right_number="1183887",
                                  from_party="甲公司", to_party="乙公司", source="tests (synthetic)", source_format="orm",
                                  is_synthetic=True)
    with store.session() as s:
        s.add_all([*gis, *tms, *crs, transfer])
        s.flush()
        if hook:
            for record_type, rows in (("gi", gis), ("trademark", tms), ("copyright", crs), ("transaction", [transfer])):
                mark_changed(s, record_type, [r.id for r in rows])
        return {"gi": {g.name: g.id for g in gis}, "trademark": {t.app_number: t.id for t in tms},
                "copyright": {c.title: c.id for c in crs}, "transaction": {"t": transfer.id}}


def _shares_no_word(query: str, text: str) -> bool:
    """No two consecutive characters of the query occur in the record's text (a lexical search for
    any of its words would not find the record)."""
    return not any(query[i:i + 2] in text for i in range(len(query) - 1))


def test_hook_queues_every_embedded_type(store, shared_data) -> None:  # noqa: ANN001
    # a real import of the GI list goes through the pipeline's hook
    store.upgrade()
    job = run_import(store, shared_data / GI_CSV)
    assert job.status == "done", job.error
    with store.reading() as s:
        gis = s.scalar(select(func.count()).select_from(m.GeographicalIndication))
    assert gis > 50 and _queued(store) == {"gi": gis}
    # an edit's changed records: rights queued, a transfer (no text of its own) not
    ids = _load(store, shared_data, hook=True, with_gis=False)  # the GIs are the import's
    queued = _queued(store)
    assert queued["gi"] == gis
    assert queued["trademark"] == len(TM_NUMBERS) and queued["copyright"] == len(COPYRIGHTS)
    assert "transaction" not in queued and set(queued) <= set(EMBEDDED_TYPES)
    with store.reading() as s:
        rows = set(s.execute(select(m.EmbedQueue.record_type, m.EmbedQueue.record_id)).all())
    assert {("trademark", i) for i in ids["trademark"].values()} <= rows
    assert ("transaction", ids["transaction"]["t"]) not in rows


def test_enqueue_missing_per_type(store, shared_data) -> None:  # noqa: ANN001
    store.upgrade()
    _load(store, shared_data, hook=False)
    assert _queued(store) == {}
    assert embed.enqueue_missing(store, "e5", ["trademark"]) == {"trademark": len(TM_NUMBERS)}
    assert _queued(store) == {"trademark": len(TM_NUMBERS)}
    counts = embed.enqueue_missing(store, "e5")
    assert set(counts) == set(EMBEDDED_TYPES) and counts["copyright"] == len(COPYRIGHTS) and counts["law"] == 0
    assert _queued(store) == {"trademark": len(TM_NUMBERS), "gi": len(GI_NAMES), "copyright": len(COPYRIGHTS)}
    status = embed.status(store)[0]
    assert status["queued"] == len(TM_NUMBERS) + len(GI_NAMES) + len(COPYRIGHTS)
    assert {b["record_type"]: b["queued"] for b in status["by_type"]} == {
        "trademark": len(TM_NUMBERS), "gi": len(GI_NAMES), "copyright": len(COPYRIGHTS)}
    with pytest.raises(ValueError):
        embed.enqueue(store, [1], ["e5"], "transaction")


QUERIES = [  # (sentence, type, key of the record it must find first)
    ("一种芳香的植物提取物", "gi", "伊犁薰衣草精油"),
    ("孩子们玩的东西", "trademark", "1209903"),
    ("一首关于草原放牧的歌曲", "copyright", "天山牧歌"),
    ("让庄稼自动喝水的电脑程序", "copyright", "棉田智能灌溉控制系统V1.0"),
]


def test_described_sentence_finds_every_type(client, store, shared_data) -> None:  # noqa: ANN001
    """One embedding (14 short texts) serves every check."""
    ids = _load(store, shared_data, hook=False)
    embed.enqueue_missing(store, "e5")
    result = embed.run(store, "e5", batch=32)
    assert result["by_type"] == {"trademark": len(TM_NUMBERS), "gi": len(GI_NAMES), "copyright": len(COPYRIGHTS)}
    assert type_index(store.settings.data_dir, "e5", "gi").folder.name == "e5.gi"

    with store.reading() as s:
        texts = {t: texts_of(s, t, list(ids[t].values())) for t in ("gi", "trademark", "copyright")}
    for sentence, record_type, key in QUERIES:
        wanted = ids[record_type][key]
        assert _shares_no_word(sentence, texts[record_type][wanted]), (sentence, texts[record_type][wanted])
        hits = search.semantic_ranker(store, sentence, 5)
        assert hits[0][:2] == (record_type, wanted), (sentence, hits)
        assert [s for *_, s in hits] == sorted((s for *_, s in hits), reverse=True)
        assert len({t for t, *_ in hits}) > 1  # merged across types
    # the type filter: one type, several, none that is embedded
    only = search.semantic_ranker(store, "孩子们玩的东西", 20, {"type": "trademark"})
    assert only and {t for t, *_ in only} == {"trademark"} and len(only) == len(TM_NUMBERS)
    two = search.semantic_ranker(store, "新疆的特产", 20, {"types": ["gi", "copyright"]})
    assert {t for t, *_ in two} == {"gi", "copyright"}
    assert search.semantic_ranker(store, "新疆的特产", 20, {"type": "entity"}) == []

    # the API: mixed rows with their type and the fields the list shows, owners masked for the public
    data = client.get("/api/semantic", params={"q": "一首关于草原放牧的歌曲", "limit": 20}).json()
    assert {r["record_type"] for r in data["results"]} == {"gi", "trademark", "copyright"}
    song = data["results"][0]
    assert song["id"] == ids["copyright"]["天山牧歌"] and song["owner"] == "王某" and song["class"] == "音乐作品"
    assert song["url"] == f"/records/copyright/{song['id']}" and song["is_synthetic"] is True
    fence = next(r for r in data["results"] if r["id"] == ids["trademark"]["1183887"] and r["record_type"] == "trademark")
    assert fence["number"] == "1183887" and fence["class"] == "9" and fence["owner"] == "B."  # a person's name
    assert fence["title"] == "STALLION RAIL ULTRA"
    gi_only = client.get("/api/semantic", params={"q": "一种芳香的植物提取物", "type": "gi"}).json()
    assert gi_only["type"] == "gi" and {r["record_type"] for r in gi_only["results"]} == {"gi"}
    assert gi_only["results"][0]["title"] == "伊犁薰衣草精油"
    hybrid = client.get("/api/semantic", params={"q": "一种芳香的植物提取物", "type": "gi", "mode": "hybrid"}).json()
    assert {r["record_type"] for r in hybrid["results"]} <= {"gi"} and "semantic" in hybrid["rankers"]
    for bad in ("entity", "bogus", "patent'; --"):
        response = client.get("/api/semantic", params={"q": "x", "type": bad})
        assert response.status_code == 422
        assert response.json()["error"]["message_zh"] and response.json()["error"]["message_en"]
        assert client.get("/semantic", params={"q": "x", "type": bad}).status_code == 422

    # the page: a type column in words, the filter kept
    page = client.get("/semantic", params={"q": "让庄稼自动喝水的电脑程序", "type": "copyright"})
    assert page.status_code == 200 and 'data-type="copyright"' in page.text and "著作权登记" in page.text
    assert 'data-type="gi"' not in page.text and '<option value="copyright" selected' in page.text
    assert f'href="/records/copyright/{ids["copyright"]["棉田智能灌溉控制系统V1.0"]}"' in page.text

    # similar trademarks and GIs on their pages
    toys = ids["trademark"]["1209903"]
    near = client.get(f"/api/records/trademark/{toys}/similar", params={"limit": 3}).json()["results"]
    assert near and {r["record_type"] for r in near} == {"trademark"} and toys not in [r["id"] for r in near]
    pear = ids["gi"]["库尔勒香梨"]
    assert f'hx-get="/records/gi/{pear}/similar"' in client.get(f"/records/gi/{pear}").text
    fragment = client.get(f"/records/gi/{pear}/similar")
    assert fragment.status_code == 200 and 'id="similar-table"' in fragment.text
    assert client.get("/api/records/gi/2147483647/similar").status_code == 404
    assert client.get(f"/api/records/copyright/{song['id']}/similar").status_code == 422  # no panel for this type

    status = {b["record_type"]: b for b in client.get("/api/semantic/status").json()["models"][0]["by_type"]}
    assert status["copyright"]["vectors"] == status["copyright"]["records"] == len(COPYRIGHTS)


def test_old_patent_only_data_dir_still_searched(store) -> None:  # noqa: ANN001
    """Vectors as the patent-only part wrote them (`semantic/e5/`, no queue rows) are searched as they are."""
    store.upgrade()
    titles = {"A": ("一种棉花采摘机", "包括机架、采摘头和输送装置，采摘头设有旋转的摘锭。"),
              "B": ("一种锂离子电池正极材料的制备方法", "以磷酸铁锂为原料，经球磨、烧结制得正极材料。")}
    with store.session() as s:
        patents = [m.Patent(key=k, country="CN", app_number=k, title=t, abstract=a, first_applicant="新疆某公司",
                            source="tests", source_format="orm") for k, (t, a) in titles.items()]
        s.add_all(patents)
        s.flush()
        pids = {p.key: p.id for p in patents}
    old = VectorIndex(store.settings.data_dir, "e5")  # the folder the patent-only part wrote
    old.append(list(pids.values()), e5(None).passages([patent_text(t, a, None) for t, a in titles.values()]))
    assert type_index(store.settings.data_dir, "e5", "patent").folder == old.folder
    hits = search.semantic_ranker(store, "收棉花的农业机械", 5)
    assert hits[0][:2] == ("patent", pids["A"])
    assert search.hydrate(store, hits[:1])[0]["title"] == "一种棉花采摘机"
    assert embed.enqueue_missing(store, "e5", ["patent"]) == {"patent": 0}
    status = embed.status(store)[0]
    assert status["vectors"] == status["patents"] == 2


def test_law_articles_queued_once(store) -> None:  # noqa: ANN001
    """`xjip reference sync` reports every article each time: only those without a vector are queued."""
    import numpy as np
    from sqlalchemy import delete

    store.upgrade()
    with store.session() as s:
        law = m.Law(key="商标法@2019-04-23", title="商标法", category="law")
        s.add(law)
        s.flush()
        arts = [m.LawArticle(law_id=law.id, seq=n, number=f"第{n}条", text=text)
                for n, text in ((1, "为了加强商标管理，保护商标专用权……"), (2, "国务院工商行政管理部门商标局主管全国商标注册和管理的工作。"))]
        s.add_all(arts)
        s.flush()
        ids = [a.id for a in arts]
        mark_changed(s, "law", ids)
    assert _queued(store) == {"law": 2}
    with store.reading() as s:
        assert texts_of(s, "law", ids[:1]) == {ids[0]: "商标法 第1条。为了加强商标管理，保护商标专用权……"}
    with store.session() as s:
        s.execute(delete(m.EmbedQueue))
    type_index(store.settings.data_dir, "e5", "law").append(ids[:1], np.eye(1, 4, dtype=np.float32))
    with store.session() as s:
        mark_changed(s, "law", ids)  # as a second sync does
    with store.reading() as s:
        assert s.scalars(select(m.EmbedQueue.record_id).where(m.EmbedQueue.record_type == "law")).all() == ids[1:]


def test_cli_embeds_type_by_type(settings, store, shared_data) -> None:  # noqa: ANN001
    """`xjip embed --type` as a person runs it (a child process): one progress line per type, the
    other types stay queued, and the vectors it wrote are searched."""
    import json
    import os
    import subprocess
    import sys

    store.upgrade()
    _load(store, shared_data, hook=True)
    env = {**os.environ, "XJIP_DATABASE_URL": settings.database_url, "XJIP_DATA_DIR": settings.data_dir,
           "XJIP_SHARED_DATA_DIR": settings.shared_data_dir}

    def xjip(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "xjip.cli", *args], env=env, capture_output=True, text=True,
                              timeout=300)

    done = xjip("embed", "--type", "copyright")
    assert done.returncode == 0, done.stderr
    assert "e5 · 著作权登记：4/4" in done.stderr and "商标" not in done.stderr
    assert _queued(store) == {"trademark": len(TM_NUMBERS), "gi": len(GI_NAMES)}
    status = {b["record_type"]: b for b in json.loads(xjip("embed", "--status", "--format", "json").stdout)[0]["by_type"]}
    assert status["copyright"]["vectors"] == 4 and status["trademark"]["queued"] == len(TM_NUMBERS)
    found = search.hydrate(store, search.semantic_ranker(store, "一首关于草原放牧的歌曲", 5, {"type": "copyright"}))
    assert found[0]["title"] == "天山牧歌" and {r["record_type"] for r in found} == {"copyright"}
