"""Lists show the real records before the synthetic ones (issue 10 §4: "a visitor sees the real
records first"), page after page, and the download follows the list's order; a `synthetic` filter
shows one kind only, as before."""
from __future__ import annotations

import datetime as dt

from xjip.hub import models as m
from xjip.hub import queries

REAL = [("CN1", dt.date(2019, 5, 1)), ("CN2", dt.date(2018, 1, 1)), ("CN3", None)]
SYNTHETIC = [("CN4", dt.date(2024, 1, 1)), ("CN5", dt.date(2023, 1, 1)), ("CN6", dt.date(2022, 1, 1)), ("CN7", None)]


def _load(store) -> None:  # noqa: ANN001
    with store.session() as s:
        for rows, synthetic in ((SYNTHETIC, True), (REAL, False)):
            for number, day in rows:
                s.add(m.Patent(key=number, country="CN", app_number=number, app_date=day, title=number,
                               is_synthetic=synthetic, source="test", source_format="orm"))


def _walk(store, page_size: int, **filters) -> list[str]:  # noqa: ANN001, ANN003
    out, after = [], None
    while True:
        with store.reading() as s:
            page = queries.list_records(s, "patent", filters, page_size, after)
        out += [i["app_number"] for i in page["items"]]
        after = page["next"]
        if after is None:
            return out


def test_real_records_first_on_every_page(store) -> None:  # noqa: ANN001
    _load(store)
    expected = [n for n, _ in REAL] + [n for n, _ in SYNTHETIC]
    for size in (1, 2, 3, 50):
        assert _walk(store, size) == expected, size
    assert _walk(store, 2, synthetic=False) == [n for n, _ in REAL]
    assert _walk(store, 2, synthetic=True) == [n for n, _ in SYNTHETIC]
    with store.reading() as s:
        page = queries.list_records(s, "patent", {}, 50)
        assert (page["total"], page["synthetic_total"]) == (7, 4)
        exported = [r["app_number"] for r in queries.export_records(s, "patent", {})]
    assert exported == expected


def test_the_list_page_says_real_records_come_first(store, client) -> None:  # noqa: ANN001
    _load(store)
    page = client.get("/records/patent").text
    assert 'id="real-first"' in page and page.index(">CN3<") < page.index(">CN4<")
    assert 'id="real-first"' not in client.get("/records/patent?synthetic=true").text
    home = client.get("/").text
    assert 'id="synthetic-note"' in home and 'id="no-real"' not in home
