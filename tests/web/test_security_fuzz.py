"""Issue 10 §3: a bounded schemathesis run over the OpenAPI document, anonymous and logged in as
staff, on SQLite and PostgreSQL: every generated request (valid ones, and ones that break the
schema) gets an answer below 500.

Bounded: `EXAMPLES` requests per operation and kind (valid / schema-breaking), generated from a
fixed seed (`derandomize`), so that a run takes seconds and fails the same way twice. For a deeper
search: XJIP_FUZZ_EXAMPLES=200 .venv/bin/python -m pytest tests/web/test_security_fuzz.py"""
from __future__ import annotations

import os
import time

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from sqlalchemy import select

from xjip.hub import models as m

from .conftest import client_as

EXAMPLES = int(os.environ.get("XJIP_FUZZ_EXAMPLES", "6"))
# Logging out would end the staff session the run goes on with (it is run anonymously).
STAFF_SKIP = {"DELETE /api/session"}


def _wait_for_imports(store, seconds: float = 120) -> None:  # noqa: ANN001
    """Uploads the run made start import jobs in threads: let them end before the database goes."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with store.reading() as s:
            if not s.scalar(select(m.ImportJob.id).where(m.ImportJob.status.in_(("queued", "running"))).limit(1)):
                return
        time.sleep(0.2)
    raise AssertionError("import jobs started by the run did not end")


@pytest.mark.slow
@pytest.mark.parametrize("who", ["anonymous", "staff"])
def test_no_generated_request_gets_a_5xx(app, store, users, loaded, who: str) -> None:  # noqa: ANN001
    headers: dict[str, str] = {}
    cookies: dict[str, str] = {}
    if who == "staff":
        staff, token = client_as(app, "staff1")
        headers["X-CSRF-Token"] = token
        cookies["xjip_session"] = staff.cookies.get("xjip_session")
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20  # the whole API, not a part that failed to load
    failures: list[str] = []
    calls = 0
    statuses: dict[str, set[int]] = {}

    def send(case) -> None:  # noqa: ANN001
        nonlocal calls
        response = case.call(headers=headers, cookies=cookies)
        calls += 1
        statuses.setdefault(case.operation.label, set()).add(response.status_code)
        if response.status_code >= 500:
            failures.append(f"{response.status_code} {case.method} {case.formatted_path} query={case.query} "
                            f"body={str(case.body)[:200]}: {response.text[:200]}")

    for operation in operations:
        if who == "staff" and operation.label in STAFF_SKIP:
            continue
        # schemathesis's coverage phase: the boundary values of every parameter (empty, 0, too
        # long, wrong type…), then random ones from the fixed seed below.
        for case in schema.iter_coverage_cases(operation, generation_modes=list(GenerationMode),
                                               generation_config=schema.config.generation_for(operation=operation)):
            send(case)
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                      suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
            @given(case=operation.as_strategy(mode))
            def call(case) -> None:  # noqa: ANN001
                send(case)

            try:
                call()
            except Unsatisfiable:  # nothing to break in an operation without parameters
                continue
    if who == "staff":
        _wait_for_imports(store)
    assert calls > len(operations) * 2
    assert failures == []
    # The run was who it says throughout: the staff-only job list answered staff, and only staff.
    if who == "staff":
        assert 200 in statuses["GET /api/jobs"]
    else:
        assert 200 not in statuses["GET /api/jobs"] and 401 in statuses["GET /api/jobs"]
