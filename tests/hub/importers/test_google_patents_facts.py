from xjip.hub.importers.base import detect, iter_sources
from xjip.hub.records import PatentRecord


def test_reads_the_six_xinjiang_records(shared_data):
    (source,) = iter_sources(shared_data / "patents/xinjiang_google_patents_facts/records.jsonl.gz")
    importer = detect(source)
    assert importer.name == "google_patents_facts"
    records = list(importer.parse(source, {}))
    assert len(records) == 6 and all(isinstance(r, PatentRecord) for r in records)
    goldwind = next(r for r in records if r.pub_number == "CN105673356B")
    assert goldwind.app_number == "CN201610112210.9"
    assert goldwind.title == "监测风电机组偏航制动系统运行状态的方法" and goldwind.title_en is None
    assert goldwind.applicants[0].name == "Xinjiang Goldwind Science and Technology Co Ltd"
    assert goldwind.patent_type == "invention" and goldwind.status == "granted" and goldwind.province_code == "65"
    um = next(r for r in records if r.pub_number == "CN210072893U")
    assert um.patent_type == "utility_model" and um.status == "lapsed"
    assert [p.name for p in um.applicants] == ["Xinjiang University"]  # "Individual" is not a name
