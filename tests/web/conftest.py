"""Fixtures of the web tests: the real app on SQLite and PostgreSQL, filled through the ORM from the
real files in ../shared/data (regions, GIs, CN patents), and logged-in clients per role. One
synthetic institution (marked as such) exercises the contact masking.

`ro` is one loaded database per kind shared by the read-only tests; tests that change data use the
per-test `store` (and `loaded`) of tests/conftest.py."""
from __future__ import annotations

import csv
import datetime as dt
import gzip
import json
import re
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from xjip.app import create_app
from xjip.hub import models as m
from xjip.hub.entities import name_key
from xjip.hub.store import Store, normalise_url
from xjip.i18n import both
from xjip.settings import Settings
from xjip.web import auth
from xjip.web.auth import create_user

from tests.conftest import PG_ADMIN_URL, REQUIRE_PG, _pg_available

PASSWORDS = {"admin": "test-admin-pw", "staff1": "staff-password-1", "viewer1": "viewer-password-1"}
ADMINISTERED_BY_YILI = {"654200", "654300"}  # regions/README: 塔城/阿勒泰 are administered by 伊犁州


@dataclass
class Loaded:
    """Ids and facts of what the loader wrote, for assertions."""

    patents: dict[str, int] = field(default_factory=dict)  # app number → id
    gis: dict[str, int] = field(default_factory=dict)  # "name|system" → id
    entities: dict[str, int] = field(default_factory=dict)  # name → id
    entity_keys: dict[str, int] = field(default_factory=dict)  # name key → id
    institution_id: int | None = None
    job_id: int | None = None
    patent_rows: list[dict[str, Any]] = field(default_factory=list)
    gi_rows: list[dict[str, str]] = field(default_factory=list)


def _date8(value: str | None) -> dt.date | None:
    if not value or not re.fullmatch(r"\d{8}", value) or value == "00000000":
        return None
    return dt.date(int(value[:4]), int(value[4:6]), int(value[6:]))


def _iso_date(value: str) -> dt.date | None:
    match = re.match(r"^(\d{4})-(\d{2})-(\d{2})", value or "")
    return dt.date(*map(int, match.groups())) if match else None


def _app_key(number: str | None) -> str | None:
    if not number:
        return None
    number = number.strip()
    number = re.sub(r"(?<=\.[0-9X])[A-Z]\d?$", "", number)  # Google's "CN201410236892.5A" → drop the kind letter
    return number if number.startswith("CN") else "CN" + number


STATUS = {"有权-审定授权": "granted", "审中-实质审查": "pending"}


def load_regions(session, shared: Path) -> None:  # noqa: ANN001
    with open(shared / "regions" / "xinjiang_admin_divisions.csv", encoding="utf-8", newline="") as fh:
        for r in csv.DictReader(fh):
            session.add(m.Region(code=r["code"], name_zh=r["name_zh"], level=int(r["level"]),
                                 unit_type_zh=r["unit_type_zh"] or None, parent_code=r["parent_code"] or None,
                                 prefecture_code=r["prefecture_code"] or None,
                                 administered_by="654000" if r["code"] in ADMINISTERED_BY_YILI else None,
                                 is_xpcc=r["is_xpcc_city"] == "1", xpcc_division=r["xpcc_division"] or None,
                                 name_pinyin=r["pinyin_generated"] or None, source=r["source"][:300]))


def load_entities(session, loaded: Loaded, names: list[str]) -> None:  # noqa: ANN001
    """One entity per name key (the hub's matching rule), one alias per spelling."""
    fresh: dict[str, m.Entity] = {}
    for name in dict.fromkeys(n for n in names if n):
        key = name_key(name)
        if key not in loaded.entity_keys and key not in fresh:
            fresh[key] = m.Entity(name=name, name_key=key)
    session.add_all(fresh.values())
    session.flush()
    for key, entity in fresh.items():
        loaded.entity_keys[key] = entity.id
        session.add(m.EntityAlias(entity_id=entity.id, alias=entity.name, alias_key=key, source="import"))
    for name in names:
        if name:
            loaded.entities.setdefault(name, loaded.entity_keys[name_key(name)])


def _eid(loaded: Loaded, name: str | None) -> int | None:
    return loaded.entity_keys[name_key(name)] if name else None


