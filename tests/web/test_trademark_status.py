"""A trademark's detail shows the normalised status (labelled) and the status as the office printed it."""
from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select

from xjip.hub import models as m
from xjip.hub.pipeline import run_import

FIXTURE = "trademarks/records/wipo_gbd_test_fixtures/idtm__unicode.xml"  # MarkCurrentStatusCode: Rejected


def _row(page: str, label: str) -> str:
    match = re.search(rf'<th scope="row">{re.escape(label)}</th>\s*<td>(.*?)</td>', page, re.S)
    assert match, label
    return match.group(1).strip()


def test_trademark_detail_shows_both_statuses(client: TestClient, store, shared_data: Path) -> None:  # noqa: ANN001
    assert run_import(store, shared_data / FIXTURE).inserted_count == 1
    with store.session() as s:
        tm_id = s.scalar(select(m.Trademark.id).where(m.Trademark.key == "ID:DID2017000184"))
    api = client.get(f"/api/records/trademark/{tm_id}").json()
    assert (api["fields"]["status"], api["fields"]["status_text"]) == ("refused", "Rejected")
    zh = client.get(f"/records/trademark/{tm_id}?lang=zh").text
    assert (_row(zh, "状态"), _row(zh, "状态（原文）")) == ("驳回", "Rejected")
    en = client.get(f"/records/trademark/{tm_id}?lang=en").text
    assert (_row(en, "Status"), _row(en, "Status (as given)")) == ("Refused", "Rejected")
    # the list's status filter offers the vocabulary, labelled
    listing = client.get("/records/trademark?lang=en").text
    assert '<option value="refused" >Refused</option>' in listing
