"""The shared splitter/parser for XML files holding one or many concatenated documents,
tested on real CNIPA / EPO documents from ../shared/data."""
from __future__ import annotations

import gzip
import io
from pathlib import Path

import pytest

from xjip.hub.importers import _xmlstream as xs
from xjip.hub.importers.base import Source
from xjip.hub.records import Rejection, SourceError

CN = "patents/cn_cnipa_xml/xml/examples"
EP_A1 = "patents/office_xml_examples_st36_st96_jp_us/st36_wipo_examples/st36aexample/DOC00001.xml.gz"


def real(shared_data: Path, rel: str) -> bytes:
    return gzip.decompress((shared_data / rel).read_bytes())


def mem(data: bytes, name: str = "mem.xml") -> Source:
    return Source(name, lambda: io.BytesIO(data), len(data))


@pytest.fixture(scope="module")
def docs(shared_data: Path) -> list[bytes]:
    # cn_old1 starts with a UTF-8 BOM and carries an <?xml-stylesheet?> PI: both must not split.
    return [real(shared_data, f"{CN}/{n}.xml.gz") for n in ("cn_new2", "cn_old1", "cn_old4")]


@pytest.mark.parametrize("chunk_size", [7, 4096, xs.CHUNK])
def test_split_concatenated_documents_with_lines(docs: list[bytes], chunk_size: int) -> None:
    data = b"\n\n" + b"".join(d if d.endswith(b"\n") else d + b"\n" for d in docs)
    got = list(xs.iter_documents(mem(data), chunk_size=chunk_size))
    assert [g[0] for g in got] == [1, 2, 3]
    # start lines are lines of the original file: 2 leading blank lines, then each document
    expected_line, lines = 3, []
    for d in docs:
        lines.append(expected_line)
        expected_line += (d if d.endswith(b"\n") else d + b"\n").count(b"\n")
    assert [g[1] for g in got] == lines
    assert got[0][2].startswith(b'<?xml version="1.0" encoding="utf-8"')
    # a BOM in the middle of the stream ends the previous piece and is dropped there
    assert got[1][2].startswith(b"<?xml") and not got[0][2].rstrip().endswith(b"\xef\xbb\xbf")
    roots = [xs.lname(xs.parse_document(d, "mem.xml", r, ln)) for r, ln, d in got]
    assert roots == ["PatentDocumentAndRelated", "cn-patent-document", "cn-patent-document"]


def test_cat_of_files_with_bom_parses(docs: list[bytes]) -> None:
    data = docs[1] + docs[1]  # `cat a.xml b.xml` where both start with a BOM
    items = list(xs.iter_parsed(mem(data)))
    assert [type(i).__name__ for i in items] == ["ParsedDocument", "ParsedDocument"]
    assert items[1].line == docs[1].count(b"\n") + 1


def test_malformed_middle_document_is_a_rejection_with_file_line(docs: list[bytes]) -> None:
    bad = docs[1].replace(b"</invention-title>", b"</invention-titel>", 1)
    data = docs[0] + b"\n" + bad + b"\n" + docs[2]
    items = list(xs.iter_parsed(mem(data)))
    assert [type(i).__name__ for i in items] == ["ParsedDocument", "Rejection", "ParsedDocument"]
    rej = items[1]
    assert isinstance(rej, Rejection) and rej.code == "xml_malformed" and rej.locator.record == 2
    # the line of the broken tag in the concatenated file
    assert rej.locator.line == data[: data.index(b"</invention-titel>")].count(b"\n") + 1
    assert items[2].record == 3 and items[2].root.tag == "cn-patent-document"


def test_malformed_single_document_is_a_source_error(docs: list[bytes]) -> None:
    bad = docs[2].replace(b"</cn-inventors>", b"</cn-inventorz>", 1)
    with pytest.raises(SourceError) as err:
        list(xs.iter_parsed(mem(bad, "one.xml")))
    rej = err.value.rejection
    assert rej.code == "xml_malformed" and rej.locator.file == "one.xml" and rej.locator.record == 1
    assert rej.locator.line == bad[: bad.index(b"</cn-inventorz>")].count(b"\n") + 1


