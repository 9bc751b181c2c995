"""The demo data set: the real public data under ../shared/data (read in place, never copied)
plus a small synthetic sample, each source imported through the ordinary pipeline."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class DemoSource:
    path: str  # relative to shared_data_dir
    licence: str
    note: str


DEMO_SOURCES = [
    DemoSource("gi/xinjiang_gi_records.csv", "compiled from public web pages, each row with its source_url",
               "新疆地理标志 (partial list, 93 rows)"),
    DemoSource("patents/xinjiang_google_patents_facts/records.jsonl.gz",
               "facts from stored patents.google.com pages", "新疆申请人专利 (6 real records)"),
    DemoSource("patents/cn_patent_records_small/patentsemantix/zhuanli_zongbiao_anli.sql.gz",
               "CNIPA publications; carrying repository has no licence file", "incoPat-style SQL dump (10)"),
    DemoSource("patents/cn_patent_records_small/cnki_zhiwang_zhuanli_nlp/MaterialChemistry_18_19.xlsx",
               "CNIPA publications; carrying repository has no licence file", "CNKI export (33)"),
    DemoSource("patents/cn_cnipa_xml/xml", "CNIPA publications; carrying repository has no licence file",
               "CNIPA full-text XML (9)"),
    DemoSource("patents/office_xml_examples_st36_st96_jp_us/examples", "office publications (JPO, USPTO)",
               "JPO gazette and USPTO application XML"),
    DemoSource("patents/office_xml_examples_st36_st96_jp_us/st36_wipo_examples/st36aexample/DOC00001.xml.gz",
               "EPO publication", "EPO ST.36 A1"),
    DemoSource("patents/office_xml_examples_st36_st96_jp_us/st36_wipo_examples/st36bexample/DOC00001.xml.gz",
               "EPO publication", "EPO ST.36 B1"),
    DemoSource("patents/office_xml_examples_st36_st96_jp_us/03-96-vii-example-instances/PatentPublication_Example.xml.gz",
               "WIPO ST.96 example instance (marked TEST)", "WIPO ST.96 patent example"),
    DemoSource("patents/office_xml_examples_st36_st96_jp_us/03-96-vii-example-instances/TrademarkApplication_Example.xml.gz",
               "WIPO ST.96 example instance (marked TEST)", "WIPO ST.96 trademark example"),
    DemoSource("patents/us_uspto_xml/patentsview_db_fixtures/ipgxml", "USPTO (US federal publication)",
               "USPTO weekly grant XML samples"),
    DemoSource("patents/epo_ops_family_legal/demo/examples/get_family_with_legal/response.xml.gz",
               "EPO OPS terms of use", "EPO INPADOC family with legal events"),
    DemoSource("patents/epo_ops_family_legal/demo/examples/get_family_with_biblio/response.xml.gz",
               "EPO OPS terms of use", "EPO INPADOC family with bibliographic data"),
    DemoSource("patents/epo_ops_family_legal/testdata/legal.xml.gz", "EPO OPS terms of use", "EPO legal events"),
    DemoSource("trademarks/records/wipo_gbd_test_fixtures", "GPL-3.0 fixtures of wipo-gbd-transformation; public register data",
               "WIPO Global Brand Database records"),
]


def demo_paths(shared_data_dir: str) -> list[tuple[Path, DemoSource]]:
    root = Path(shared_data_dir)
    return [(root / s.path, s) for s in DEMO_SOURCES if (root / s.path).exists()]
