"""The office XML files of ../shared/data/patents/real_exports (issue 9 §7), each read whole: the
2001 USPTO weekly file, USPTO TSDR trademark XML (ST.66 and ST.96), EP ST.36 v1.0, WO and PCT
members of OPS families, the OPS search answer, dates with a time zone; and, field by field, what
each file gives (title, numbers, dates, applicant, classification, abstract, place). Variants made
from them check that the readers are general, not fitted to these files."""
from __future__ import annotations

import datetime as dt
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from xjip.hub.importers import _xmlstream as xs
from xjip.hub.importers import trademark_xml as tx
from xjip.hub.importers.base import Source, detect, iter_sources, parse_date
from xjip.hub.records import PatentRecord, Rejection, SourceError, TrademarkRecord

REAL = "patents/real_exports"


def mem(data: bytes, name: str = "mem.xml") -> Source:
    return Source(name, lambda: io.BytesIO(data), len(data), len(data))


def parse(src: Source, importer: str | None = None) -> list[Any]:
    return list(detect(src, importer).parse(src, {}))


def real(shared_data: Path, rel: str) -> list[Any]:
    (src,) = list(iter_sources(shared_data / REAL / rel))
    return parse(src)


def raw(shared_data: Path, rel: str) -> bytes:
    return (shared_data / REAL / rel).read_bytes()


# --- dates with a time zone --------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("2000-05-09-04:00", dt.date(2000, 5, 9)), ("2000-05-09Z", dt.date(2000, 5, 9)),
    ("2000-05-09+08:00", dt.date(2000, 5, 9)), ("2000-05-09+0800", dt.date(2000, 5, 9)),
    ("20000509Z", dt.date(2000, 5, 9)), ("2000-05-09T23:30:00-04:00", dt.date(2000, 5, 9)),
    ("2004-03-23-05:00", dt.date(2004, 3, 23)),
])
def test_a_date_with_a_time_zone_is_the_day_written(text: str, expected: dt.date) -> None:
    assert parse_date(text) == expected


@pytest.mark.parametrize("text", ["2000-05-09-4", "2000-05-09+8", "2000-02-30-04:00", "2000-05-09Zulu"])
def test_a_bad_date_with_a_zone_is_still_refused(text: str) -> None:
    from xjip.hub.records import RecordError

    with pytest.raises(RecordError):
        parse_date(text, "ApplicationDate")


# --- the 2001 USPTO weekly file -----------------------------------------------------------------

def test_uspto_2001_weekly_file_every_grant(shared_data: Path) -> None:
    """Documents begin with `<!DOCTYPE PATDOC PUBLIC "…">` (no system literal, no declaration)
    and write the DTD's EMPTY elements SGML-style (`<CITED-BY-EXAMINER>`)."""
    data = raw(shared_data, "uspto/us_grants_2001_sample.xml")
    recs = real(shared_data, "uspto/us_grants_2001_sample.xml")
    assert len(recs) == data.count(b"<!DOCTYPE PATDOC") == 23
    assert all(isinstance(r, PatentRecord) and not r.import_notes for r in recs)  # the format, not damage: no note
    starts = [data.count(b"\n", 0, m.start()) + 1 for m in re.finditer(rb"<!DOCTYPE PATDOC", data)]
    assert [r.locator.line for r in recs] == starts and [r.locator.record for r in recs] == list(range(1, 24))
    first = recs[0]
    assert (first.app_number, first.app_date) == ("US09125727", dt.date(1998, 8, 25))
    assert (first.grant_number, first.grant_date, first.kind_code) == ("US6314555B1", dt.date(2001, 11, 6), "B1")
    assert first.title == "Software system generation"
    assert (first.ipc, first.ipc_edition) == (["G06F9/94"], "7")
    assert first.applicants[0].name == "British Telecommunications public limited company"
    assert (first.applicants[0].address, first.applicants[0].country) == ("London", "GB")
    assert first.abstract.startswith("A system for building collaborative software agents")
    assert first.citations[:2] == ["US5421013", "US5596750"] and len(first.claims) == 40
    # every grant has its bibliographic core
    for r in recs:
        assert r.title and r.app_number and r.app_date and r.grant_number and r.grant_date and r.applicants, r.locator
        assert r.abstract or r.patent_type == "design", r.locator
    assert sum(1 for r in recs if r.ipc) == sum(1 for r in recs if r.patent_type != "design")
    text = " ".join(t for r in recs for t in [r.title or "", r.abstract or "", *r.claims])
    assert "“" in text and not re.search(r"&(rdquo|ldquo|emsp|lsqb|equals);", text)  # ISO entities resolved