def test_truncated_last_document(docs: list[bytes]) -> None:
    cut = docs[2][: len(docs[2]) // 2]
    data = docs[0] + b"\n" + docs[1] + b"\n" + cut
    seen = []
    with pytest.raises(SourceError) as err:
        for item in xs.iter_parsed(mem(data, "cut.xml")):
            seen.append(item)
    assert [s.record for s in seen] == [1, 2]  # the good documents came first
    rej = err.value.rejection
    assert rej.code == "xml_truncated" and rej.locator.record == 3
    assert rej.locator.line == data.rstrip().count(b"\n") + 1  # the last line of the file


def test_document_over_the_size_limit(docs: list[bytes]) -> None:
    big = b'<?xml version="1.0"?>\n<a>' + b"x" * (1024 * 1024 + 10) + b"</a>\n"
    data = docs[0] + b"\n" + big
    seen = []
    with pytest.raises(SourceError) as err:
        for rec, line, _ in xs.iter_documents(mem(data), max_doc_mb=1, chunk_size=64 * 1024):
            seen.append(rec)
    assert seen == [1]
    assert err.value.rejection.code == "xml_too_large"
    assert err.value.rejection.locator.record == 2
    assert err.value.rejection.locator.line == docs[0].count(b"\n") + 2


@pytest.mark.parametrize("data", [b"", b"  \n\r\n", b"\xef\xbb\xbf\n"])
def test_empty(data: bytes) -> None:
    with pytest.raises(SourceError) as err:
        list(xs.iter_documents(mem(data)))
    assert err.value.rejection.code == "empty_file"


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<cn-patent-document><cn-bibliographic-data><invention-title>&lol9;</invention-title></cn-bibliographic-data></cn-patent-document>
"""


def xxe(path: Path) -> bytes:
    return (b'<?xml version="1.0"?>\n<!DOCTYPE d [\n<!ENTITY xxe SYSTEM "file://' + str(path).encode()
            + b'">\n]>\n<cn-patent-document><cn-bibliographic-data><invention-title>&xxe;</invention-title>'
            b"</cn-bibliographic-data></cn-patent-document>\n")


def test_billion_laughs_refused() -> None:
    with pytest.raises(SourceError) as err:
        list(xs.iter_parsed(mem(BILLION_LAUGHS, "lol.xml")))
    assert err.value.rejection.code == "xml_entities_forbidden"
    assert (err.value.rejection.locator.record, err.value.rejection.locator.line) == (1, 1)


def test_external_entity_refused_and_nothing_read(tmp_path: Path, docs: list[bytes]) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-MARKER")
    for target in (secret, Path("/etc/passwd")):
        with pytest.raises(SourceError) as err:
            list(xs.iter_parsed(mem(xxe(target), "xxe.xml")))
        assert err.value.rejection.code == "xml_entities_forbidden"
    # Among several documents the payload only costs its own record.
    data = docs[0] + b"\n" + xxe(secret) + docs[2]
    items = list(xs.iter_parsed(mem(data)))
    assert [type(i).__name__ for i in items] == ["ParsedDocument", "Rejection", "ParsedDocument"]
    assert items[1].code == "xml_entities_forbidden" and items[1].locator.record == 2
    # Even without the prolog check the parser itself would not read the file.
    from lxml import etree

    from xjip.hub.importers.base import safe_xml_parser
    parsed = etree.fromstring(xxe(secret), parser=safe_xml_parser())
    assert "TOP-SECRET" not in etree.tostring(parsed).decode()


def test_external_dtd_is_not_loaded(docs: list[bytes]) -> None:
    # A DOCTYPE naming an external DTD (as every EPO/USPTO document does) is fine: never fetched.
    doc = docs[2].replace(b"<cn-patent-document",
                          b'<!DOCTYPE cn-patent-document SYSTEM "file:///etc/passwd">\n<cn-patent-document', 1)
    (item,) = list(xs.iter_parsed(mem(doc)))
    assert xs.lname(item.root) == "cn-patent-document"
    from lxml import etree

    assert b"root:" not in etree.tostring(item.root)


def test_root_element_of_real_heads(shared_data: Path) -> None:
    head = real(shared_data, EP_A1)[:4096]  # declaration + DOCTYPE PUBLIC first
    assert xs.root_element(head)[:2] == ("ep-patent-document", "")
    toc = real(shared_data, "patents/office_xml_examples_st36_st96_jp_us/st36_wipo_examples/st36aexample/toc.xml.gz")
    assert xs.root_element(toc)[:2] == ("Application-body", "")  # after an internal DTD subset
    new = real(shared_data, f"{CN}/cn_new1.xml.gz")
    assert xs.root_element(new)[:2] == ("PatentDocumentAndRelated", "http://www.sipo.gov.cn/XMLSchema/business")
    assert xs.root_element(b"name,value\n1,2\n") is None


def test_prose_removes_line_wrap_spaces_in_cjk_only() -> None:
    from lxml import etree

    el = etree.fromstring("<c>1.一种筛选方法，该\n\t\t<br/>方法为 Lodderomyces  elongisporus 菌</c>")
    assert xs.prose(el) == "1.一种筛选方法，该方法为Lodderomyces elongisporus菌"
