"""Issue 10 §3, "Personal data shown": an owner classified `other` (a one-character name, mixed
scripts) had the full street address shown to anonymous visitors in pages, API, CSV and XLSX.
Addresses are now masked unless the party is known to be an organisation. SQLite and PostgreSQL."""
from __future__ import annotations

import csv
import datetime as dt
import io

import openpyxl
from fastapi.testclient import TestClient

from xjip.hub import models as m
from xjip.hub.queries import TYPES, is_organisation

from .conftest import client_as

PERSON, MIXED, COMPANY = "李", "Ali李", "新疆天山葡萄酒有限公司"


def _address(record_type: str, who: str) -> str:
    return f"乌鲁木齐市天山区幸福路{len(who)}号{record_type}{'甲' if who == COMPANY else '乙'}"


def _load(store) -> dict[tuple[str, str], int]:  # noqa: ANN001
    """Every kind of right with an owner address, once per owner: a person the entity classifier
    calls `other`, a mixed-script name without an entity, a company. Returns (type, owner) → id."""
    ids: dict[tuple[str, str], int] = {}
    day = dt.date(2024, 5, 6)
    with store.session() as s:
        kinds = {PERSON: "other", COMPANY: "company"}
        entity = {}
        for name, kind in kinds.items():
            e = m.Entity(name=name, name_key=name, kind=kind)
            s.add(e)
            s.flush()
            entity[name] = e.id
        for n, who in enumerate((PERSON, MIXED, COMPANY)):
            eid = entity.get(who)
            rows = {
                "trademark": m.Trademark(key=f"TM{n}", office="CN", app_date=day, word_element=f"商标{n}",
                                         owner_name=who, owner_entity_id=eid, owner_address=_address("trademark", who)),
                "copyright": m.Copyright(key=f"CR{n}", reg_date=day, title=f"作品{n}", owner_name=who,
                                         owner_entity_id=eid, owner_address=_address("copyright", who)),
                "plant_variety": m.PlantVariety(key=f"PV{n}", app_date=day, name=f"品种{n}", applicant=who,
                                                applicant_entity_id=eid,
                                                applicant_address=_address("plant_variety", who)),
                "transaction": m.RightTransaction(key=f"TX{n}", kind="transfer", right_type="patent",
                                                  right_number=f"CN2024100000{n}.X", date=day, to_party=who,
                                                  to_entity_id=eid, to_address=_address("transaction", who)),
                "pledge": m.Pledge(key=f"PL{n}", right_type="patent", reg_date=day, pledgor=who,
                                   pledgor_entity_id=eid, pledgor_address=_address("pledge", who)),
                "gi_mark_user": m.GIMarkUser(key=f"GU{n}", gi_name="吐鲁番葡萄", user_name=who, entity_id=eid,
                                             approved_date=day, address=_address("gi_mark_user", who)),
            }
            for record_type, row in rows.items():
                s.add(row)
                s.flush()
                ids[(record_type, who)] = row.id
            patent = m.Patent(key=f"CN20241000000{n}.0", country="CN", app_date=day, title=f"专利{n}",
                              first_applicant=who, first_applicant_entity_id=eid)
            s.add(patent)
            s.flush()
            s.add(m.PatentParty(patent_id=patent.id, role="applicant", seq=1, name=who, entity_id=eid,
                                address=_address("patent", who)))
            ids[("patent", who)] = patent.id
    return ids


ADDRESS = {spec.name: spec.address[0][0] for spec in TYPES.values() if spec.address}


def test_the_policy_unmasks_only_known_organisations() -> None:
    assert not is_organisation(PERSON, "other") and not is_organisation(MIXED) and not is_organisation(None)
    assert not is_organisation("", None) and not is_organisation("王建国店", None)  # 4 characters: may be a name
    assert is_organisation(COMPANY, "other") and is_organisation("李", "company") and is_organisation("Tarim University")
    assert is_organisation("乌鲁木齐市第一机床厂") and not is_organisation(COMPANY, "individual")


def test_addresses_of_parties_not_known_as_organisations_are_masked_everywhere(app, store, users) -> None:  # noqa: ANN001
    ids = _load(store)
    anonymous = TestClient(app)
    viewer, _ = client_as(app, "viewer1")
    for (record_type, who), record_id in ids.items():
        address = _address(record_type, who)
        public = anonymous.get(f"/api/records/{record_type}/{record_id}").json()
        page = anonymous.get(f"/records/{record_type}/{record_id}").text
        full = viewer.get(f"/api/records/{record_type}/{record_id}").json()
        if record_type == "patent":
            shown, seen = public["related"]["parties"][0]["address"], full["related"]["parties"][0]["address"]
        else:
            shown, seen = public["fields"][ADDRESS[record_type]], full["fields"][ADDRESS[record_type]]
            assert (ADDRESS[record_type] in public["masked"]) is (who != COMPANY)
        assert seen == address, (record_type, who)
        if who == COMPANY:
            assert shown == address and address in page, record_type
        else:
            assert shown is None and address not in page, (record_type, who)
            assert address in viewer.get(f"/records/{record_type}/{record_id}").text
    for record_type in ADDRESS:
        csv_text = anonymous.get(f"/records/{record_type}/export", params={"format": "csv"}).content.decode("utf-8-sig")
        book = openpyxl.load_workbook(io.BytesIO(anonymous.get(f"/records/{record_type}/export",
                                                               params={"format": "xlsx"}).content))
        cells = {str(c) for row in book.active.iter_rows(values_only=True) for c in row if c}
        rows = list(csv.reader(io.StringIO(csv_text)))
        assert len(rows) == 4 and len(list(book.active.rows)) == 4
        for who in (PERSON, MIXED):
            assert _address(record_type, who) not in csv_text and _address(record_type, who) not in cells
        assert _address(record_type, COMPANY) in csv_text and _address(record_type, COMPANY) in cells
        staff_csv = viewer.get(f"/records/{record_type}/export").content.decode("utf-8-sig")
        assert all(_address(record_type, who) in staff_csv for who in (PERSON, MIXED, COMPANY))


def test_the_web_readme_says_what_the_public_does_not_see() -> None:
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "xjip" / "web" / "README.md").read_text(encoding="utf-8")
    section = readme.split("## What the public does not see", 1)[1].split("\n## ", 1)[0]
    assert "known to be an organisation" in section and "`other`" in section
