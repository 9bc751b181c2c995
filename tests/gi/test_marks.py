"""Special-mark users on both databases: application → review → approval → revocation, a second
approval refused, usage reports with bad figures refused (located, both languages), the
not-reported list and reminders, the province annual report workbook."""
from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from xjip.gi import GIError
from xjip.gi import marks
from xjip.gi.coverage import coverage
from xjip.hub import models as m

from .conftest import gi_id

CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def uscc(body17: str) -> str:
    """Check character by GB 32100-2015 §5 written out: weights 3^i mod 31, C18 = 31 - (Σ mod 31)."""
    total = sum(CHARS.index(c) * pow(3, i, 31) for i, c in enumerate(body17))
    return body17 + CHARS[(31 - total % 31) % 31]


CODE_A = uscc("91652801MA7" + "ABCDE" + "F")  # 17 characters
CODE_B = uscc("93652801MA7" + "XYW12" + "3")
DOCS = [{"name": "营业执照（合成）"}, {"name": "产地证明（合成）"}]


def _approved(store, loaded, code=CODE_A, name="库尔勒梨园合作社（合成）") -> int:  # noqa: ANN001
    target = gi_id(loaded, "库尔勒香梨", "PGI_product")
    with store.session() as s:
        app = marks.submit(s, target, name, code, "新疆巴州库尔勒市某乡（合成地址）", "gi_product_producer", DOCS, "staff1",
                           is_synthetic=True)
        marks.review(s, app["id"], True, "staff1", "材料齐全")
        marks.approve(s, app["id"], "staff1", "测试公告第1号")
    return app["id"]


def test_credit_code_check_character() -> None:
    assert marks.valid_credit_code(CODE_A) and marks.valid_credit_code(CODE_B)
    broken = CODE_A[:-1] + ("0" if CODE_A[-1] != "0" else "1")
    assert not marks.valid_credit_code(broken)
    assert not marks.valid_credit_code("91652801MA7ABCDEI1")  # I is not in the alphabet


def test_workflow_writes_the_user_and_a_second_approval_is_refused(store, gi_loaded) -> None:
    app_id = _approved(store, gi_loaded)
    with store.reading() as s:
        app = s.get(m.GIMarkApplication, app_id)
        user = s.get(m.GIMarkUser, app.mark_user_id)
        assert app.status == "approved" and user.user_name.startswith("库尔勒梨园")
        assert user.gi_id == gi_id(gi_loaded, "库尔勒香梨", "PGI_product") and user.revoked_date is None
        assert [h["action"] for h in app.history] == ["submitted", "reviewed", "approved"]
        assert marks.application_dict(s, app)["area_check"] == "inside"
    with pytest.raises(GIError) as err, store.session() as s:
        marks.approve(s, app_id, "staff1", None)
    assert err.value.code == "already_approved"
    zh, en = err.value.messages()
    assert "已经核准" in zh and "already approved" in en
    # the same enterprise again, through a new application: refused at approval
    target = gi_id(gi_loaded, "库尔勒香梨", "PGI_product")
    with store.session() as s:
        again = marks.submit(s, target, "库尔勒梨园合作社（合成）", CODE_A, "新疆库尔勒市", "gi_product_producer", DOCS, "staff1")
        marks.review(s, again["id"], True, "staff1", None)
    with pytest.raises(GIError) as err, store.session() as s:
        marks.approve(s, again["id"], "staff1", None)
    assert err.value.code == "already_user"
    with store.reading() as s:
        assert s.execute(select(m.GIMarkUser)).scalars().all().__len__() == 1


def test_refusals_need_reasons_and_revocation_records_them(store, gi_loaded) -> None:
    target = gi_id(gi_loaded, "库尔勒香梨", "PGI_product")
    with store.session() as s:
        app = marks.submit(s, target, "河北某果业（合成）", CODE_B, "河北省石家庄市", "gi_product_producer", DOCS, "staff1")
    with pytest.raises(GIError) as err, store.session() as s:
        marks.review(s, app["id"], False, "staff1", "")
    assert err.value.code == "reason_required" and err.value.field == "reason"
    with store.session() as s:
        marks.review(s, app["id"], True, "staff1", None)
    with pytest.raises(GIError) as err, store.session() as s:
        marks.approve(s, app["id"], "staff1", None)
    assert err.value.code == "outside_area"
    app_id = _approved(store, gi_loaded)
    with pytest.raises(GIError), store.session() as s:
        marks.revoke(s, app_id, "staff1", "  ")
    with store.session() as s:
        marks.revoke(s, app_id, "staff1", "抽检不合格（测试）", [{"name": "抽检报告（合成）"}])
    with store.reading() as s:
        app = s.get(m.GIMarkApplication, app_id)
        assert app.status == "revoked" and app.history[-1]["reason"] == "抽检不合格（测试）"
        assert s.get(m.GIMarkUser, app.mark_user_id).revoked_date is not None
        assert any(d["name"] == "抽检报告（合成）" for d in app.documents)


def test_submit_refuses_bad_input(store, gi_loaded) -> None:
    target = gi_id(gi_loaded, "库尔勒香梨", "PGI_product")
    cases = [(dict(applicant_name=" "), "missing_field"), (dict(credit_code="123"), "bad_credit_code"),
             (dict(user_type="boss"), "bad_value"), (dict(documents=[]), "documents_required")]
    for change, code in cases:
        args = dict(applicant_name="某合作社", credit_code=CODE_A, address="新疆库尔勒市", user_type="gi_product_producer",
                    documents=DOCS) | change
        with pytest.raises(GIError) as err, store.session() as s:
            marks.submit(s, target, actor="staff1", **args)
        assert err.value.code == code
    with store.reading() as s:
        assert s.execute(select(m.GIMarkApplication)).first() is None


