"""The "AI+" pages (issue 11 §5-6): semantic and hybrid search over every embedded record
type, "similar records" on patent, trademark and GI pages (an htmx fragment), the embedding
job's progress, IPC auto-classification. Each page has its JSON twin under /api; all are thin over xjip.search.semantic and xjip.search.classify."""
from __future__ import annotations

import threading
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, Field

import xjip.search.semantic  # noqa: F401 - registers the "semantic" ranker and the after-commit hook
from xjip.hub.models import MAX_ROW_ID
from xjip.search.classify import MAX_TEXT, ClassifyInputError, ModelMissing, classify
from xjip.search.semantic import embed, search
from xjip.search.semantic.texts import EMBEDDED_TYPES
from xjip.web.deps import get_store, lang, require, sees_personal_data, verify_csrf
from xjip.web.errors import ApiError

router = APIRouter()
STAFF_POST = [Depends(require("staff")), Depends(verify_csrf)]
MAX_QUERY = 10_000
CLASSIFY_MAX = MAX_TEXT * 10  # longer pastes are refused; up to this, the first MAX_TEXT characters are read

Mode = Literal["semantic", "hybrid"]
Limit = Annotated[int, Query(ge=1, le=100, description="Results (1-100)")]
PatentId = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]
# "" = every embedded type (the page's "all" choice)
TypeFilter = Annotated[Literal[("",) + EMBEDDED_TYPES],  # type: ignore[valid-type]
                       Query(description="Record type; empty: every type")]
SIMILAR_TYPES = ("patent", "trademark", "gi")  # record pages with a "similar" panel
SimilarType = Literal[SIMILAR_TYPES]  # type: ignore[valid-type]


# --- semantic / hybrid search -----------------------------------------------------------------

def semantic_data(request: Request, q: str, mode: str, limit: int, record_type: str = "") -> dict[str, Any]:
    store = get_store(request)
    q = (q or "").strip()
    rankers = [search.SELF]
    filters = {"type": record_type} if record_type else None
    if not q:
        hits: list[tuple[str, int, float]] = []
    elif mode == "hybrid":
        hits, rankers = search.hybrid(store, q, limit, filters)
    else:
        hits = search.semantic_ranker(store, q, limit, filters)
    status = {r["model"]: r["vectors"] for r in embed.status(store)}
    return {"query": q, "mode": mode, "type": record_type, "types": list(EMBEDDED_TYPES), "rankers": rankers,
            "vectors": status, "results": search.hydrate(store, hits, masked=not sees_personal_data(request))}


@router.get("/semantic", response_class=HTMLResponse, include_in_schema=False)
def semantic_page(request: Request, q: Annotated[str, Query(max_length=MAX_QUERY)] = "",
                  mode: Mode = "semantic", limit: Limit = 20, type: TypeFilter = "") -> HTMLResponse:  # noqa: A002
    return request.app.state.render(request, "ai_semantic.html", {"data": semantic_data(request, q, mode, limit, type)})


@router.get("/api/semantic", tags=["search"],
            summary="Semantic (or hybrid) search: records of every right (or of `type`) related to a described need")
def semantic_api(request: Request, q: Annotated[str, Query(max_length=MAX_QUERY, description="A sentence describing what is sought")] = "",
                 mode: Mode = "semantic", limit: Limit = 20, type: TypeFilter = "") -> dict[str, Any]:  # noqa: A002
    return semantic_data(request, q, mode, limit, type)


# --- similar records (patents, trademarks, GIs) ------------------------------------------------

def similar_data(request: Request, record_type: str, record_id: int, limit: int) -> dict[str, Any]:
    store = get_store(request)
    with store.reading() as s:
        from xjip.hub.models import RIGHT_MODELS

        if s.get(RIGHT_MODELS[record_type], record_id) is None:
            raise ApiError(404, "not_found")
    hits = [(record_type, i, score) for i, score in search.similar(store, record_id, limit, record_type)]
    return {"record_type": record_type, "id": record_id, "patent_id": record_id if record_type == "patent" else None,
            "results": search.hydrate(store, hits, masked=not sees_personal_data(request))}


@router.get("/records/{record_type}/{record_id}/similar", response_class=HTMLResponse, include_in_schema=False)
def similar_fragment(request: Request, record_type: SimilarType, record_id: PatentId,
                     limit: Annotated[int, Query(ge=1, le=50)] = 10) -> HTMLResponse:
    return request.app.state.render(request, "_ai_similar.html", {"data": similar_data(request, record_type, record_id, limit)})


@router.get("/api/records/{record_type}/{record_id}/similar", tags=["search"],
            summary="Records of the same type similar to one patent, trademark or GI (semantic)")
