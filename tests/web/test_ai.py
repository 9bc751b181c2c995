"""The "AI+" pages and API on SQLite and PostgreSQL, over the real CN patents the web fixtures load:
semantic search, the similar-patents panel of the patent page, the embedding job (staff only),
IPC classification, and bad input (never a 500, errors in both languages)."""
from __future__ import annotations

import shutil

import pytest

from xjip.search.classify import model_path, train
from xjip.search.semantic import embed

from .conftest import Loaded, login

LABELLED = "patents/cn_ipc_classification/lxingy3_chinese-patent-ipc-classifier/title_ipc_subclasses.jsonl.gz"


@pytest.fixture(scope="module")
def classifier(tmp_path_factory, shared_data):  # noqa: ANN001, ANN201
    if not (shared_data / LABELLED).is_file():
        pytest.skip("labelled records not present")
    folder = tmp_path_factory.mktemp("classifier")
    train(folder, shared_data, evaluate_first=False, sample=1500)
    return model_path(folder)


def _semantic_api_and_page(client) -> None:  # noqa: ANN001
    response = client.get("/api/semantic", params={"q": "农作物种植的方法", "limit": 5})
    assert response.status_code == 200
    data = response.json()
    assert data["mode"] == "semantic" and 0 < len(data["results"]) <= 5
    assert all(r["record_type"] in ("patent", "gi", "institution") and r["title"] for r in data["results"])
    assert any(r["record_type"] == "patent" and r["number"] for r in data["results"])
    patents = client.get("/api/semantic", params={"q": "农作物种植的方法", "limit": 5, "type": "patent"}).json()
    assert patents["results"] and all(r["record_type"] == "patent" and r["number"] for r in patents["results"])
    page = client.get("/semantic", params={"q": "农作物种植的方法"})
    assert page.status_code == 200 and 'id="semantic-results"' in page.text
    hybrid = client.get("/api/semantic", params={"q": "农作物", "mode": "hybrid"}).json()
    assert "semantic" in hybrid["rankers"]


BAD_INPUT = [
    ({"q": ""}, 200), ({"q": "😀🚀"}, 200), ({"q": "ئۇيغۇرچە Қазақша"}, 200), ({"q": "\" NEAR * column: '; DROP TABLE patent; --"}, 200),
    ({"q": "ab" * 5_000}, 200), ({"q": "a" * 10_001}, 422), ({"q": "x", "mode": "bogus"}, 422), ({"q": "x", "limit": 10**6}, 422),
    ({"q": "x", "limit": -1}, 422)]


def _semantic_bad_input(client) -> None:  # noqa: ANN001
    for params, status in BAD_INPUT:
        response = client.get("/api/semantic", params=params)
        assert response.status_code == status, (params, response.text[:300])
        if status >= 400:
            error = response.json()["error"]
            assert error["message_zh"] and error["message_en"]
        assert client.get("/semantic", params=params).status_code == status


def _similar_panel(client, embedded: Loaded) -> None:  # noqa: ANN001
    patent_id = next(iter(embedded.patents.values()))
    page = client.get(f"/records/patent/{patent_id}")
    assert f'hx-get="/records/patent/{patent_id}/similar"' in page.text
    fragment = client.get(f"/records/patent/{patent_id}/similar")
    assert fragment.status_code == 200 and 'id="similar-table"' in fragment.text
    data = client.get(f"/api/records/patent/{patent_id}/similar", params={"limit": 3}).json()
    assert 0 < len(data["results"]) <= 3 and patent_id not in [r["id"] for r in data["results"]]
    assert client.get("/api/records/patent/2147483647/similar").status_code == 404
    assert client.get("/api/records/patent/99999999999/similar").status_code == 422
    assert client.get("/records/patent/0/similar").status_code == 422
    # a GI page has its similar-GIs panel; an institution's page none
    gi_id = next(iter(embedded.gis.values()))
    assert f'hx-get="/records/gi/{gi_id}/similar"' in client.get(f"/records/gi/{gi_id}").text
    assert client.get(f"/api/records/gi/{gi_id}/similar").status_code == 200
    assert "similar-panel" not in client.get(f"/records/institution/{embedded.institution_id}").text


