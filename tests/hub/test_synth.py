"""The synthetic generator: deterministic, valid and unique numbers, every record marked
synthetic, values drawn from the real vocabularies, and read back by the REAL importers."""
from __future__ import annotations

import csv
import gzip
import json
import math
import re
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from xjip.hub import synth
from xjip.hub.importers.base import detect, iter_sources
from xjip.hub.numbers import canonical_cn_app, cn_type_from_app
from xjip.hub.records import PatentRecord, Rejection

N = 300


@pytest.fixture(scope="module")
def patents(shared_data: Path) -> list[synth.SynthPatent]:
    return list(synth.iter_patents(N, seed=11, shared=shared_data))


@pytest.fixture(scope="module")
def real_titles(shared_data: Path) -> dict[str, list[str]]:
    path = (shared_data / "patents/cn_ipc_classification/lxingy3_chinese-patent-ipc-classifier"
            / "title_ipc_subclasses.jsonl.gz")
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return {row["title"]: row["ipc_subclasses"] for row in map(json.loads, fh)}


def test_vocabulary_is_the_real_data(shared_data: Path) -> None:
    v = synth.load_vocabulary(str(shared_data))
    assert len(v.titles) == 9740  # the README's count
    first = v.titles[0]
    assert (first.text, first.subclasses, first.patent_type) == (
        "一种水电站高压输电线路驱鸟保护装置", ("A01M", "G06F", "H02G"), "invention")  # CN114081026A
    shz = v.by_county_name["石河子市"]
    assert (shz.county_code, shz.prefecture, shz.postcode, shz.short) == ("659001", None, "832000", "石河子")
    assert "北泉镇" in shz.townships
    assert v.by_county_name["沙依巴克区"].short == "乌鲁木齐"  # a district is named after its city
    assert v.by_county_name["察布查尔锡伯自治县"].short == "察布查尔"
    # IPC 2026.01 dropped H01L: its codes come from the English 2019 table, with no Chinese title.
    assert ("A01B1/02", "锹；铲") in v.groups["A01B"] and v.groups["H01L"]
    assert v.fields["A01B"] == "农业或林业的整地"


def test_deterministic_and_prefix_stable(shared_data: Path, patents: list[synth.SynthPatent]) -> None:
    again = [synth.csv_row(p) for p in synth.iter_patents(N, seed=11, shared=shared_data)]
    assert again == [synth.csv_row(p) for p in patents]
    shorter = [synth.csv_row(p) for p in synth.iter_patents(40, seed=11, shared=shared_data)]
    assert shorter == again[:40]
    other = [synth.csv_row(p) for p in synth.iter_patents(40, seed=12, shared=shared_data)]
    assert other != shorter


def test_numbers_valid_unique_and_of_the_real_form(patents: list[synth.SynthPatent]) -> None:
    apps = [p.app_number for p in patents]
    pubs = [p.pub_number for p in patents]
    assert len(set(apps)) == N and len(set(pubs)) == N
    for p in patents:
        assert canonical_cn_app(p.app_number) == p.app_number  # ZC 0006-2003 check digit verified
        body = p.app_body
        assert re.fullmatch(r"20(1[5-9]|2[0-3])[12]9\d{6}", body), body
        assert cn_type_from_app(p.app_number) == p.patent_type
        # CN publication numbers since 2007: type digit + 8 digits + the kind of the first publication
        first = {"invention": r"CN1\d{8}A", "utility_model": r"CN2\d{8}U"}[p.patent_type]
        assert re.fullmatch(first, p.pub_number), p.pub_number
        assert p.app_date.year == int(body[:4]) and p.app_date < p.pub_date <= synth.AS_OF + dt_days(400)
        if p.grant_date:
            assert p.grant_date >= p.pub_date and p.grant_number[:-1] == p.pub_number[:-1]
            assert p.grant_number[-1] == {"invention": "B", "utility_model": "U"}[p.patent_type]
    # The scattering is a bijection on each block (a multiplier coprime to its size).
    assert math.gcd(synth._SERIAL_MULT, synth._SERIAL_SPAN) == 1
    numbers = synth._Numbers(5)
    block = [numbers.app(2020, "invention") for _ in range(20000)]
    assert len(set(block)) == 20000