def test_uspto_2001_file_with_declarations_or_small_chunks_reads_the_same(shared_data: Path) -> None:
    data = raw(shared_data, "uspto/us_grants_2001_sample.xml")
    expected = [(r.grant_number, r.title) for r in real(shared_data, "uspto/us_grants_2001_sample.xml")]
    declared = data.replace(b"<!DOCTYPE PATDOC", b'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE PATDOC')
    assert [(r.grant_number, r.title) for r in parse(mem(declared))] == expected
    for size in (100, 4096):
        pieces = [d for _, _, d in xs.iter_documents(mem(data), chunk_size=size)]
        assert len(pieces) == 23 and all(p.startswith(b"<!DOCTYPE PATDOC") for p in pieces)


def test_streamed_pieces_cut_documents_the_same_at_any_chunk_size(shared_data: Path) -> None:
    """Boundaries (a declaration, a DOCTYPE after a root, the BOM of a `cat`-ed file) found whatever
    the chunk size; the BOM goes with the document it precedes."""
    il = (shared_data / "trademarks/records/wipo_gbd_test_fixtures/iltm__tlit.xml").read_bytes()
    weekly = raw(shared_data, "uspto/us_grants_2001_sample.xml")
    doc = min((d for _, _, d in xs.iter_documents(mem(weekly))), key=len) + b"\n"  # the shortest grant
    data = il + b"\xef\xbb\xbf" + il + b"\n" + doc + doc + b"\xef\xbb\xbf" + il
    expected = [il, b"\xef\xbb\xbf" + il + b"\n", doc, doc, b"\xef\xbb\xbf" + il]
    for size in [1, 2, 3, 5, 7, 11, 13, 15, 16, 17, 19, 23, 97, 4096]:
        docs, current = [], b""
        for _offset, piece in xs._pieces(io.BytesIO(data), size):
            if piece is None:
                docs.append(current)
                current = b""
            else:
                current += piece
        docs.append(current)
        assert [d for d in docs if d] == expected, size


def test_a_doctype_with_a_public_id_only_parses_and_loads_nothing() -> None:
    doc = (b'<!DOCTYPE PATDOC PUBLIC "-//USPTO//DTD ST.32 US PATENT GRANT V2.4 2000-09-20//EN">\n'
           b"<PATDOC><SDOBI/></PATDOC>\n")
    assert xs.fix_public_doctype(doc).startswith(b'<!DOCTYPE PATDOC PUBLIC "-//USPTO//DTD ST.32 US PATENT GRANT V2.4 '
                                                 b'2000-09-20//EN" "">')
    (item,) = list(xs.iter_parsed(mem(doc)))
    assert xs.lname(item.root) == "PATDOC"
    assert xs.fix_public_doctype(b'<!DOCTYPE a PUBLIC "x" "y.dtd">') == b'<!DOCTYPE a PUBLIC "x" "y.dtd">'


def test_sgml_empty_elements_are_closed_but_not_a_truncated_document() -> None:
    fixed, names = xs.close_sgml_empty_elements(b'<A><B x="1"><C>t</C><B></A><D><B/></D>')
    assert (fixed, names) == (b'<A><B x="1"/><C>t</C><B/></A><D><B/></D>', frozenset({b"B"}))
    cut = b"<A><B><C>t</C>"  # B and A open at the end: cut short, not empty
    assert xs.close_sgml_empty_elements(cut) == (cut, frozenset())
    closed = b"<A><B>t</B><B>u</A>"  # a name closed elsewhere is not empty
    assert xs.close_sgml_empty_elements(closed) == (closed, frozenset())


# --- USPTO TSDR trademarks ----------------------------------------------------------------------

