"""Bibliographic facts of CN patents taken from Google Patents pages (JSON lines with
publication_number, application_number, original_assignee, current_assignee, …)."""
from __future__ import annotations

import json
from typing import Any

from xjip.hub import numbers
from xjip.hub.importers.base import Source, register
from xjip.hub.records import ItemStream, Locator, Party, PatentRecord, RecordError, Rejection

# Google's legal-status strings → our status vocabulary.
STATUS = {"active": "granted", "granted": "granted", "pending": "pending", "expired - fee related": "lapsed",
          "expired - lifetime": "expired", "ceased": "lapsed", "withdrawn": "withdrawn", "abandoned": "withdrawn"}


class GooglePatentsFacts:
    name = "google_patents_facts"
    record_types = ("patent",)

    def sniff(self, head: bytes, name: str) -> int:
        text = head[:4000].decode("utf-8", "replace")
        return 90 if text.lstrip().startswith("{") and '"publication_number"' in text and "patents.google.com" in text \
            else 0

    def parse(self, source: Source, options: dict[str, Any]) -> ItemStream:
        with source.open() as fh:
            for index, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                loc = Locator(source.name, index, index)
                try:
                    obj = json.loads(line)
                except ValueError as exc:
                    yield Rejection(loc, "bad_value", params={"value": str(exc)}, raw=line.decode("utf-8", "replace"))
                    continue
                try:
                    yield self._record(obj, loc)
                except RecordError as exc:
                    yield Rejection(loc, exc.code, exc.field, exc.params, raw=obj)

    def _record(self, obj: dict[str, Any], loc: Locator) -> PatentRecord:
        pub = numbers.canonical_pub(obj["publication_number"], field="publication_number")
        app_raw = obj.get("application_number") or ""
        # Google appends the kind letter to the application number (CN201410236892.5A).
        app = numbers.canonical_cn_app(app_raw.rstrip("ABUSYC"), "application_number") if app_raw else None
        kind = obj.get("kind") or numbers.split_pub(pub)[2]
        owners = obj.get("current_assignee") or []
        applicants = [Party(n, role="applicant") for n in obj.get("original_assignee") or [] if n != "Individual"]
        applicants += [Party(n, role="owner") for n in owners if n not in {p.name for p in applicants}]
        zh = obj.get("title_language") == "zh"
        return PatentRecord(
            country="CN", app_number=app, pub_number=pub, kind_code=kind,
            grant_number=pub if (kind or "").startswith(("B", "U", "S")) else None,
            patent_type=numbers.cn_type_from_app(app) or numbers.type_from_kind(kind),
            title=obj.get("title") if zh else None, title_en=None if zh else obj.get("title"),
            language="zh", applicants=applicants, inventors=list(obj.get("inventors") or []),
            legal_status=obj.get("legal_status"), status=STATUS.get((obj.get("legal_status") or "").lower()),
            # The data set was selected for an assignee in Xinjiang (its README); no address is given.
            province_code="65",
            locator=loc, raw=obj)


register(GooglePatentsFacts())