def load_gis(session, shared: Path, loaded: Loaded) -> None:  # noqa: ANN001
    path = shared / "gi" / "xinjiang_gi_records.csv"
    with open(path, encoding="utf-8", newline="") as fh:
        loaded.gi_rows = list(csv.DictReader(fh))
    gis = []
    for r in loaded.gi_rows:
        prefectures = [c for c in r["prefecture_codes"].split(";") if c]
        counties = [c for c in r["county_codes"].split(";") if c]
        gis.append(m.GeographicalIndication(
            key=f"{r['name_zh']}|{r['gi_type']}", name=r["name_zh"], gi_system=r["gi_type"], status=r["status"][:60],
            category=r["product_category"][:40] or None, protected_area_text=r["protected_area_text"] or None,
            authority=r["authority"] or None, announcement_no=r["announcement_no"] or None,
            approval_date=_iso_date(r["approval_date"]), approval_date_text=r["approval_date"][:60] or None,
            applicant=r["applicant_or_holder"] or None, registration_no=r["registration_no"] or None,
            confidence=r["confidence"], source_url=r["source_url"], notes=r["source_note"] or None,
            source=path.name, source_format="gi_list", is_synthetic=False,
            prefecture_code=prefectures[0] if len(prefectures) == 1 else None,
            county_code=counties[0] if len(counties) == 1 else None,
            region_code=(counties or prefectures or [None])[0], place_method="given" if prefectures else None))
    session.add_all(gis)
    session.flush()
    for index, (r, gi) in enumerate(zip(loaded.gi_rows, gis), start=1):
        loaded.gis[gi.key] = gi.id
        codes = [c for c in r["county_codes"].split(";") + r["prefecture_codes"].split(";") if c]
        for code in dict.fromkeys(codes):  # as the pipeline writes them: counties and prefectures
            prefecture = code if code.endswith("00") else code[:4] + "00"
            session.add(m.GIArea(gi_id=gi.id, region_code=code, prefecture_code=prefecture))
        session.add(m.SourceRecord(record_type="gi", record_key=gi.key, source=path.name, source_format="gi_list",
                                   locator=f"{path.name}:#{index}", content_hash="0" * 40,
                                   raw=json.dumps(r, ensure_ascii=False)))


def load_patents(session, shared: Path, loaded: Loaded) -> None:  # noqa: ANN001
    unified = shared / "patents" / "cn_patent_records_small" / "cn_records_unified.jsonl.gz"
    facts = shared / "patents" / "xinjiang_google_patents_facts" / "records.jsonl.gz"
    sources = []
    for path in (unified, facts):
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            sources += [(path, index, line.strip(), json.loads(line)) for index, line in enumerate(fh, start=1)]
    names = [a["name"] for *_, d in sources for a in d.get("applicants") or []]
    names += [n for *_, d in sources for n in (d.get("original_assignee") or [])[:1]]
    load_entities(session, loaded, names)
    patents = []
    for path, _index, _line, d in sources:
        key = _app_key(d["application_number"]) or d["publication_number"]
        if path == unified:
            province = re.search(r"\((\d{2})\)", d.get("province_code_original") or "")
            applicants = d.get("applicants") or []
            first = applicants[0]["name"] if applicants else None
            patents.append(m.Patent(
                key=key, country="CN", app_number=_app_key(d["application_number"]), app_date=_date8(d["filing_date"]),
                pub_number=d["publication_number"], pub_date=_date8(d["publication_date"]),
                grant_date=_date8(d.get("grant_date")), patent_type=(d.get("patent_type") or "").split("(")[0] or None,
                title=d["title"], abstract=d.get("abstract"), inventors=d.get("inventors") or [],
                agency="; ".join(d.get("agency") or []) or None, agents=d.get("agents") or [],
                ipc_main=d.get("ipc_main"), ipc=d.get("ipc") or [], legal_status=d.get("legal_status"),
                status=STATUS.get(d.get("legal_status") or ""), province_code=province.group(1) if province else None,
                first_applicant=first, first_applicant_entity_id=_eid(loaded, first),
                source=path.name, source_format="cn_unified", is_synthetic=False))
        else:
            first = (d.get("original_assignee") or [None])[0]
            patents.append(m.Patent(
                key=key, country="CN", app_number=key, pub_number=d["publication_number"], kind_code=d["kind"],
                title=d["title"], inventors=d.get("inventors") or [], legal_status=d.get("legal_status"),
                first_applicant=first, first_applicant_entity_id=_eid(loaded, first),
                source=path.name, source_format="google_patents_facts", is_synthetic=False))
    session.add_all(patents)
    session.flush()
    for (path, index, line, d), patent in zip(sources, patents):
        loaded.patents[patent.key] = patent.id
        loaded.patent_rows.append(d)
        for seq, a in enumerate(d.get("applicants") or [], start=1):
            address = a.get("address") or (d.get("applicant_address") if seq == 1 else None)
            session.add(m.PatentParty(patent_id=patent.id, role="applicant", seq=seq, name=a["name"], address=address,
                                      country=a.get("country"), entity_id=_eid(loaded, a["name"])))
        if d.get("claims"):
            session.add(m.PatentText(patent_id=patent.id, claims=d["claims"], description=None))
        for number in d.get("other_versions") or []:
            session.add(m.PatentFamilyMember(patent_id=patent.id, number=number, country="CN", kind=number[-1]))
        session.add(m.SourceRecord(record_type="patent", record_key=patent.key, source=path.name,
                                   source_format=patent.source_format, locator=f"{path.name}:#{index}",
                                   content_hash="0" * 40, raw=line))


