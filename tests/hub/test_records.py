"""One application, one record (issue 9 §4) and changes that take effect (§5), on SQLite and
PostgreSQL, through the pipeline and the CLI, with the real exports in
../shared/data/patents/real_exports (read in place)."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from xjip.cli import main
from xjip.hub import models as m
from xjip.hub import numbers
from xjip.hub.pipeline import run_import
from xjip.hub.records import RecordError

REAL = "patents/real_exports"
LYFT = f"{REAL}/cn_export/ptics_global_LYFT.csv"
US_GRANT = f"{REAL}/uspto/us_grant_v4-0-B2.xml"


def cli(settings, *args: str):  # noqa: ANN001, ANN201
    result = CliRunner().invoke(main, ["--database-url", settings.database_url, "--data-dir", settings.data_dir,
                                       *args], catch_exceptions=False)
    return result


def lyft_rows(shared_data: Path) -> list[list[str]]:
    with open(shared_data / LYFT, encoding="utf-8-sig", newline="") as fh:
        return list(csv.reader(fh))


def write_rows(path: Path, rows: list[list[str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(rows)
    return path


# --- canonical numbers --------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "country", "expected"), [
    ("US16/911133", None, "US16911133"),  # Patentics
    ("16911133", "US", "US16911133"),  # USPTO <doc-number>
    ("US.201615044813.A", None, "US15044813"),  # DOCDB dotted, the filing year first
    ("PCT/CN2017/079453", None, "PCT/CN2017/079453"),
    ("PCTCN17/79453", None, "PCT/CN2017/079453"),  # the old two-digit-year form
    ("WOUS22070560", None, "PCT/US2022/070560"),  # incoPat: office, 2-digit year, serial
    ("WO2017CN112861A", None, "PCT/CN2017/112861"),  # Derwent: year, office, serial, a kind letter
    ("EP 05 255 002.7", None, "EP05255002"),  # check digit dropped, as DOCDB does
    ("EP20097219778", None, "EP09721977"),  # EPODOC-style (Patentics): year, serial, check digit
    ("特願2020-123456", None, "JP2020123456"),
    ("特願平10-123456", None, "JP1998123456"),  # Heisei 10
    ("JP20200123456", None, "JP2020123456"),  # EPODOC pads the serial to 7 digits
    ("10-2020-0012345", "KR", "KR1020200012345"),
    ("KR20200012345", None, "KR1020200012345"),  # DOCDB leaves out KIPO's right code
    ("TW109123456", None, "TW109123456"),
    ("TW20200123456", None, "TW109123456"),  # EPODOC year → ROC year
    ("HK62020012333", None, "HK62020012333"),
    ("SG20211102606S", None, "SG11202102606S"),  # the year moved back behind the 11
    ("BR 10 2019 012345-6", None, "BR102019012345"),
    ("PI0512345-6", "BR", "BRPI0512345"),
    ("CA20193112917", None, "CA3112917"),
    ("CA3093833A", None, "CA3093833"),
    ("MX/a/2020/001629", None, "MX2020001629"),
    ("AU2020413334A", None, "AU2020413334"),
    ("ZL202223220665.2", None, "CN202223220665.2"),
])
def test_application_numbers_of_every_office(value, country, expected):  # noqa: ANN001
    assert numbers.canonical_app(value, country) == expected


@pytest.mark.parametrize(("value", "expected"), [
    ("SG11202102606SA", "SG11202102606SA"),  # the serial ends with its check letter, then the kind
    ("USD831053", "USD831053"),
    ("US.2012057518.A1", "US20120057518A1"),  # DOCDB's pre-grant publication
    ("HK19144322M004S", "HK19144322M004S"),
    ("TWI123456B", "TWI123456B"),
    ("WO 02/25773", "WO2002025773"),
    ("特開2020-123456", "JP2020123456A"),
    ("BR 10 2019 012345 A2", "BR102019012345A2"),
    ("kr 10 2123456 b1", "KR102123456B1"),
    ("IN5974CHE2015A", "IN5974CHE2015A"),  # serial, the Indian office's branch, year
])
def test_publication_numbers_of_every_office(value, expected):  # noqa: ANN001
    assert numbers.canonical_pub(value) == expected


def test_a_number_of_an_office_that_does_not_exist_is_refused_by_name():
    for call in (lambda: numbers.canonical_pub("QQ123456A"), lambda: numbers.canonical_app("QQ2020123456")):
        with pytest.raises(RecordError) as err:
            call()
        assert err.value.code == "unknown_office" and err.value.params["office"] == "QQ"
    assert numbers.canonical_pub("SU1234567A1") == "SU1234567A1"  # a former office (ISO 3166-3) is known
    assert numbers.canonical_pub("EA012345B1") == "EA12345B1"  # a regional one (WIPO ST.3)


def test_first_publication_and_grant_skip_corrections():
    pubs = [("US1B9", "B9", "2024-01-01", True), ("US1B2", "B2", "2023-01-03", True),
            ("US2A1", "A1", "2020-10-15", False), ("US2A9", "A9", "2020-01-01", False)]
    first, grant = numbers.first_and_grant(pubs)
    assert (first[0], grant[0]) == ("US2A1", "US1B2")


# --- one application, one record -----------------------------------------------------------------

def test_a_real_global_export_stores_every_application_once(store, settings, shared_data, tmp_path):
    """Patentics' global export of LYFT, imported as the issue did (`xjip import FILE`): the A
    and the B publication of one US application are two rows (142 were refused as duplicate
    keys), and it names SG, HK, CA, IL, MX, IN, ES, AU applications in EPODOC-style forms (57
    were refused as bad numbers). Every application is stored, once, with all its
    publications; nothing is refused."""
    rows = lyft_rows(shared_data)[1:]
    applications = {numbers.canonical_app(r[1]) for r in rows}
    publications = {numbers.canonical_pub(r[0]) for r in rows}
    job = json.loads(cli(settings, "import", str(shared_data / LYFT), "--format", "json", "--quiet").output)
    assert (job["status"], job["read"], job["rejected"]) == ("done", len(rows), 0)
    assert job["inserted"] == len(applications) and job["merged"] == len(rows) - len(applications)
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(m.Patent)) == len(applications)
        assert set(s.scalars(select(m.PatentPublication.number))) == publications
        p = s.scalars(select(m.Patent).where(m.Patent.key == "US16911133")).one()
        assert (p.pub_number, str(p.pub_date), p.grant_number, str(p.grant_date)) == (
            "US20200327522A1", "2020-10-15", "US11544688B2", "2023-01-03")
        assert p.title == "Predictive inventory management"  # the grant's (the later publication's) title
        sg = s.scalars(select(m.Patent).where(m.Patent.key == "SG11202102606S")).one()
        assert sg.pub_number == "SG11202102606SA"
        sources = s.scalars(select(m.SourceRecord.source).where(m.SourceRecord.record_key == "US16911133")).all()
        assert sorted(sources) == ["ptics_global_LYFT.csv", "ptics_global_LYFT.csv#US20200327522A1"]
        # a title that changed between publication and grant is a recorded conflict, never lost
        c = s.scalars(select(m.PatentConflict).join(m.Patent, m.Patent.id == m.PatentConflict.patent_id)
                      .where(m.Patent.key == "US15858284")).one()
        assert (c.field, c.kept, c.other) == (
            "title", "Apparatus and method for a beam-directing system using a grated light valve",
            "Apparatus and Method for a Beam-Directing System Using a Gated Light Valve")
        # case alone is no conflict (the B row's title and the A row's in capitals)
        assert s.scalar(select(func.count()).select_from(m.PatentConflict).where(m.PatentConflict.patent_id == p.id)) == 0
    again = run_import(store, shared_data / LYFT)
    assert (again.inserted_count, again.updated_count, again.merged_count, again.unchanged_count) == (
        0, 0, 0, len(rows))


def test_the_order_of_the_rows_does_not_change_the_record(store, shared_data, tmp_path):
    """The A row before the B row, or after: the same record (the later publication's values)."""
    rows = lyft_rows(shared_data)
    mine = [r for r in rows[1:] if r[1] == "US15/858284"]
    assert [r[0][-2:] for r in mine] == ["B2", "A1"]
    run_import(store, write_rows(tmp_path / "b_first.csv", [rows[0], *mine]))
    with store.session() as s:
        first = s.scalars(select(m.Patent)).one()
        expected = (first.title, first.pub_number, first.grant_number, first.kind_code)
    assert expected[0].startswith("Apparatus and method for a beam-directing system using a grated")
    store.dispose()
    other = type(store)(store.settings.__class__.from_env(
        database_url=store.settings.database_url, data_dir=str(tmp_path / "second")))
    with other.session() as s:
        for table in reversed(m.Base.metadata.sorted_tables):
            if table.name in ("patent_publication", "patent_conflict", "patent_party", "patent_event",
                              "patent_family_member", "patent_text", "patent", "source_record", "import_source"):
                s.execute(table.delete())
    run_import(other, write_rows(tmp_path / "a_first.csv", [rows[0], *reversed(mine)]))
    with other.session() as s:
        p = s.scalars(select(m.Patent)).one()
        assert (p.title, p.pub_number, p.grant_number, p.kind_code) == expected
        assert s.scalar(select(func.count()).select_from(m.PatentConflict)) == 1
    other.dispose()


def _us_grant_of_16911133(shared_data: Path, path: Path) -> Path:
    """The real USPTO grant XML, renumbered as the grant of application 16/911,133."""
    text = (shared_data / US_GRANT).read_text(encoding="utf-8")
    for old, new in (("06857133", "11544688"), ("20050222", "20230103"), ("10141259", "16911133"),
                     ("20020507", "20200624"), ("20030208827", "20200327522"), ("20031113", "20201015"),
                     ("Method and apparatus for manufacturing and installing water resistant cover on a limb",
                      "Predictive inventory management")):
        assert old in text
        text = text.replace(old, new)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("order", ["uspto-first", "patentics-first"])
def test_uspto_xml_and_patentics_rows_of_one_application_are_one_record(store, shared_data, tmp_path, order):
    rows = lyft_rows(shared_data)
    files = [_us_grant_of_16911133(shared_data, tmp_path / "us_grant.xml"),
             write_rows(tmp_path / "ptics.csv", [rows[0], *[r for r in rows[1:] if r[1] == "US16/911133"]])]
    if order == "patentics-first":
        files.reverse()
    for path in files:
        assert run_import(store, path).rejected_count == 0
    with store.session() as s:
        p = s.scalars(select(m.Patent)).one()
        assert (p.key, p.app_number, p.pub_number, p.grant_number) == (
            "US16911133", "US16911133", "US20200327522A1", "US11544688B2")
        assert sorted(s.scalars(select(m.PatentPublication.number))) == ["US11544688B2", "US20200327522A1"]
        assert sorted(s.scalars(select(m.SourceRecord.source))) == ["ptics.csv", "ptics.csv#US20200327522A1",
                                                                   "us_grant.xml"]
        assert s.scalar(select(func.count()).select_from(m.PatentConflict)) == 0  # titles agree (case aside)
        assert p.inventors  # both sources add what they know


def test_a_publication_number_of_an_unknown_office_is_a_located_bilingual_rejection(store, settings, tmp_path):
    """Bad input: a row whose publication number names no office. Refused, located at the
    file's own column, naming the office in both languages; the other rows, and what was
    stored before, are kept."""
    header = ["公开号", "申请号", "标题", "申请日", "公开日"]
    before = write_rows(tmp_path / "before.csv", [header, ["US11544688B2", "US16/911133",
                                                          "Predictive inventory management", "20200624", "20230103"]])
    assert json.loads(cli(settings, "import", str(before), "--format", "json", "--quiet").output)["inserted"] == 1
    path = write_rows(tmp_path / "offices.csv", [
        header,
        ["QQ1234567A", "", "Mystery device", "20200101", "20210101"],
        ["US20200327522A1", "US16/911133", "PREDICTIVE INVENTORY MANAGEMENT", "20200624", "20201015"]])
    data = json.loads(cli(settings, "import", str(path), "--format", "json", "--quiet").output)
    assert (data["status"], data["inserted"], data["updated"], data["rejected"]) == ("done", 0, 1, 1)
    with store.session() as s:
        rej = s.scalars(select(m.ImportRejection).where(m.ImportRejection.job_id == data["id"])).one()
        p = s.scalars(select(m.Patent)).one()
        assert (p.pub_number, p.grant_number, p.title) == ("US20200327522A1", "US11544688B2",
                                                          "Predictive inventory management")
    assert (rej.code, rej.field, rej.record, rej.line) == ("unknown_office", "公开号", 1, 2)
    assert "“QQ”" in rej.message_zh and "QQ1234567A" in rej.message_zh
    assert "'QQ'" in rej.message_en and "WIPO ST.3" in rej.message_en
    shown = cli(settings, "jobs", "show", str(data["id"])).output
    assert "unknown_office [公开号]" in shown


def test_parse_processes_merge_the_same_way(shared_data, tmp_path, db_url):  # noqa: ANN001
    """A file parsed by parse processes (windows prepared side by side, written in order):
    the rows of one application still make one record."""
    from xjip.hub.store import Store
    from xjip.settings import Settings

    settings = Settings.from_env(database_url=db_url, data_dir=str(tmp_path / "d"),
                                 shared_data_dir=str(shared_data), import_batch_size=50, import_parallel_mb=0)
    store = Store(settings)
    try:
        rows = lyft_rows(shared_data)[1:]
        job = run_import(store, shared_data / LYFT)
        applications = {numbers.canonical_app(r[1]) for r in rows}
        assert (job.inserted_count, job.merged_count, job.rejected_count) == (
            len(applications), len(rows) - len(applications), 0)
        with store.session() as s:
            assert s.scalar(select(func.count()).select_from(m.Patent)) == len(applications)
            assert s.scalar(select(m.Patent.grant_number).where(m.Patent.key == "US16911133")) == "US11544688B2"
    finally:
        store.dispose()


# --- changing how a file is read takes effect ---------------------------------------------------

def test_a_failed_file_imported_again_with_a_mapping_uses_it(store, settings, tmp_path):
    """The first run fails (columns nobody knows); the same file again with --mapping is read
    with it, instead of resuming the failed job and ending 'done' with nothing."""
    path = write_rows(tmp_path / "odd.csv", [["专利号码", "题目", "公开文献"],
                                              ["CN202223220665.2", "一种无人机机载多功能盒", "CN218751475U"]])
    first = cli(settings, "import", str(path), "--format", "json", "--quiet")
    assert first.exit_code == 1 and json.loads(first.output)["status"] == "failed"
    again = cli(settings, "import", str(path), "--format", "json", "--quiet")  # as it was: it fails again, honestly
    assert again.exit_code == 1 and json.loads(again.output)["status"] == "failed"
    mapping = tmp_path / "map.json"
    mapping.write_text(json.dumps({"专利号码": "app_number", "题目": "title", "公开文献": "pub_number"}), encoding="utf-8")
    mapped = cli(settings, "import", str(path), "--mapping", str(mapping), "--format", "json", "--quiet")
    data = json.loads(mapped.output)
    assert mapped.exit_code == 0 and (data["status"], data["inserted"]) == ("done", 1)
    with store.session() as s:
        assert s.scalar(select(m.Patent.pub_number)) == "CN218751475U"
        assert [j.status for j in s.scalars(select(m.ImportJob).order_by(m.ImportJob.id))] == ["failed", "done"]


def test_a_failed_file_imported_again_with_an_importer_uses_it(store, settings, tmp_path):
    path = write_rows(tmp_path / "plain.txt", [["foo", "bar"], ["1", "2"]])
    assert json.loads(cli(settings, "import", str(path), "--format", "json", "--quiet").output)["status"] == "failed"
    forced = json.loads(cli(settings, "import", str(path), "--importer", "cn_biblio", "--format", "json",
                            "--quiet").output)
    assert forced["format"] == "cn_biblio" and forced["status"] == "failed"  # read by it: its own located error
    assert forced["error"]["code"] == "unmapped_columns"


def test_the_same_file_read_with_another_mapping_updates_what_changes(store, settings, tmp_path):
    path = write_rows(tmp_path / "two_titles.csv", [
        ["申请号", "名称A", "名称B"],
        ["CN202223220665.2", "一种无人机机载多功能盒", "一种无人机机载多功能盒"],
        ["CN202211740332.4", "一种旧的名称", "一种新的名称"]])
    maps = []
    for column in ("名称A", "名称B"):
        mp = tmp_path / f"map_{column}.json"
        mp.write_text(json.dumps({"申请号": "app_number", column: "title"}), encoding="utf-8")
        maps.append(mp)
    one = json.loads(cli(settings, "import", str(path), "--mapping", str(maps[0]), "--format", "json").output)
    assert one["inserted"] == 2
    two = json.loads(cli(settings, "import", str(path), "--mapping", str(maps[1]), "--format", "json").output)
    assert (two["updated"], two["unchanged"]) == (1, 1)  # only the record whose title the mapping changes
    with store.session() as s:
        assert s.scalar(select(m.Patent.title).where(m.Patent.key == "CN202211740332.4")) == "一种新的名称"


def test_two_different_files_of_one_name_are_two_sources(store, settings, tmp_path, shared_data):
    rows = lyft_rows(shared_data)
    a = write_rows(tmp_path / "a" / "response.csv", [rows[0], *rows[1:40]])
    b = write_rows(tmp_path / "b" / "response.csv", [rows[0], *rows[20:60]])  # 20 records in both
    for path in (a, b):
        assert json.loads(cli(settings, "import", str(path), "--format", "json", "--quiet").output)["rejected"] == 0
    for path in (a, b):  # each a second time: nothing of it changed, nothing is 'updated'
        data = json.loads(cli(settings, "import", str(path), "--format", "json", "--quiet").output)
        assert (data["updated"], data["merged"], data["unchanged"]) == (0, 0, data["read"])
    with store.session() as s:
        names = set(s.scalars(select(m.SourceRecord.source).where(~m.SourceRecord.source.contains("#"))))
        assert names == {"response.csv", "response.csv (2)"}
        shared_key = numbers.canonical_app(rows[25][1])
        assert sorted(s.scalars(select(m.SourceRecord.source).where(m.SourceRecord.record_key == shared_key)
                                .where(~m.SourceRecord.source.contains("#")))) == ["response.csv", "response.csv (2)"]


def test_migration_0005_lists_the_publications_stored_patents_already_name(store, shared_data, tmp_path):
    """A database of the earlier schema with patents: upgraded, each patent's first publication
    and grant are its publications, and importing its other row merges as usual."""
    from alembic import command
    from sqlalchemy import text

    try:
        command.downgrade(store.alembic_config(), "0003")
        with store.engine.begin() as conn:
            conn.execute(text("INSERT INTO patent (key, country, app_number, pub_number, pub_date, grant_number, "
                              "grant_date, kind_code, title, is_synthetic, source) VALUES "
                              "('US16911133', 'US', 'US16911133', 'US11544688B2', '2023-01-03', 'US11544688B2', "
                              "'2023-01-03', 'B2', 'Predictive inventory management', false, 'old.csv'), "
                              "('CN202110000001.1', 'CN', 'CN202110000001.1', 'CN113000001A', '2021-06-01', "
                              "'CN113000001B', '2023-02-03', 'A', 'x', false, 'old.csv')"))
        store.upgrade()
        with store.session() as s:
            pubs = sorted((p.number, p.kind, str(p.date), p.is_grant) for p in s.scalars(select(m.PatentPublication)))
        assert pubs == [("CN113000001A", "A", "2021-06-01", False), ("CN113000001B", "B", "2023-02-03", True),
                        ("US11544688B2", "B2", "2023-01-03", True)]
        rows = lyft_rows(shared_data)
        path = write_rows(tmp_path / "a_row.csv", [rows[0], *[r for r in rows[1:] if r[0] == "US20200327522A1"]])
        assert run_import(store, path).updated_count == 1
        with store.session() as s:
            p = s.scalars(select(m.Patent).where(m.Patent.key == "US16911133")).one()
            assert (p.pub_number, p.grant_number, p.title) == ("US20200327522A1", "US11544688B2",
                                                              "Predictive inventory management")
    finally:
        store.upgrade()  # the next test of this worker finds the schema at head


def test_corrections_are_publications_of_the_record_never_its_first_or_its_grant(store, settings, tmp_path):
    """An application's A, its B, and the corrected reprints A8 and B9, as four rows in any order."""
    header = ["公开（公告）号", "申请号", "名称", "申请日", "公开（公告）日"]
    app = "CN202110000001.6"
    rows = [["CN113000001B9", app, "一种滴灌带回收装置", "2021-01-04", "2024-03-01"],
            ["CN113000001A", app, "一种滴灌带回收装置", "2021-01-04", "2021-06-01"],
            ["CN113000001B", app, "一种滴灌带回收装置", "2021-01-04", "2023-02-03"],
            ["CN113000001A8", app, "一种滴灌带回收装置", "2021-01-04", "2021-07-01"]]
    data = json.loads(cli(settings, "import", str(write_rows(tmp_path / "c.csv", [header, *rows])),
                          "--format", "json", "--quiet").output)
    assert (data["inserted"], data["merged"], data["rejected"]) == (1, 3, 0)
    with store.session() as s:
        p = s.scalars(select(m.Patent)).one()
        assert (p.pub_number, str(p.pub_date), p.grant_number, str(p.grant_date)) == (
            "CN113000001A", "2021-06-01", "CN113000001B", "2023-02-03")
        assert sorted(s.scalars(select(m.PatentPublication.number))) == [
            "CN113000001A", "CN113000001A8", "CN113000001B", "CN113000001B9"]


def test_a_docdb_placeholder_application_number_keys_the_record_on_its_publication():
    """incoPat writes DOCDB's placeholder for an unknown application (the publication's number,
    kind D: 'US3440903D' beside US3440903A, as in the real Ford export); it names no application."""
    from xjip.hub.importers.cn_biblio import build_record

    rec = build_record({"app_number": "US3440903D", "pub_number": "US3440903A", "title": "液压动力传动机构"})
    assert (rec.app_number, rec.pub_number, rec.country) == (None, "US3440903A", "US")
    reissue = build_record({"app_number": "US26269D", "pub_number": "USRE026269E", "title": "面板横移和支撑装置"})
    assert reissue.app_number is None and reissue.pub_number.startswith("USRE")
    with pytest.raises(RecordError) as err:  # a D number that is not this row's publication is still refused
        build_record({"app_number": "US3440904D", "pub_number": "US3440903A", "title": "x"})
    assert err.value.code == "bad_number"


def test_the_claim_count_an_export_states_is_stored(store, shared_data: Path, tmp_path: Path) -> None:
    """Patentics' 权利要求数 (and Derwent's 权利要求计数) give the number of claims of a patent whose
    claims the export does not list: stored as `claims_count`, which the value score reads. A
    count that is not a whole number is refused, located at its column."""
    rows = lyft_rows(shared_data)
    col = rows[0].index("权利要求数")
    stated = {r[rows[0].index("公开号")].split('"')[-2] if r[rows[0].index("公开号")].startswith("=") else
              r[rows[0].index("公开号")]: r[col] for r in rows[1:31]}
    run_import(store, write_rows(tmp_path / "lyft30.csv", rows[:31]))
    with store.reading() as s:
        counts = dict(s.execute(select(m.Patent.pub_number, m.Patent.claims_count)).all())
    assert sum(1 for c in counts.values() if c) >= 25
    known = [(n, v) for n, v in stated.items() if v.strip().isdigit() and int(v) > 0]
    matched = [n for n, v in known if any(counts.get(p) == int(v) for p in counts if p and n and p.startswith(n[:10]))]
    assert len(matched) >= len(known) * 0.9
    bad = [list(r) for r in rows[:3]]
    bad[1][col] = "十二"
    job = run_import(store, write_rows(tmp_path / "bad.csv", bad))
    with store.reading() as s:
        rej = s.execute(select(m.ImportRejection.code, m.ImportRejection.field, m.ImportRejection.record)
                        .where(m.ImportRejection.job_id == job.id)).one()
    assert tuple(rej) == ("bad_value", "权利要求数", 1)