def dt_days(n: int):  # noqa: ANN201
    import datetime as dt

    return dt.timedelta(days=n)


def test_values_come_from_real_vocabularies(shared_data: Path, patents: list[synth.SynthPatent],
                                            real_titles: dict[str, list[str]]) -> None:
    v = synth.load_vocabulary(str(shared_data))
    counties = {p.county: p for p in v.places}
    kinds = set()
    for p in patents:
        assert p.title == synth.TITLE_PREFIX + p.real_title and p.real_title in real_titles
        assert {code[:4] for code in p.ipc} <= set(real_titles[p.real_title])
        for a in p.applicants:
            kinds.add(a.kind)
            place = counties[a.place.county]
            assert place.county in a.address and any(t in a.address for t in place.townships)
            if a.address[:6].isdigit():
                assert a.address[:6] == place.postcode
        assert p.legal_status in {synth.STATUS_GRANTED, synth.STATUS_EXAM, synth.STATUS_PUBLISHED, synth.STATUS_FEES,
                                  synth.STATUS_EXPIRED, synth.STATUS_REJECTED, synth.STATUS_WITHDRAWN,
                                  synth.STATUS_ABANDONED}
        if p.patent_type == "utility_model":
            assert p.kind == "U" and p.legal_status != synth.STATUS_EXAM
    assert kinds == {"company", "university", "institute", "individual"}


