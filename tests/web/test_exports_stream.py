"""Exports stop when the client goes away (found: an abandoned 200,000-row XLSX export kept a core
busy for 6 minutes), on both databases, through a real server and a client that hangs up."""
from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest

from xjip.app import create_app
from xjip.hub import queries
from xjip.hub.pipeline import run_import
from xjip.hub.synth import write_cn_biblio_csv

N = 3000


@pytest.fixture
def server(settings, store, tmp_path: Path) -> Iterator[str]:  # noqa: ANN001
    import uvicorn

    store.upgrade()
    path = tmp_path / "synth.csv"
    write_cn_biblio_csv(path, N, 7, shared=settings.shared_data_dir)
    assert run_import(store, path, options={"synthetic": True}).inserted_count == N
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(create_app(settings, store), host="127.0.0.1", port=port,
                                        log_level="warning", lifespan="on"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert srv.started
    yield f"127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_an_abandoned_export_stops(server: str, settings, monkeypatch: pytest.MonkeyPatch, fmt: str) -> None:  # noqa: ANN001
    read = [0]
    real = queries.export_records

    def slow(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202 - 2 ms a record: the whole export takes 6 s
        for row in real(*args, **kwargs):
            read[0] += 1
            time.sleep(0.002)
            yield row

    monkeypatch.setattr(queries, "export_records", slow)
    host, port = server.split(":")
    client = socket.create_connection((host, int(port)))
    client.sendall(f"GET /records/patent/export?format={fmt} HTTP/1.1\r\nHost: {server}\r\n\r\n".encode())
    deadline = time.monotonic() + 10
    while read[0] < 200:  # the export is under way
        assert time.monotonic() < deadline
        time.sleep(0.05)
    client.close()  # the person gave up
    closed_at, last = time.monotonic(), read[0]
    while True:  # the work ends within seconds: no record read for a whole second
        time.sleep(1.0)
        if read[0] == last:
            break
        last = read[0]
        assert time.monotonic() - closed_at < 6, "the export went on after the client left"
    assert read[0] < N
    assert not list((Path(settings.data_dir) / "reports").glob("export-*"))  # nothing left behind


def test_a_finished_export_is_whole(server: str) -> None:
    import httpx

    for fmt in ("xlsx", "csv"):
        r = httpx.get(f"http://{server}/records/patent/export", params={"format": fmt}, timeout=60)
        assert r.status_code == 200
        if fmt == "csv":
            assert r.content.decode("utf-8-sig").count("\n") == N + 1
        else:
            import io

            import openpyxl

            rows = list(openpyxl.load_workbook(io.BytesIO(r.content), read_only=True).active.iter_rows(values_only=True))
            assert len(rows) == N + 1 and all(row[0] for row in rows[1:])
