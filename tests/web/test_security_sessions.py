"""Issue 10 §3: sessions end on the server (logout, password change, an admin's change, an
operator's `xjip user logout`), and the login limits count what an attacker varies: the spelling
of the name, X-Forwarded-For, the account tried, the client. On SQLite and PostgreSQL."""
from __future__ import annotations

import datetime as dt

from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from xjip.app import create_app
from xjip.cli import main
from xjip.hub import models as m
from xjip.web import sessions
from xjip.web.auth import create_user

from .conftest import PASSWORDS, client_as, login
from .test_pages import envelope


def _copy(app, source: TestClient) -> TestClient:  # noqa: ANN001
    """What an attacker holds who copied the session cookie (from a shared PC, a log, a proxy)."""
    thief = TestClient(app)
    thief.cookies.set("xjip_session", source.cookies.get("xjip_session"))
    return thief


def _who(client: TestClient) -> str | None:
    user = client.get("/api/session").json()["user"]
    return user["username"] if user else None


def _live_sessions(store, username: str) -> int:  # noqa: ANN001
    with store.session() as s:
        user_id = s.scalar(select(m.User.id).where(m.User.username == username))
        return sessions.live_count(s, user_id)


def test_a_copied_cookie_opens_nothing_after_logout(app, store, users) -> None:  # noqa: ANN001
    """Found: after logout a copied cookie kept full, unmasked access for 8 h."""
    for how in ("form", "api"):
        viewer, token = client_as(app, "viewer1")
        thief = _copy(app, viewer)
        assert _who(thief) == "viewer1" and thief.get("/account", follow_redirects=False).status_code == 200
        if how == "form":
            assert viewer.post("/logout", data={"csrf_token": token}, follow_redirects=False).status_code == 303
        else:
            assert viewer.delete("/api/session", headers={"X-CSRF-Token": token}).json()["user"] is None
        assert _who(viewer) is None and _who(thief) is None, how
        assert thief.get("/account", follow_redirects=False).status_code == 303  # to the login page
    assert _live_sessions(store, "viewer1") == 0
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(m.AuditEvent).where(m.AuditEvent.tag == "web:user:logout")) == 2


def test_a_copied_cookie_opens_nothing_after_a_password_change(app, store, users) -> None:  # noqa: ANN001
    """Every session of the account ends; the person who changed it goes on in a new one."""
    viewer, token = client_as(app, "viewer1")
    elsewhere, _ = client_as(app, "viewer1")  # the same account on another computer
    thief = _copy(app, viewer)
    changed = viewer.post("/api/account/password", json={"current_password": PASSWORDS["viewer1"],
                                                         "new_password": "new-password-1"},
                          headers={"X-CSRF-Token": token})
    assert changed.status_code == 200
    assert _who(thief) is None and _who(elsewhere) is None and _who(viewer) == "viewer1"
    again = viewer.post("/api/account/password", json={"current_password": "new-password-1",
                                                       "new_password": "new-password-2"},
                        headers={"X-CSRF-Token": changed.json()["csrf_token"]})
    assert again.status_code == 200 and _who(viewer) == "viewer1"
    # the page form does the same
    staff, staff_token = client_as(app, "staff1")
    thief = _copy(app, staff)
    form = staff.post("/account/password", data={"csrf_token": staff_token, "current_password": PASSWORDS["staff1"],
                                                  "new_password": "staff-password-2"}, follow_redirects=True)
    assert "密码已修改" in form.text and _who(staff) == "staff1"
    assert _who(thief) is None and thief.get("/api/jobs").status_code == 401
    assert _live_sessions(store, "staff1") == 1


def test_an_admin_disabling_an_account_or_changing_its_role_ends_its_sessions(app, store, users) -> None:  # noqa: ANN001
    admin, token = client_as(app, "admin")
    staff, _ = client_as(app, "staff1")
    assert staff.get("/api/jobs").status_code == 200
    with store.session() as s:
        staff_id = s.scalar(select(m.User.id).where(m.User.username == "staff1"))
    assert admin.patch(f"/api/users/{staff_id}", json={"role": "viewer"}, headers={"X-CSRF-Token": token}).status_code == 200
    assert _who(staff) is None and staff.get("/api/jobs").status_code == 401
    staff, _ = client_as(app, "staff1")
    assert staff.get("/api/jobs").status_code == 403  # a viewer now
    assert admin.patch(f"/api/users/{staff_id}", json={"active": False}, headers={"X-CSRF-Token": token}).status_code == 200
    assert admin.patch(f"/api/users/{staff_id}", json={"active": True}, headers={"X-CSRF-Token": token}).status_code == 200
    assert _who(staff) is None  # enabled again, the old session stays ended
    viewer, _ = client_as(app, "viewer1")
    admin.patch(f"/api/users/{staff_id}", json={"password": "another-password-1"}, headers={"X-CSRF-Token": token})
    assert _who(viewer) == "viewer1"  # others' sessions are untouched