def test_csv_every_row_marked_and_read_by_cn_biblio(tmp_path: Path, patents: list[synth.SynthPatent],
                                                    shared_data: Path) -> None:
    path = tmp_path / "synth.csv"
    assert synth.write_cn_biblio_csv(path, N, seed=11, shared=shared_data) == N
    with open(path, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == list(synth.CSV_COLUMNS)
    assert all(r[synth.SYNTHETIC_COLUMN] == synth.SYNTHETIC_VALUE and r["名称"].startswith("[合成]") for r in rows)

    source = next(iter_sources(path))
    importer = detect(source)  # chosen from the content, as `xjip import` does
    assert importer.name == "cn_biblio"
    items = list(importer.parse(source, {}))
    assert not [i for i in items if isinstance(i, Rejection)]
    assert len(items) == N and all(isinstance(i, PatentRecord) for i in items)
    for rec, p in zip(items, patents):
        assert rec.title.startswith("[合成]") and rec.title == p.title
        assert rec.app_number == p.app_number and rec.app_date == p.app_date
        assert rec.ipc == p.ipc and rec.ipc_main == p.ipc[0]
        assert [a.name for a in rec.applicants] == [a.name for a in p.applicants]
        assert rec.inventors == p.inventors and rec.legal_status == p.legal_status
        assert rec.province_code == "65" and rec.patent_type == p.patent_type
    granted = next(r for r in items if r.legal_status == synth.STATUS_GRANTED and r.patent_type == "invention")
    assert granted.status == "granted" and granted.kind_code == "B" and granted.grant_date is not None


def test_gb18030_csv_reads_the_same(tmp_path: Path, shared_data: Path) -> None:
    utf8, gb = tmp_path / "u.csv", tmp_path / "g.csv"
    synth.write_cn_biblio_csv(utf8, 30, seed=2, shared=shared_data)
    synth.write_cn_biblio_csv(gb, 30, seed=2, encoding="gb18030", shared=shared_data)
    assert gb.read_bytes().decode("gb18030") == utf8.read_bytes().decode("utf-8-sig")

    def titles(path: Path) -> list[str]:
        source = next(iter_sources(path))
        return [r.title for r in detect(source).parse(source, {})]

    assert titles(gb) == titles(utf8) and titles(gb)[0].startswith("[合成]")


def test_xml_documents_read_by_cnipa_xml(tmp_path: Path, patents: list[synth.SynthPatent],
                                         shared_data: Path) -> None:
    n = 40
    path = tmp_path / "synth.xml"
    assert synth.write_cnipa_xml(path, n, seed=11, shared=shared_data) == n
    data = path.read_bytes()
    assert data.count(synth.XML_MARK.encode()) == n and data.count(b"<?xml ") == n
    source = next(iter_sources(path))
    importer = detect(source)
    assert importer.name == "cnipa_xml"
    items = list(importer.parse(source, {}))
    assert not [i for i in items if isinstance(i, Rejection)]
    assert len(items) == n
    formats = {"legacy": 0, "v2": 0}
    for rec, p in zip(items, patents):
        formats["v2" if "<business:PatentDocumentAndRelated " in rec.raw else "legacy"] += 1
        assert synth.XML_MARK in rec.raw
        assert rec.title == p.title and rec.title.startswith("[合成]")
        assert rec.app_number == p.app_number and rec.pub_number == p.pub_number and rec.pub_date == p.pub_date
        assert rec.app_date == p.app_date and rec.patent_type == p.patent_type
        assert rec.ipc == p.ipc
        assert [a.name for a in rec.applicants] == [a.name for a in p.applicants]
        # The importer strips the postcode; the address text is otherwise ours.
        assert rec.applicants[0].address == re.sub(r"^\d{6}\s*", "", p.applicants[0].address)
        assert rec.inventors == p.inventors and rec.agency == p.agency
        # The full text is the real fixture's (realistic size for the parser).
        assert len(rec.description or "") > 3000 and rec.claims
    assert formats["legacy"] > 5 and formats["v2"] > 5  # both real templates, both parser paths


def test_xml_zip_members(tmp_path: Path, shared_data: Path) -> None:
    path = tmp_path / "synth.zip"
    assert synth.write_cnipa_xml_zip(path, 25, seed=4, per_member=10, shared=shared_data) == 25
    with zipfile.ZipFile(path) as zf:
        assert zf.namelist() == ["synth_000001.xml", "synth_000002.xml", "synth_000003.xml"]
    titles = [r.title for s in iter_sources(path) for r in detect(s).parse(s, {})]
    assert len(titles) == 25 and all(t.startswith("[合成]") for t in titles)


def test_cli_writes_file(tmp_path: Path) -> None:
    from xjip.cli import main

    out = tmp_path / "s.csv.gz"
    result = CliRunner().invoke(main, ["--data-dir", str(tmp_path / "d"), "synth", "--patents", "15", "--seed", "9",
                                       "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["records"] == 15 and summary["path"] == str(out)
    with gzip.open(out, "rt", encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 15 and all(r["名称"].startswith("[合成]") for r in rows)


def test_pipeline_import_marks_synthetic_and_reimport_changes_nothing(store, tmp_path: Path,  # noqa: ANN001
                                                                      shared_data: Path) -> None:
    from sqlalchemy import select

    from xjip.hub import models as m
    from xjip.hub.pipeline import run_import

    n = 60
    path = tmp_path / "synth.csv"
    synth.write_cn_biblio_csv(path, n, seed=21, shared=shared_data)
    expected = {p.app_number: p for p in synth.iter_patents(n, seed=21, shared=shared_data)}
    job = run_import(store, path, options={"synthetic": True})
    assert (job.status, job.inserted_count, job.rejected_count) == ("done", n, 0)
    with store.session() as s:
        rows = s.execute(select(m.Patent.app_number, m.Patent.title, m.Patent.is_synthetic,
                                m.Patent.county_code)).all()
    assert len(rows) == n
    assert all(r.is_synthetic and r.title == expected[r.app_number].title for r in rows)
    # Every generated address names a real county and township: the gazetteer places them there.
    placed = sum(r.county_code == expected[r.app_number].applicants[0].place.county_code for r in rows)
    assert placed >= 0.95 * n, placed
    again = run_import(store, path, options={"synthetic": True})
    assert (again.status, again.inserted_count, again.updated_count, again.unchanged_count) == ("done", 0, 0, n)


# --- the other rights (template files) -------------------------------------------------------

def test_other_rights_import_through_their_templates_and_name_the_synthetic_patents(store, tmp_path: Path,  # noqa: ANN001
                                                                                    shared_data: Path) -> None:
    """Every kind of right gets a template file that the ordinary template importers read with
    no rejection; every record is stored as synthetic; transfers, licences and pledges name
    patents of the synthetic patent run they were made for, special-mark users real GIs."""
    from sqlalchemy import func, select

    from xjip.hub import models as m
    from xjip.hub.importers.templates import SPECS
    from xjip.hub.pipeline import run_import
    from xjip.hub.synth_rights import KINDS, write_rights

    synth.write_cn_biblio_csv(tmp_path / "patents.csv", 120, seed=5, shared=shared_data)
    counts = write_rights(tmp_path / "rights", 40, seed=3, patents=120, patent_seed=5, shared=shared_data)
    assert set(counts) == {*KINDS, "institution"} and all(counts.values()), counts
    for kind in counts:  # the headers are the templates' own: what an office fills in
        with open(tmp_path / "rights" / f"synthetic_{kind}.csv", encoding="utf-8-sig", newline="") as fh:
            header = next(csv.reader(fh))
        assert header[:-1] == [c.zh for c in SPECS[kind].columns] and header[-1] == synth.SYNTHETIC_COLUMN
    assert run_import(store, tmp_path / "patents.csv").inserted_count == 120
    job = run_import(store, tmp_path / "rights")
    assert (job.status, job.read_count, job.inserted_count, job.rejected_count) == (
        "done", sum(counts.values()), sum(counts.values()), 0)
    assert job.placed_count >= 0.95 * job.addressed_count > 0
    models = {"trademark": m.Trademark, "gi_mark_user": m.GIMarkUser, "copyright": m.Copyright,
              "plant_variety": m.PlantVariety, "transaction": m.RightTransaction, "pledge": m.Pledge,
              "case": m.EnforcementCase, "institution": m.Institution}
    with store.session() as s:
        for kind, model in models.items():
            rows, synthetic = s.execute(select(func.count(), func.count().filter(model.is_synthetic.is_(True)))).one()
            assert rows == counts[kind] and synthetic == rows, (kind, rows, synthetic)
        numbers = set(s.scalars(select(m.Patent.app_number)))
        assert set(s.scalars(select(m.RightTransaction.right_number))) <= numbers
        assert {n for ns in s.scalars(select(m.Pledge.right_numbers)) for n in ns} <= numbers
        real_gis = {row["name_zh"] for row in csv.DictReader(open(shared_data / "gi/xinjiang_gi_records.csv",
                                                                  encoding="utf-8-sig"))}
        assert set(s.scalars(select(m.GIMarkUser.gi_name))) <= real_gis
    again = run_import(store, tmp_path / "rights")  # re-running changes nothing
    assert (again.inserted_count, again.updated_count, again.unchanged_count) == (0, 0, sum(counts.values()))


def test_cli_writes_and_imports_the_other_rights(tmp_path: Path) -> None:
    from xjip.cli import main

    data = tmp_path / "d"
    result = CliRunner().invoke(main, ["--data-dir", str(data), "init"])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(main, ["--data-dir", str(data), "synth", "--patents", "40", "--seed", "4",
                                       "--rights", "10", "--import", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    written = sum(summary["rights"]["records"].values())
    assert summary["import"]["inserted"] == 40
    assert (summary["rights_import"]["status"], summary["rights_import"]["inserted"],
            summary["rights_import"]["rejected"]) == ("done", written, 0)