@pytest.mark.parametrize("field,value,code", [
    ("output_tonnes", "-5", "negative"), ("sales_wan_yuan", "-0.1", "negative"), ("marks_used", "1e12", "not_an_integer"),
    ("output_tonnes", "99999999", "absurd"), ("marks_used", "900000000000", "absurd"), ("quality_checks", "abc", "not_an_integer"),
    ("output_tonnes", "nan", "not_a_number"), ("sales_wan_yuan", "", "missing_field"),
])
def test_usage_report_figures_refused(store, gi_loaded, field, value, code) -> None:  # noqa: ANN001
    app_id = _approved(store, gi_loaded)
    values = {"output_tonnes": "1200", "sales_wan_yuan": "860.5", "marks_used": "150000", "quality_checks": "12",
              "quality_failed": "0", field: value}
    with pytest.raises(GIError) as err, store.session() as s:
        marks.submit_report(s, app_id, m.utcnow().year, values, "staff1")
    assert err.value.code == code and err.value.field == field
    zh, en = err.value.messages()
    assert field in zh and field in en
    with store.reading() as s:
        assert s.execute(select(m.GIUsageReport)).first() is None


def test_usage_report_consistency_year_and_duplicates(store, gi_loaded) -> None:
    app_id = _approved(store, gi_loaded)
    year = m.utcnow().year
    good = {"output_tonnes": "1200", "sales_wan_yuan": "860.5", "marks_used": "150000", "quality_checks": "12"}
    with pytest.raises(GIError) as err, store.session() as s:
        marks.submit_report(s, app_id, year, good | {"quality_failed": "13"}, "staff1")
    assert err.value.code == "failed_above_checks"
    with pytest.raises(GIError) as err, store.session() as s:
        marks.submit_report(s, app_id, year + 1, good, "staff1")
    assert err.value.code == "bad_year"
    with store.session() as s:
        marks.submit_report(s, app_id, year, good, "staff1")
    with pytest.raises(GIError) as err, store.session() as s:
        marks.submit_report(s, app_id, year, good, "staff1")
    assert err.value.code == "already_reported"


def test_not_reported_list_reminders_and_annual_report(store, gi_loaded) -> None:
    import openpyxl

    first = _approved(store, gi_loaded)
    second = _approved(store, gi_loaded, CODE_B, "库尔勒第二合作社（合成）")
    year = m.utcnow().year
    with store.session() as s:
        marks.submit_report(s, first, year, {"output_tonnes": 10, "sales_wan_yuan": 5, "marks_used": 100,
                                             "quality_checks": 1}, "staff1")
    with store.session() as s:
        missing = marks.not_reported(s, year)
        sent = marks.send_reminders(s, year, "staff1")
    assert [r["application_id"] for r in missing["missing"]] == [second]
    assert missing["users"] == 2 and missing["reported"] == 1 and sent["reminded"] == 1
    with store.reading() as s:
        assert marks.not_reported(s, year)["missing"][0]["reminders"] == 1
        data = marks.annual_report_xlsx(s, year)
    wb = openpyxl.load_workbook(io.BytesIO(data))
    assert wb.sheetnames == [title for title, _ in marks.SHEETS.values()]
    use = list(wb["专用标志使用管理"].iter_rows(values_only=True))
    assert len(use) == 3 and {r[7] for r in use[1:]} == {"是", "否"}
    products = list(wb["基础数据-地理标志产品"].iter_rows(values_only=True))
    assert len(products) - 1 == sum(1 for r in gi_loaded.gi_rows
                                    if r["gi_type"] not in ("GI_certification_TM", "GI_TM_unspecified"))
    out = list(wb["年度产值"].iter_rows(values_only=True))
    assert out[1][:2] == ("库尔勒香梨", 1) and out[1][2] == 10


def test_coverage_numerator_and_denominator(store, gi_loaded) -> None:
    with store.reading() as s:
        empty = coverage(s)
    approved = sum(1 for r in gi_loaded.gi_rows if r["status"] == "approved_or_registered")
    assert empty["rows"][0]["numerator"] == 0 and empty["rows"][0]["denominator"] == approved
    app_id = _approved(store, gi_loaded)
    with store.session() as s:
        s.get(m.GIMarkUser, s.get(m.GIMarkApplication, app_id).mark_user_id).is_synthetic = False
    with store.reading() as s:
        region = coverage(s)
        products = coverage(s, definition="products_with_users")
        prefs = {r["code"]: r for r in coverage(s, level="prefecture")["rows"]}
        per_gi = {r["code"]: r for r in coverage(s, level="gi")["rows"]}
    assert region["rows"][0]["numerator"] == 1 and region["rows"][0]["rate"] == pytest.approx(1 / approved)
    assert products["rows"][0]["denominator"] < approved
    assert prefs["652800"]["numerator"] == 1 and prefs["652900"]["numerator"] == 1  # the PGI area spans both
    assert prefs["650400"]["numerator"] == 0
    assert per_gi[str(gi_id(gi_loaded, "库尔勒香梨", "PGI_product"))]["rate"] == 1.0
    with pytest.raises(GIError), store.reading() as s:
        coverage(s, definition="made_up")
