"""A bare `&` or `<` in office XML (issue 9 §7): the document is repaired, its records taken, and a
located note says where; never at the cost of safety (entity declarations still refused, the size
limit unchanged). Real files of ../shared/data/patents/real_exports read in place, with the
characters put into them."""
from __future__ import annotations

import gzip
import io
import re
from pathlib import Path
from typing import Any

import pytest

from xjip.hub.importers import _xmlstream as xs
from xjip.hub.importers.base import Source, detect
from xjip.hub.records import BaseRecord, SourceError

REAL = "patents/real_exports"
CN = "patents/cn_cnipa_xml/xml/examples"
GBD = "trademarks/records/wipo_gbd_test_fixtures"
STRAY = b"R&D x < 5 "


def mem(data: bytes, name: str = "mem.xml") -> Source:
    return Source(name, lambda: io.BytesIO(data), len(data), len(data))


def read(shared_data: Path, rel: str) -> bytes:
    data = (shared_data / rel).read_bytes()
    return gzip.decompress(data) if rel.endswith(".gz") else data


def items_of(data: bytes, name: str = "mem.xml", importer: str | None = None, **options: Any) -> list[Any]:
    """What the importer detected for `data` yields; a SourceError last."""
    src = mem(data, name)
    out: list[Any] = []
    try:
        out.extend(detect(src, importer).parse(src, options))
    except SourceError as exc:
        out.append(exc)
    return out


def records(items: list[Any]) -> list[BaseRecord]:
    return [i for i in items if isinstance(i, BaseRecord)]


def insert_after(data: bytes, anchor: bytes, text: bytes = STRAY) -> tuple[bytes, int]:
    """`data` with `text` put right after the first `anchor` (a start tag), and that line."""
    at = data.index(anchor) + len(anchor)
    at = data.index(b">", at - 1) + 1 if not anchor.endswith(b">") else at
    return data[:at] + text + data[at:], data.count(b"\n", 0, at) + 1


# --- the Repairer ------------------------------------------------------------------------

@pytest.mark.parametrize("given, expected, repairs", [
    (b"<a>R&D &amp; &#169; &#x4e2d; &nbsp; x < 5</a>", b"<a>R&amp;D &amp; &#169; &#x4e2d; &nbsp; x &lt; 5</a>",
     [(1, "&"), (1, "<")]),
    (b'<a t="A&B" u="x<y">ok</a>', b'<a t="A&amp;B" u="x&lt;y">ok</a>', [(1, "&"), (1, "<")]),
    (b"<a>&</a>\n<b>x&</b>", b"<a>&amp;</a>\n<b>x&amp;</b>", [(1, "&"), (2, "&")]),
    (b"<a>1<2 <3 <=</a>", b"<a>1&lt;2 &lt;3 &lt;=</a>", [(1, "<"), (1, "<"), (1, "<")]),
    # untouched: comments, CDATA, processing instructions, the DOCTYPE and its internal subset
    (b"<a><!-- a & b < c --><![CDATA[ x & y < z ]]><?pi a & b?></a>",
     b"<a><!-- a & b < c --><![CDATA[ x & y < z ]]><?pi a & b?></a>", []),
    (b'<!DOCTYPE a [<!ATTLIST a x CDATA "&">]>\n<a>&</a>', b'<!DOCTYPE a [<!ATTLIST a x CDATA "&">]>\n<a>&amp;</a>',
     [(2, "&")]),
    # a `<` that could begin a tag is not guessed at: the parser reports it
    (b"<a><b c>x</b> a<b</a>", b"<a><b c>x</b> a<b</a>", []),
])
def test_repairer_escapes_only_what_cannot_be_markup(given: bytes, expected: bytes,
                                                      repairs: list[tuple[int, str]]) -> None:
    fixed, repairer = xs.repair(given)
    assert fixed == expected
    assert repairer.repairs == repairs and repairer.count == len(repairs)


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 13, 64, 4096])
def test_repairer_fed_in_pieces_gives_the_same_bytes_and_lines(size: int) -> None:
    data = b'<?xml version="1.0"?>\n<root>\n' + b"".join(
        b'<item n="%d" t="A&B">R&D &amp; x < 5 <!-- & < --> <![CDATA[ & < ]]> &#169;</item>\n' % i for i in range(60)
    ) + b"</root>"
    whole, once = xs.repair(data)
    repairer = xs.Repairer()
    pieces = [repairer.feed(data[i:i + size]) for i in range(0, len(data), size)]
    pieces.append(repairer.feed(b"", final=True))
    assert b"".join(pieces) == whole
    assert repairer.count == once.count == 180
    assert repairer.repairs == once.repairs == [(3, "&"), (3, "&"), (3, "<"), (4, "&"), (4, "&"), (4, "<"),
                                                (5, "&"), (5, "&"), (5, "<"), (6, "&")]


