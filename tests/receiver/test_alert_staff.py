"""Staff accounts and the audit log on both store back-ends (SQLite and PostgreSQL), with
real argon2 hashing: the groundwork the clinic dashboard will stand on."""

from __future__ import annotations

import pytest

from device.errors import InputError
from receiver import staff
from receiver.store import Store


def test_accounts_login_lockout_expiry_and_audit(store_url):
    store = Store(store_url)
    staff.add_account(store, "dr.li", "correct horse battery", "clinician")
    with pytest.raises(InputError, match="exists already"):
        staff.add_account(store, "dr.li", "another long password", "clinician")
    with pytest.raises(InputError, match="at least 12"):
        staff.add_account(store, "nurse", "short", "clinician")
    row = store.backend.execute("SELECT password_hash FROM staff").fetchone()
    assert row[0].startswith("$argon2id$") and "correct horse" not in row[0]
    token, sess = staff.login(store, "dr.li", "correct horse battery", now=1000.0)
    assert sess.role == "clinician" and len(sess.csrf) > 30
    assert staff.session_for(store, token, now=1001.0) == sess
    assert staff.session_for(store, token, now=1000.0 + staff.SESSION_S + 1) is None  # expired
    assert staff.session_for(store, "forged", now=1001.0) is None
    with pytest.raises(staff.LoginRefused):
        staff.login(store, "nobody", "whatever whatever")
    for _ in range(staff.MAX_FAILURES):
        with pytest.raises(staff.LoginRefused, match="wrong user name or password"):
            staff.login(store, "dr.li", "wrong password!!", now=2000.0)
    with pytest.raises(staff.LoginRefused, match="locked"):  # even the right password
        staff.login(store, "dr.li", "correct horse battery", now=2001.0)
    staff.login(store, "dr.li", "correct horse battery", now=2001.0 + staff.LOCK_S)
    staff.expire_sessions_of(store, "dr.li")
    assert staff.session_for(store, token, now=1001.0) is None
    actions = [a for _, _, a, _ in staff.read_audit(store)]
    assert actions.count("login") == 2 and "login_refused" in actions
    assert actions.count("login_failed") == staff.MAX_FAILURES + 1
    store.close()