def test_similar_before_the_worker_ran(client, store, loaded: Loaded) -> None:  # noqa: ANN001
    """Nothing embedded yet: the panel answers (empty), it does not fail."""
    patent_id = next(iter(loaded.patents.values()))
    response = client.get(f"/api/records/patent/{patent_id}/similar")
    assert response.status_code == 200 and response.json()["results"] == []


def test_embed_job_is_staff_only_then_semantic_search_and_similar(client, store, users, loaded: Loaded) -> None:  # noqa: ANN001
    """One embedding of the loaded patents, three GIs and the institution (the staff's job, ~40 s
    here) serves every reading check. The other GIs are removed first: embedding them all would
    add ~20 s per database and check nothing more (tests/web/test_ai_types.py covers the types)."""
    from sqlalchemy import delete

    from xjip.hub.models import GeographicalIndication

    keep = sorted(loaded.gis.values())[:3]
    with store.session() as s:
        s.execute(delete(GeographicalIndication).where(GeographicalIndication.id.not_in(keep)))
    loaded.gis = {k: i for k, i in loaded.gis.items() if i in keep}
    assert client.post("/api/semantic/embed").status_code == 401
    status = client.get("/api/semantic/status").json()
    assert status["models"][0]["model"] == "e5"
    token = login(client, "viewer1")
    assert client.post("/api/semantic/embed", headers={"X-CSRF-Token": token}).status_code == 403
    token = login(client, "staff1")
    assert client.post("/api/semantic/embed").status_code == 403  # no CSRF token
    response = client.post("/api/semantic/embed", params={"missing": "true"}, headers={"X-CSRF-Token": token})
    assert response.status_code == 200
    from xjip.web.routes import ai

    ai._worker["embed"].join(timeout=300)
    after = client.get("/api/semantic/status").json()["models"][0]
    assert after["vectors"] == after["records"] == len(loaded.patents) + len(keep) + 1
    assert after["queued"] == 0 and after["status"] == "idle"
    assert {b["record_type"]: b["vectors"] for b in after["by_type"]} == {
        "patent": len(loaded.patents), "gi": len(keep), "institution": 1}
    assert client.get("/semantic/status").status_code == 200
    _semantic_api_and_page(client)
    _semantic_bad_input(client)
    _similar_panel(client, loaded)


def test_classify_api_and_page(client, settings, classifier) -> None:  # noqa: ANN001
    assert client.post("/api/classify", json={"text": "一种装置"}).status_code == 409  # not trained here yet (as the search index: 409 until built)
    target = model_path(settings.data_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(classifier, target)
    response = client.post("/api/classify", json={"text": "一种锂离子电池正极材料的制备方法", "top": 5})
    assert response.status_code == 200
    data = response.json()
    assert len(data["subclasses"]) == 5 and all(r["title"] for r in data["subclasses"])
    for text, status in (("", 400), ("   ", 400), ("😀🚀", 200), ("电池" * 50_000, 200), ("专" * 200_001, 422)):
        response = client.post("/api/classify", json={"text": text})
        assert response.status_code == status, (text[:10], response.text[:200])
        if status == 400:
            error = response.json()["error"]
            assert error["message_zh"] == "请输入要分类的文本" and error["message_en"]
    assert client.post("/api/classify", json={"top": 5}).status_code == 422
    assert client.post("/api/classify", json={"text": "x", "top": 10**6}).status_code == 422
    page = client.post("/classify", data={"text": "一种棉花采摘机"})
    assert page.status_code == 200 and 'id="classify-subclasses"' in page.text
    empty = client.post("/classify", data={"text": ""})
    assert empty.status_code == 400 and "请输入要分类的文本" in empty.text
    assert client.get("/classify").status_code == 200