def test_an_unclosed_comment_is_passed_on_unrepaired_past_the_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    """Waiting for the end of a construct holds bytes back; never more than REPAIR_CARRY_MAX."""
    monkeypatch.setattr(xs, "REPAIR_CARRY_MAX", 100)
    repairer = xs.Repairer()
    out = repairer.feed(b"<a><!-- " + b"& " * 200)
    assert out.endswith(b"& & ") and len(repairer.carry) == 0


# --- each XML importer, on real files -----------------------------------------------------

# (file, importer, start tag the characters go after, the field that shows them)
REAL_CASES = [
    (f"{REAL}/uspto/us_application_v4-4-A1.xml", "uspto_xml", b"<invention-title", "title"),
    (f"{REAL}/uspto/us_grants_2001_sample.xml", "uspto_xml", b"<B540><STEXT><PDAT>", "title"),
    (f"{REAL}/ep_st36/ep_application_v1-0-A1.xml", "wipo_xml", b"<B541>en</B541><B542>", "title"),
    (f"{REAL}/epo_ops/ops_biblio_CN104968889A.xml", "epo_ops", b'<invention-title lang="en"', "title"),
    (f"{REAL}/trademark/tsdr_sn76044902.xml", "trademark_xml", b"<MarkVerbalElementText>", "word_element"),
    (f"{REAL}/trademark/tsdr_rn2178784-ST-962.2.1.xml", "trademark_xml", b"<ns2:MarkVerbalElementText>",
     "word_element"),
    (f"{CN}/cn_new2.xml.gz", "cnipa_xml", b"<business:InventionTitle", "title"),
    (f"{GBD}/idtm__unicode.xml", "trademark_xml", b"<wo:MarkVerbalElementText", "word_element"),
]


@pytest.mark.parametrize("rel, importer, anchor, field", REAL_CASES, ids=[Path(c[0]).name for c in REAL_CASES])
def test_a_bare_ampersand_and_lt_in_a_real_file_are_repaired_and_noted(shared_data: Path, rel: str, importer: str,
                                                                        anchor: bytes, field: str) -> None:
    clean = read(shared_data, rel)
    bad, line = insert_after(clean, anchor)
    before = records(items_of(clean, Path(rel).name))
    items = items_of(bad, Path(rel).name)
    assert detect(mem(bad, Path(rel).name)).name == importer
    got = records(items)
    assert len(got) == len(items) == len(before)  # nothing rejected, nothing lost
    assert [r.natural_key() for r in got] == [r.natural_key() for r in before]
    assert getattr(got[0], field).startswith("R&D x < 5")  # read as the text it is
    (note,) = [n for r in got for n in r.import_notes]
    assert note in got[0].import_notes and not before[0].import_notes
    assert (note.code, note.locator.record, note.locator.line) == ("xml_repaired", 1, line)
    assert note.params == {"count": 2, "detail_zh": f"第 {line} 行“&”；第 {line} 行“<”",
                           "detail_en": f"'&' line {line}; '<' line {line}"}


def test_a_repaired_document_among_several_costs_nothing(shared_data: Path) -> None:
    docs = [read(shared_data, f"{CN}/{n}.xml.gz") for n in ("cn_new2", "cn_old1", "cn_old4")]
    docs = [d if d.endswith(b"\n") else d + b"\n" for d in docs]
    bad, line = insert_after(docs[1], b"<invention-title")
    items = items_of(docs[0] + bad + docs[2])
    assert [type(i).__name__ for i in items] == ["PatentRecord"] * 3
    assert [len(i.import_notes) for i in items] == [0, 1, 0]
    note = items[1].import_notes[0]
    assert (note.locator.record, note.locator.line) == (2, docs[0].count(b"\n") + line)


def test_in_a_bulk_trademark_document_the_note_is_on_its_record(shared_data: Path) -> None:
    """50 marks in one ST.66 document, streamed: the bare `&` in the 30th rereads the document
    and the 29 marks before it are not given twice."""
    ind = read(shared_data, f"{GBD}/idtm__unicode.xml")
    tm = re.search(rb"<TradeMarkApplication>.*</TradeMarkApplication>", ind, re.S).group(0)
    head, tail = ind.split(tm)
    marks = [tm.replace(b"DID2017000184", b"DID%09d" % i) for i in range(50)]
    marks[29] = marks[29].replace(b'"id">KingMa<', b'"id">King & Ma<')
    items = items_of(head + b"".join(marks) + tail)
    assert [i.app_number for i in items] == [f"DID{i:09d}" for i in range(50)]
    assert items[29].word_element == "King & Ma"
    clean = items_of(ind)[0]  # the mark read again is whole: owners, agent, goods, events
    for field in ("owners", "agent", "goods", "events", "nice_classes", "status_text"):
        assert getattr(items[29], field) == getattr(clean, field) == getattr(items[30], field), field
    assert [(i.locator.record, n.locator.record) for i in items for n in i.import_notes] == [(30, 30)]