def similar_api(request: Request, record_type: SimilarType, record_id: PatentId,
                limit: Annotated[int, Query(ge=1, le=50)] = 10) -> dict[str, Any]:
    return similar_data(request, record_type, record_id, limit)


# --- the embedding job ----------------------------------------------------------------------------

_worker: dict[str, threading.Thread] = {}
_worker_lock = threading.Lock()


def _run_all(store: Any) -> None:
    for name in embed.models_enabled(store):
        try:
            embed.run(store, name)
        except embed.EmbedAlreadyRunning:
            continue
        except Exception:  # noqa: BLE001 - recorded on the run's row (status failed), shown on the page
            continue


def start_worker(store: Any) -> bool:
    """One background thread per web process; the run rows keep two processes from both working."""
    with _worker_lock:
        thread = _worker.get("embed")
        if thread is not None and thread.is_alive():
            return False
        thread = threading.Thread(target=_run_all, args=(store,), name="xjip-embed", daemon=True)
        _worker["embed"] = thread
        thread.start()
        return True


def status_data(request: Request) -> dict[str, Any]:
    rows = embed.status(get_store(request))
    for r in rows:
        r["percent"] = min(100, int(100 * r["vectors"] / r["records"])) if r["records"] else None
    thread = _worker.get("embed")
    return {"models": rows, "worker_alive": bool(thread and thread.is_alive())}


@router.get("/semantic/status", response_class=HTMLResponse, include_in_schema=False)
def status_page(request: Request) -> HTMLResponse:
    return request.app.state.render(request, "ai_status.html", {"data": status_data(request)})


@router.get("/semantic/status/progress", response_class=HTMLResponse, include_in_schema=False)
def status_fragment(request: Request) -> HTMLResponse:
    return request.app.state.render(request, "_ai_progress.html", {"data": status_data(request)})


@router.get("/api/semantic/status", tags=["search"], summary="Embedding progress per encoder (vectors, queued, rate)")
def status_api(request: Request) -> dict[str, Any]:
    return status_data(request)


@router.post("/semantic/embed", include_in_schema=False, dependencies=STAFF_POST)
def embed_start_form(request: Request, missing: Annotated[str, Form()] = "") -> RedirectResponse:
    store = get_store(request)
    if missing:
        for name in embed.models_enabled(store):
            embed.enqueue_missing(store, name)
    start_worker(store)
    return RedirectResponse("/semantic/status", status_code=303)


@router.post("/api/semantic/embed", tags=["search"], dependencies=STAFF_POST,
             summary="Start embedding what is queued, in the background (staff)")
def embed_start_api(request: Request, missing: bool = False) -> dict[str, Any]:
    store = get_store(request)
    if missing:
        for name in embed.models_enabled(store):
            embed.enqueue_missing(store, name)
    return {"started": start_worker(store), **status_data(request)}


# --- IPC auto-classification ---------------------------------------------------------------------

def classify_data(request: Request, text: str, top: int) -> dict[str, Any]:
    try:
        result = classify(get_store(request).settings.data_dir, text, top, lang(request))
    except ClassifyInputError as exc:
        raise ApiError(400, f"classify_{exc.code}", message_id=f"ai.classify.error.{exc.code}") from None
    except ModelMissing:
        raise ApiError(409, "classify_no_model", message_id="ai.classify.error.no_model") from None
    return result


class ClassifyBody(BaseModel):
    text: str = Field(max_length=CLASSIFY_MAX, description="Title, abstract or claims (Chinese or English)")
    top: int = Field(default=5, ge=1, le=20)


@router.get("/classify", response_class=HTMLResponse, include_in_schema=False)
def classify_page(request: Request) -> HTMLResponse:
    return request.app.state.render(request, "ai_classify.html", {"text": "", "result": None, "error": None})


@router.post("/classify", response_class=HTMLResponse, include_in_schema=False)
def classify_form(request: Request, text: Annotated[str, Form(max_length=CLASSIFY_MAX)] = "") -> HTMLResponse:
    try:
        result, error = classify_data(request, text, 5), None
    except ApiError as exc:
        result, error = None, exc
    context = {"text": text[:MAX_TEXT], "result": result,
               "error": None if error is None else error.message_id}
    return request.app.state.render(request, "ai_classify.html", context, status=error.status if error else 200)


@router.post("/api/classify", tags=["search"], summary="IPC auto-classification: top subclasses and main groups")
def classify_api(request: Request, body: Annotated[ClassifyBody, Body()]) -> dict[str, Any]:
    return classify_data(request, body.text, body.top)