def test_the_command_line_ends_sessions(app, store, users, tmp_path) -> None:  # noqa: ANN001
    args = ["--database-url", store.settings.database_url, "--data-dir", str(tmp_path)]
    viewer, _ = client_as(app, "viewer1")
    result = CliRunner().invoke(main, [*args, "user", "passwd", "viewer1", "--password-stdin"], input="cli-password-1\n")
    assert result.exit_code == 0, result.output
    assert _who(viewer) is None
    viewer = TestClient(app)
    login(viewer, "viewer1", "cli-password-1")
    other, _ = client_as(app, "staff1")
    result = CliRunner().invoke(main, [*args, "user", "logout", "viewer1"])
    assert result.exit_code == 0 and "已结束用户 viewer1 的 1 个登录会话" in result.output and "Ended 1 session" in result.output
    assert _who(viewer) is None and _who(other) == "staff1"
    missing = CliRunner().invoke(main, [*args, "user", "logout", "nobody"])
    assert missing.exit_code == 1 and "nobody" in missing.output and "Traceback" not in missing.output


def test_a_session_ends_on_the_server_when_its_time_is_up(app, store, users) -> None:  # noqa: ANN001
    """Starlette re-signs the cookie on every response, so its age never runs out while it is used:
    the server's expiry (8 h after login) is what ends it."""
    viewer, _ = client_as(app, "viewer1")
    assert _who(viewer) == "viewer1"
    with store.session() as s:
        s.execute(update(m.WebSession).values(expires_at=m.utcnow() - dt.timedelta(seconds=1)))
    assert _who(viewer) is None


def test_an_old_cookie_naming_an_account_id_opens_nothing(app, users) -> None:  # noqa: ANN001
    """Cookies signed before server-side sessions carried the account id: they are not believed."""
    import base64
    import json

    from itsdangerous import TimestampSigner

    forged = TimestampSigner(app.state.settings.secret_key).sign(
        base64.b64encode(json.dumps({"uid": 1}).encode())).decode()
    client = TestClient(app)
    client.cookies.set("xjip_session", forged)
    assert _who(client) is None


# --- login limits -------------------------------------------------------------------------------

def _try(client: TestClient, username: str, password: str = "wrong-password", **headers: str) -> int:
    token = client.get("/api/session").json()["csrf_token"]
    return client.post("/api/session", json={"username": username, "password": password},
                       headers={"X-CSRF-Token": token, **headers}).status_code


def test_spellings_of_one_name_share_its_five_guesses(app, users) -> None:  # noqa: ANN001
    """Found: " relstaff" and "relstaff " each got 5 more guesses. Names are counted as the
    login reads them (NFKC, blanks stripped, case folded)."""
    client = TestClient(app)
    spellings = ["staff1", " staff1", "staff1 ", "STAFF1", "ｓｔａｆｆ１", "\tStaff1\n"]
    codes = [_try(client, name) for name in spellings]
    assert codes == [401] * 5 + [429]
    assert _try(client, "staff1", PASSWORDS["staff1"]) == 429  # even the right password, for now
    assert _try(client, "viewer1", PASSWORDS["viewer1"]) == 200  # another account is not locked
    other_client = TestClient(app, client=("198.51.100.7", 50000))
    assert _try(other_client, "ＳＴＡＦＦ１", PASSWORDS["staff1"]) == 200  # the same account, typed full-width


def test_guesses_spread_over_addresses_meet_the_per_account_limit(app, store, users) -> None:  # noqa: ANN001
    """Found: 57 wrong guesses against one account (spellings × addresses). Now one account takes
    at most `per_account` wrong guesses in the window, from anywhere."""
    limits = sessions.LIMITS
    codes = []
    for n in range(12):
        client = TestClient(app, client=(f"198.51.100.{n + 1}", 40000))
        codes += [_try(client, name) for name in ("staff1", " staff1", "staff1 ")]
    assert codes.count(401) == limits.per_account and set(codes) == {401, 429}
    assert _try(TestClient(app, client=("192.0.2.200", 1)), "staff1", PASSWORDS["staff1"]) == 429
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(m.LoginFailure)) == limits.per_account


def test_many_names_from_one_client_meet_the_per_client_limit(app, users) -> None:  # noqa: ANN001
    """Found: many usernames from one client were not limited (spraying one password)."""
    client = TestClient(app)
    codes = [_try(client, f"user{n}", "Spring2026!") for n in range(sessions.LIMITS.per_client + 3)]
    assert codes.count(401) == sessions.LIMITS.per_client and codes[-1] == 429
    assert _try(client, "viewer1", PASSWORDS["viewer1"]) == 429
    assert _try(TestClient(app, client=("198.51.100.9", 1)), "viewer1", PASSWORDS["viewer1"]) == 200