def test_tsdr_st66_python(shared_data: Path) -> None:
    """ST.66 as TSDR writes it: dates with a time zone, applicants beside the TradeMark."""
    (rec,) = real(shared_data, "trademark/tsdr_sn76044902.xml")
    assert isinstance(rec, TrademarkRecord)
    assert (rec.office, rec.app_number, rec.reg_number) == ("US", "76044902", "2824281")
    assert (rec.app_date, rec.reg_date, rec.status_date) == (dt.date(2000, 5, 9), dt.date(2004, 3, 23),
                                                             dt.date(2010, 9, 8))
    assert (rec.word_element, rec.mark_feature, rec.mark_kind) == ("PYTHON", "word", "ordinary")
    assert rec.nice_classes == ["09", "42"] and rec.goods.startswith("09: Computer programs and downloadable")
    assert rec.status_text == "A Sections 8 and 15 combined declaration has been accepted and acknowledged. (702)"
    assert [(o.name, o.address, o.country) for o in rec.owners] == [
        ("PYTHON SOFTWARE FOUNDATION", "P.O. Box 37, Wolfeboro Falls, NEW HAMPSHIRE, 038960037", "US"),
        ("Corporation for National Research Initiatives", "1895 Preston White Drive, Reston, VIRGINIA, 20191", "US")]
    assert rec.agent == "Leanne Stendell"
    assert len(rec.events) == 31
    assert (rec.events[0].code, rec.events[0].date, rec.events[0].category) == ("C15A", dt.date(2010, 9, 8), "other")
    assert rec.events[0].description == "REGISTERED - SEC. 8 (6-YR) ACCEPTED & SEC. 15 ACK."
    grant = [e for e in rec.events if e.code == "R.PR"]
    assert [(e.category, e.date) for e in grant] == [("grant", dt.date(2004, 3, 23))]
    assert "<ApplicantDetails" in rec.raw and "Wolfeboro Falls" in rec.raw  # the applicants kept with the record


def test_tsdr_st96_trademark_transaction_java(shared_data: Path) -> None:
    data = raw(shared_data, "trademark/tsdr_rn2178784-ST-962.2.1.xml")
    assert tx.trademark_xml.sniff(data[:65536], "x.xml") == 90  # the ST.96 TrademarkTransaction root
    (rec,) = real(shared_data, "trademark/tsdr_rn2178784-ST-962.2.1.xml")
    assert (rec.office, rec.app_number, rec.reg_number) == ("US", "74631225", "2178784")
    assert (rec.app_date, rec.reg_date) == (dt.date(1995, 2, 7), dt.date(1998, 8, 4))
    assert (rec.word_element, rec.mark_feature, rec.nice_classes) == ("JAVA", "word", ["09"])
    assert rec.status_text == "The registration has been renewed. (800)"
    assert [(o.name, o.address) for o in rec.owners] == [
        ("Oracle America, Inc.", "500 ORACLE PARKWAY, REDWOOD SHORES, CALIFORNIA, 94065"),
        ("Sun Microsystems, Inc.", "4150 NETWORK CIRCLE, SANTA CLARA, CALIFORNIA, 95054")]
    assert len(rec.events) == 33 and rec.events[0].code == "CORV6"


def test_tsdr_files_of_several_transactions_and_marks(shared_data: Path) -> None:
    """Two TSDR answers `cat`-ed (ST.66 then ST.96, then ST.66 again), and an ST.96 bag of two
    marks: each record with its own applicants."""
    st66 = raw(shared_data, "trademark/tsdr_sn76044902.xml")
    st96 = raw(shared_data, "trademark/tsdr_rn2178784-ST-962.2.1.xml")
    recs = parse(mem(st66 + b"\n" + st96 + b"\n" + st66.replace(b"76044902", b"76044903")))
    assert [(r.app_number, r.owners[0].name, r.locator.record) for r in recs] == [
        ("76044902", "PYTHON SOFTWARE FOUNDATION", 1), ("74631225", "Oracle America, Inc.", 2),
        ("76044903", "PYTHON SOFTWARE FOUNDATION", 3)]
    mark = re.search(rb"<ns2:Trademark>.*</ns2:Trademark>", st96, re.S).group(0)
    bag = st96.replace(mark, mark + mark.replace(b">74631225<", b">74631226<")
                       .replace(b"Oracle America, Inc.", b"Other Owner Inc."))
    recs = parse(mem(bag))
    assert [(r.app_number, r.owners[0].name) for r in recs] == [("74631225", "Oracle America, Inc."),
                                                                 ("74631226", "Other Owner Inc.")]


def test_gbd_st66_marks_keep_their_own_applicants(shared_data: Path) -> None:
    """WIPO GBD ST.66 puts ApplicantDetails inside each TradeMark: nothing is held back."""
    ind = (shared_data / "trademarks/records/wipo_gbd_test_fixtures/idtm__unicode.xml").read_bytes()
    tm = re.search(rb"<TradeMarkApplication>.*</TradeMarkApplication>", ind, re.S).group(0)
    head, tail = ind.split(tm)
    second = tm.replace(b"DID2017000184", b"DID2017000185").replace(b"Shenzhen Benmer", b"Urumqi Benmer")
    recs = parse(mem(head + tm + second + tail))
    assert [(r.app_number, r.owners[0].name[:14]) for r in recs] == [("DID2017000184", "Shenzhen Benme"),
                                                                     ("DID2017000185", "Urumqi Benmer ")]