def test_a_bare_ampersand_does_not_hide_another_error(shared_data: Path) -> None:
    clean = read(shared_data, f"{REAL}/uspto/us_application_v4-4-A1.xml")
    bad, _ = insert_after(clean, b"<invention-title")
    broken = bad.replace(b"</abstract>", b"</abstrakt>", 1)
    (err,) = items_of(broken, "us.xml")
    assert isinstance(err, SourceError) and err.rejection.code == "xml_malformed"
    assert err.rejection.locator.line == broken[:broken.index(b"</abstrakt>")].count(b"\n") + 1


# --- safety is unchanged ----------------------------------------------------------------------

LAUGHS = b"""<!DOCTYPE %s [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol9 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
"""


def attack(root: bytes, body: bytes) -> bytes:
    """An entity-expansion attack on a document that also holds a bare `&` (R&D)."""
    return b'<?xml version="1.0"?>\n' + LAUGHS % root + body.replace(b"TEXT", b"R&D &lol9;")


ATTACKS = {
    "cnipa_xml": attack(b"cn-patent-document", b"<cn-patent-document><cn-bibliographic-data><invention-title>TEXT"
                        b"</invention-title></cn-bibliographic-data></cn-patent-document>\n"),
    "trademark_xml": attack(b"Transaction", b'<Transaction xmlns="http://www.wipo.int/standards/XMLSchema/trademarks">'
                            b"<TradeMarkTransactionBody><TransactionContentDetails><TransactionData>"
                            b"<TradeMarkDetails><TradeMark><RegistrationOfficeCode>ID</RegistrationOfficeCode>"
                            b"<ApplicationNumber>X1</ApplicationNumber><WordMarkSpecification><MarkVerbalElementText>"
                            b"TEXT</MarkVerbalElementText></WordMarkSpecification></TradeMark></TradeMarkDetails>"
                            b"</TransactionData></TransactionContentDetails></TradeMarkTransactionBody>"
                            b"</Transaction>\n"),
}


@pytest.mark.parametrize("importer", sorted(ATTACKS))
@pytest.mark.parametrize("pad", [0, 70_000], ids=["short prolog", "prolog past 64 KiB"])
def test_an_entity_expansion_attack_with_a_bare_ampersand_is_still_refused(importer: str, pad: int) -> None:
    padding = b"<!-- " + b"x" * pad + b" -->\n" if pad else b""  # the declarations pushed past any head
    data = ATTACKS[importer].replace(b"<!DOCTYPE", padding + b"<!DOCTYPE")
    (err,) = items_of(data, "lol.xml", importer)
    assert isinstance(err, SourceError) and err.rejection.code == "xml_entities_forbidden"


def test_among_several_documents_the_attack_costs_only_its_own(shared_data: Path) -> None:
    il = read(shared_data, f"{GBD}/iltm__tlit.xml") + b"\n"
    items = items_of(il + ATTACKS["trademark_xml"] + il)
    assert [type(i).__name__ for i in items] == ["TrademarkRecord", "Rejection", "TrademarkRecord"]
    assert items[1].code == "xml_entities_forbidden" and items[1].locator.record == 2
    cn = read(shared_data, f"{CN}/cn_old4.xml.gz") + b"\n"
    items = items_of(cn + ATTACKS["cnipa_xml"] + cn)
    assert [type(i).__name__ for i in items] == ["PatentRecord", "Rejection", "PatentRecord"]
    assert items[1].code == "xml_entities_forbidden"


def test_the_size_limit_still_applies(shared_data: Path) -> None:
    big = b'<?xml version="1.0"?>\n<cn-patent-document>' + b"R&D " * 300_000 + b"</cn-patent-document>\n"
    (err,) = items_of(big, "big.xml", "cnipa_xml", max_doc_mb=1)
    assert isinstance(err, SourceError) and err.rejection.code == "xml_too_large"
    # within the limit as read, the escaped copy may be longer: still taken
    doc = read(shared_data, f"{CN}/cn_old4.xml.gz")
    bad, _ = insert_after(doc, b"<invention-title", b"&" * 250_000)
    assert len(bad) < 1024 * 1024 < len(bad) + 4 * 250_000
    (rec,) = items_of(bad, "amp.xml", "cnipa_xml", max_doc_mb=1)
    assert rec.title.startswith("&" * 100) and rec.import_notes[0].params["count"] == 250_000