def test_forwarded_for_is_believed_only_from_a_configured_proxy(settings, store, users) -> None:  # noqa: ANN001
    """Found: rotating X-Forwarded-For dodged the lockout and the made-up address went into the
    audit log. Not configured: the header is ignored. From a configured proxy: the address it
    forwards is the client, for the limits and the audit log alike."""
    plain = create_app(settings, store)
    client = TestClient(plain)
    codes = [_try(client, "staff1", **{"X-Forwarded-For": f"203.0.113.{n}"}) for n in range(6)]
    assert codes == [401] * 5 + [429]
    with store.session() as s:
        clients = {e.details["client"] for e in s.scalars(select(m.AuditEvent).where(
            m.AuditEvent.tag == "web:user:login_failed"))}
        s.execute(m.LoginFailure.__table__.delete())
    assert clients == {"testclient"}
    settings.trusted_proxies = "192.0.2.10, 10.0.0.0/8"
    behind = create_app(settings, store)
    proxy = TestClient(behind, client=("192.0.2.10", 8080))
    assert _try(proxy, "viewer1", PASSWORDS["viewer1"], **{"X-Forwarded-For": "198.51.100.23"}) == 200
    codes = [_try(proxy, "staff1", **{"X-Forwarded-For": f"198.51.100.{n}, 10.1.2.3"}) for n in range(12)]
    assert codes.count(401) == sessions.LIMITS.per_account  # the account's own limit still holds
    with store.session() as s:
        events = s.scalars(select(m.AuditEvent).where(m.AuditEvent.tag.in_(("web:user:login", "web:user:login_failed")))
                           .order_by(m.AuditEvent.id)).all()
        assert [e.details["client"] for e in events][-11:] == ["198.51.100.23"] + [f"198.51.100.{n}" for n in range(10)]
        session_row = s.scalars(select(m.WebSession).order_by(m.WebSession.id.desc())).first()
        assert session_row.client == "198.51.100.23"


def test_a_bad_trusted_proxies_setting_is_refused_in_both_languages(tmp_path) -> None:  # noqa: ANN001
    import pytest

    from xjip.settings import Settings, SettingsError

    with pytest.raises(SettingsError, match="XJIP_TRUSTED_PROXIES.*not an IP.*不是 IP"):
        Settings.from_env(data_dir=str(tmp_path), trusted_proxies="proxy.example")


def test_the_limits_hold_across_server_processes(settings, store, users) -> None:  # noqa: ANN001
    """Counted in the database: a second server process (here a second app on the same store)
    sees the failures met by the first."""
    first, second = TestClient(create_app(settings, store)), TestClient(create_app(settings, store))
    assert [_try(first, "viewer1") for _ in range(5)] == [401] * 5
    assert _try(second, "viewer1", PASSWORDS["viewer1"]) == 429
    refused = second.post("/api/session", json={"username": "viewer1", "password": "x"},
                          headers={"X-CSRF-Token": second.get("/api/session").json()["csrf_token"]})
    assert envelope(refused)["code"] == "rate_limited" and envelope(refused)["message_en"]


def test_old_failures_leave_the_window(app, store, users) -> None:  # noqa: ANN001
    client = TestClient(app)
    assert [_try(client, "viewer1") for _ in range(5)] == [401] * 5
    assert _try(client, "viewer1", PASSWORDS["viewer1"]) == 429
    with store.session() as s:
        s.execute(update(m.LoginFailure).values(at=m.utcnow() - sessions.WINDOW - dt.timedelta(seconds=1)))
    assert _try(client, "viewer1", PASSWORDS["viewer1"]) == 200


def test_an_account_created_with_odd_spacing_logs_in_by_its_name(store, app) -> None:  # noqa: ANN001
    with store.session() as s:
        create_user(s, "Clerk.Two", "clerk-password-2", "viewer")
    for typed in ("clerk.two", " Clerk.Two ", "ＣＬＥＲＫ．ＴＷＯ"):
        assert _try(TestClient(app), typed, "clerk-password-2") == 200, typed


def test_guessing_the_current_password_with_a_copied_cookie_meets_the_limits(app, users) -> None:  # noqa: ANN001
    """A copied cookie could have guessed the password through the password-change form,
    without limit: wrong current passwords count as failed logins."""
    viewer, token = client_as(app, "viewer1")
    thief = _copy(app, viewer)
    codes = [thief.post("/api/account/password", json={"current_password": f"guess-{n}", "new_password": "x" * 12},
                        headers={"X-CSRF-Token": token}).status_code for n in range(7)]
    assert codes == [400] * 5 + [429] * 2
    right = thief.post("/api/account/password", json={"current_password": PASSWORDS["viewer1"],
                                                      "new_password": "new-password-9"}, headers={"X-CSRF-Token": token})
    assert right.status_code == 429  # locked for now, even with the right one
    assert _try(TestClient(app), "viewer1", PASSWORDS["viewer1"]) == 429  # the same client: its login too