# --- EP ST.36 v1.0 and PCT numbers ---------------------------------------------------------------

def test_ep_v1_0_ipc_in_b510_and_old_pct_numbers(shared_data: Path) -> None:
    (rec,) = real(shared_data, "ep_st36/ep_application_v1-0-A1.xml")
    assert (rec.ipc, rec.ipc_main, rec.ipc_edition) == (["C07C29/44", "C07C31/38"], "C07C29/44", "7")
    assert rec.pct_app_number == "PCT/JP2001/007711"  # B861 'JP0107711'
    assert [(f.number, f.date) for f in rec.family] == [("WO2002020444", dt.date(2002, 3, 14))]  # 'WO02020444'
    (new,) = real(shared_data, "ep_st36/ep_application_v1-5-A1.xml")
    assert (new.ipc, new.ipc_edition, new.pct_app_number) == (["B60R7/06", "B60N3/12"], "2006.01",
                                                              "PCT/CN2018/112487")


@pytest.mark.parametrize("b511, expected", [
    (" 7C 07C  29/44   A", ("C07C29/44", "7")), ("7A 61K   9/20", ("A61K9/20", "7")),
    ("6H 04N   5/445", ("H04N5/445", "6")), ("C07C 29/44", ("C07C29/44", None)),
])
def test_ep_ipc7_layouts(b511: str, expected: tuple[str, str | None]) -> None:
    from xjip.hub.importers.wipo_xml import ep_ipc7

    assert ep_ipc7(b511) == expected


# --- EPO OPS: WO and PCT members, the search answer ----------------------------------------------

def test_ops_family_wo_member_is_keyed_by_its_pct_application(shared_data: Path) -> None:
    recs = {r.pub_number: r for r in real(shared_data, "epo_ops/ops_family_EP2906782A2.xml")}
    wo = recs["WO2014059282A2"]
    assert (wo.country, wo.app_number, wo.app_date) == ("WO", "PCT/US2013/064552", dt.date(2013, 10, 11))
    assert wo.pct_app_number is None and [p.number for p in wo.priorities] == ["US61713164"]
    for pub in ("EP2906782A2", "CA2887530A1", "CN104968889A", "RU2015117646A"):
        assert recs[pub].pct_app_number == "PCT/US2013/064552", pub  # entered from the PCT application
        assert all(not p.number.startswith("PCT/") for p in recs[pub].priorities), pub
    assert recs["US20140102795A1"].pct_app_number is None  # a continuation, not a national phase
    assert {m.number for m in wo.family} >= {"WO2014059282A2", "WO2014059282A3", "EP2906782A2"}


def test_ops_docdb_pct_numbers() -> None:
    from xjip.hub.importers.epo_ops import docdb_app

    assert docdb_app("US", "2013064552", "W") == "PCT/US2013/064552"
    assert docdb_app("JP", "0107711", "W") == "PCT/JP2001/007711"
    assert docdb_app("EP", "13844704", "A") == "EP13844704"


def test_ops_search_answer_is_refused_with_what_to_fetch(shared_data: Path) -> None:
    with pytest.raises(SourceError) as err:
        real(shared_data, "epo_ops/ops_search_nine_energy.xml")
    rej = err.value.rejection
    assert (rej.code, rej.params, rej.locator.line) == ("epo_ops_search_numbers_only", {"count": 15}, 1)
    from xjip.i18n import both

    zh, en = both(f"import.error.{rej.code}", **rej.params)
    assert "15 个公开号" in zh and "published-data/search/biblio" in en


def test_ops_search_with_biblio_is_imported(shared_data: Path) -> None:
    """The search service's biblio variant answers with exchange-documents inside the
    search-result: their bibliographic data is imported."""
    biblio = raw(shared_data, "epo_ops/ops_biblio_CN104968889A.xml")
    docs = re.search(rb"<exchange-documents>.*</exchange-documents>", biblio, re.S).group(0)
    search = raw(shared_data, "epo_ops/ops_search_nine_energy.xml")
    answer = re.sub(rb"<ops:search-result>.*</ops:search-result>", b"<ops:search-result>" + docs
                    + b"</ops:search-result>", search, flags=re.S)
    (rec,) = parse(mem(answer))
    (direct,) = real(shared_data, "epo_ops/ops_biblio_CN104968889A.xml")
    assert (rec.app_number, rec.pub_number, rec.title, rec.ipc) == (direct.app_number, direct.pub_number,
                                                                    direct.title, direct.ipc)