def load_synthetic_institution(session, loaded: Loaded) -> None:  # noqa: ANN001
    inst = m.Institution(key="synthetic:institution:1", name="示例知识产权代理事务所（合成数据）", kind="agency",
                         address="乌鲁木齐市天山区（合成地址）", phone="0991-0000000", contact="合成联系人",
                         prefecture_code="650100", county_code="650102", region_code="650102",
                         source="tests/web (synthetic)", source_format="orm", is_synthetic=True)
    session.add(inst)
    session.flush()
    loaded.institution_id = inst.id


def load_job(session, loaded: Loaded) -> None:  # noqa: ANN001
    """A finished job with two located rejections, as the pipeline records them."""
    job = m.ImportJob(path="/nonexistent/xinjiang_gi_records.csv", display_name="xinjiang_gi_records.csv",
                      fingerprint="f" * 64, format="gi_list", status="done", created_by="staff1", bytes_total=100,
                      bytes_done=100, read_count=95, inserted_count=93, rejected_count=2, checkpoint={}, options={})
    session.add(job)
    session.flush()
    for line, (code, params, fld) in enumerate([("invalid_date", {"value": "2023-02-30"}, "approval_date"),
                                                ("missing_field", {}, "name_zh")], start=7):
        zh, en = both(f"import.error.{code}", **params)
        session.add(m.ImportRejection(job_id=job.id, file="xinjiang_gi_records.csv", record=line - 1, line=line,
                                      field=fld, code=code, message_zh=zh, message_en=en))
    loaded.job_id = job.id


def load_all(store: Store, shared: Path) -> Loaded:
    loaded = Loaded()
    with store.session() as s:
        load_regions(s, shared)
        load_gis(s, shared, loaded)
        load_patents(s, shared, loaded)
        load_synthetic_institution(s, loaded)
        load_job(s, loaded)
    return loaded


@pytest.fixture(autouse=True)
def cheap_scrypt(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests hash many passwords: a lower scrypt cost N (stored in each hash, so verification is the
    real code path). `test_password_hash_format` checks the production cost."""
    monkeypatch.setattr(auth, "_N", 2 ** 10)


@pytest.fixture
def loaded(store: Store, shared_data: Path) -> Loaded:
    return load_all(store, shared_data)


@dataclass
class ReadOnly:
    """One loaded database per kind for the whole session, for tests that only read (logins and
    their audit events aside): no per-test truncate and reload."""

    settings: Settings
    store: Store
    loaded: Loaded
    app: Any
    client: TestClient


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def ro(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Iterator[ReadOnly]:
    folder = tmp_path_factory.mktemp(f"web_ro_{request.param}")
    admin_engine, name = None, None
    if request.param == "sqlite":
        shutil.copy(request.getfixturevalue("sqlite_template"), folder / "xjip.db")
        url = f"sqlite:///{folder / 'xjip.db'}"
    else:
        problem = _pg_available()
        if problem:
            message = f"PostgreSQL not reachable at {PG_ADMIN_URL}: {problem}"
            if REQUIRE_PG:
                pytest.fail(message)
            pytest.skip(message)
        name = f"xjip_webro_{uuid.uuid4().hex[:10]}"
        admin_engine = create_engine(normalise_url(PG_ADMIN_URL), isolation_level="AUTOCOMMIT")
        with admin_engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    settings = Settings.from_env(database_url=url, data_dir=str(folder / "data"), shared_data_dir=str(shared_data),
                                 admin_password=PASSWORDS["admin"])
    store = Store(settings)
    store.upgrade()
    loaded = load_all(store, shared_data)
    app = create_app(settings, store)
    with TestClient(app) as client:
        with store.session() as s:
            create_user(s, "staff1", PASSWORDS["staff1"], "staff")
            create_user(s, "viewer1", PASSWORDS["viewer1"], "viewer")
        yield ReadOnly(settings, store, loaded, app, client)
    store.dispose()
    if admin_engine is not None:
        with admin_engine.connect() as conn:
            conn.execute(text(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"))
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin_engine.dispose()


@pytest.fixture
def app(settings: Settings, store: Store):  # noqa: ANN201
    return create_app(settings, store)


@pytest.fixture
def client(app) -> Iterator[TestClient]:  # noqa: ANN001
    with TestClient(app) as c:
        yield c


@pytest.fixture
def users(client: TestClient, store: Store) -> dict[str, str]:
    """admin (created at start-up from settings.admin_password), staff1, viewer1."""
    with store.session() as s:
        create_user(s, "staff1", PASSWORDS["staff1"], "staff")
        create_user(s, "viewer1", PASSWORDS["viewer1"], "viewer")
    return PASSWORDS


def login(client: TestClient, username: str, password: str | None = None) -> str:
    """Log in through the JSON API; returns the session's CSRF token."""
    token = client.get("/api/session").json()["csrf_token"]
    response = client.post("/api/session", json={"username": username, "password": password or PASSWORDS[username]},
                           headers={"X-CSRF-Token": token})
    assert response.status_code == 200, response.text
    return response.json()["csrf_token"]


def client_as(app, username: str) -> tuple[TestClient, str]:  # noqa: ANN001
    c = TestClient(app)
    return c, login(c, username)