# --- field coverage of every real XML file --------------------------------------------------------

# What each file carries, so what its records must hold: a field named here must be filled in
# every record (`place` = the applicant's country, all a foreign record can be placed by).
COVERAGE = {
    "ep_st36/ep_application_v1-0-A1.xml": "title numbers dates applicant ipc abstract place",
    "ep_st36/ep_application_v1-5-A1.xml": "title numbers dates applicant ipc abstract place",
    "ep_st36/ep_grant_v1-3-B1.xml": "title numbers dates applicant ipc place",  # a B1 prints no abstract
    "epo_ops/ops_biblio_CN104968889A.xml": "title numbers dates applicant ipc abstract",  # names only, no country
    "epo_ops/ops_family_EP2906782A2.xml": "numbers dates",  # a family without biblio: numbers and dates only
    "epo_ops/ops_legal_example_1.xml": "numbers dates",
    "uspto/us_application_v4-4-A1.xml": "title numbers dates applicant ipc abstract place",
    "uspto/us_grant_v4-0-B2.xml": "title numbers dates applicant ipc abstract place",
    "uspto/us_grants_2001_sample.xml": "title numbers dates applicant ipc abstract place",
    "trademark/tsdr_sn76044902.xml": "title numbers dates applicant ipc place",
    "trademark/tsdr_rn2178784-ST-962.2.1.xml": "title numbers dates applicant ipc place",
}


def _fields(r: Any) -> set[str]:
    if isinstance(r, TrademarkRecord):
        got = {"title": r.word_element, "numbers": r.app_number and r.reg_number, "dates": r.app_date and r.reg_date,
               "applicant": r.owners, "ipc": r.nice_classes, "place": r.owners and r.owners[0].country}
    else:
        got = {"title": r.title, "numbers": r.app_number and r.pub_number, "dates": r.app_date and r.pub_date,
               "applicant": r.applicants, "ipc": r.ipc, "abstract": r.abstract,
               "place": r.applicants and r.applicants[0].country}
    return {k for k, v in got.items() if v}


@pytest.mark.parametrize("rel", sorted(COVERAGE))
def test_field_coverage_of_every_real_xml_file(shared_data: Path, rel: str) -> None:
    recs = real(shared_data, rel)
    assert recs and not any(isinstance(r, Rejection) for r in recs)
    wanted = set(COVERAGE[rel].split())
    for r in recs:
        assert wanted <= _fields(r), (rel, r.locator, wanted - _fields(r))


def test_every_real_xml_file_is_covered_here(shared_data: Path) -> None:
    files = {str(p.relative_to(shared_data / REAL)) for p in (shared_data / REAL).rglob("*.xml")}
    assert files == set(COVERAGE) | {"epo_ops/ops_search_nine_energy.xml"}


# --- xjip import-formats ---------------------------------------------------------------------------

def test_import_formats_describes_every_importer_on_its_own() -> None:
    from xjip.cli import main
    from xjip.hub.importers.base import load_importers

    result = CliRunner().invoke(main, ["import-formats", "--format", "json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    ours = {n for n, imp in load_importers().items() if type(imp).__module__.startswith("xjip.")
            or getattr(imp, "__name__", "").startswith("xjip.")}  # not the ones other tests register
    data = {d["name"]: d for d in json.loads(result.output) if d["name"] in ours}
    assert set(data) == ours and len(ours) >= 19
    for name, d in data.items():
        assert d["description_zh"] and d["description_en"] and d["doc"] == d["description_en"], name
        assert not d["description_en"].startswith("Built-in"), name
        assert re.search(r"[\u4e00-\u9fff]", d["description_zh"]), name  # Chinese first
    descriptions = [d["description_en"] for d in data.values()]
    assert len(set(descriptions)) == len(descriptions)  # none borrows another's words
    assert "XML" not in data["trademark_csv"]["description_en"] and "CSV" in data["trademark_csv"]["description_en"]
    assert "TSDR" in data["trademark_xml"]["description_en"] and "ST.36" in data["wipo_xml"]["description_en"]
    text = CliRunner().invoke(main, ["import-formats"], catch_exceptions=False).output
    assert "中国专利著录项目导出" in text and "Trademark XML" in text and "导入模板：商标" in text
