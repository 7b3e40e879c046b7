"""The clinic dashboard in a real headless Chromium (Debian chromium + chromedriver, driven
by Selenium) over real HTTPS (certificate from the test clinic's CA) on a real SQLite store.

Set EMOFACE_SCREENSHOTS=1 to refresh docs/screenshots/dashboard-*.png and report-*.png."""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import threading
import time
import uuid

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from device.wire.alert import make_alert
from device.wire.envelope import Header
from receiver import staff
from receiver.alerts import record_alert
from receiver.store import Store
from tests.support.broker import free_port
from tests.support.paths import REPO

CODE, OTHER_CODE = "K7QM2X", "PW3HRT"
PASSWORD = "correct horse battery"


def _summary(code: str, item9: int) -> dict:
    block = {
        "frames_seen": 300, "frames_used": 270, "frames_dropped": 2,
        "rejected": {"no_face": 20, "blurred": 10}, "features": {},
        "region_activity": {f"R{i}": 0.01 * i for i in range(1, 17)},
        "organ_activity": {"jaw": 0.03, "OLC": 0.05},
    }  # fmt: skip
    seg = {
        "name": "clip-02-happiness", "condition": "happiness", "baseline": False,
        "response": {"amplitude": 0.0123, "latency_s": 0.8}, "blinks": 2,
        "blink_rate_per_min": 12.0, **{k: v for k, v in block.items() if k != "region_activity"},
    }  # fmt: skip
    return {
        "schema_version": "emoface.summary/1",
        "software_version": "0.9.0",
        "completion": {"status": "complete", "reason": None},
        "stimulus": {"name": "site-pack", "placeholder": False, "manifest_sha256": "ab" * 32},
        "questionnaires": {
            "PHQ-9": {
                "instrument": "PHQ-9",
                "complete": True,
                "items": [1] * 8 + [item9],
                "total": 8 + item9,
                "max_total": 27,
                "severity_band": "mild",
                "item9": item9,
                "item9_flag": item9 > 0,
            },
        },  # fmt: skip
        "flags": {"phq9_item9": item9 > 0},
        "session": {**block, "code": code},
        "segments": [seg],
    }


def _store_row(store, device, summary, alert: bool):
    h = Header(device, "0" * 16, uuid.uuid4().hex, 0)
    if alert:
        a = Header(device, "0" * 16, h.boot_id, 1)
        record_alert(
            store, a, make_alert(summary["session"]["code"], device, "PHQ-9:9"), time.time()
        )
    store.insert(h, summary, time.time())
    store.commit()
    return h.message_id


@pytest.fixture(scope="module")
def dashboard(clinic, tmp_path_factory):
    import uvicorn

    from receiver.web.app import create_app
    from receiver.web.serve import ClinicDevices, ensure_tls

    folder = tmp_path_factory.mktemp("dash")
    store = Store(str(folder / "store.sqlite"))
    staff.add_account(store, "dr.li", PASSWORD, "clinician")
    staff.add_account(store, "admin", PASSWORD, "admin")
    ids = {
        "mine": _store_row(store, "dev-a", _summary(CODE, 2), alert=True),
        # a device of another clinic writing to the same database
        "other": _store_row(store, "elsewhere-9", _summary(OTHER_CODE, 1), alert=True),
    }
    cert, key = ensure_tls(clinic, ["127.0.0.1", "localhost"])
    port = free_port()
    app = create_app(store, ClinicDevices(clinic.registry_path), "Test clinic")
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, ssl_certfile=str(cert),
                       ssl_keyfile=str(key), log_level="warning")
    )  # fmt: skip
    t = threading.Thread(target=server.run, daemon=True)
    t.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert time.monotonic() < deadline, "dashboard did not start"
        time.sleep(0.05)
    yield {"url": f"https://127.0.0.1:{port}", "ids": ids, "store": store, "cert": cert,
           "app": app}  # fmt: skip
    server.should_exit = True
    t.join(10)
    store.close()


@pytest.fixture(scope="module")
def browser(dashboard):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    for exe in ("/usr/bin/chromium", "/usr/bin/chromedriver"):
        if not os.path.exists(exe):
            pytest.fail(f"{exe} missing: apt-get install chromium chromium-driver")
    cert = x509.load_pem_x509_certificate(dashboard["cert"].read_bytes())
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1200,900",
                # trust exactly the dashboard's key (issued by the test clinic CA), nothing else
                "--ignore-certificate-errors-spki-list="
                + base64.b64encode(hashlib.sha256(spki).digest()).decode()):  # fmt: skip
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
    driver.implicitly_wait(10)  # a loaded CI machine: argon2 logins and page loads take longer
    yield driver
    driver.quit()


def _login(driver, url, user, password=PASSWORD):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.delete_all_cookies()
    driver.get(url + "/login")
    driver.find_element(By.ID, "username").send_keys(user)
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.ID, "login").click()
    # the click returns before the POST and its redirect finish: wait for the next page
    WebDriverWait(driver, 10).until(
        lambda d: d.find_elements(By.ID, "nav-alerts") or d.find_elements(By.ID, "login-error")
    )


def _shot(driver, tmp_path, name):
    path = tmp_path / f"{name}.png"
    driver.save_screenshot(str(path))
    if os.environ.get("EMOFACE_SCREENSHOTS") == "1":
        shutil.copy(path, REPO / "docs" / "screenshots" / f"{name}.png")


def test_tls_is_verified_against_the_clinic_ca(dashboard, clinic):
    r = httpx.get(dashboard["url"] + "/login", verify=str(clinic.ca_cert))
    assert r.status_code == 200 and "Log in" in r.text
    assert (
        r.headers["cache-control"] == "no-store"
        and "frame-ancestors 'none'" in r.headers["content-security-policy"]
    )
    # nothing but the login page without a session
    r = httpx.get(
        dashboard["url"] + "/sessions", verify=str(clinic.ca_cert), follow_redirects=False
    )
    assert r.status_code == 303 and r.headers["location"] == "/login"


def test_wrong_password_is_refused(browser, dashboard):
    from selenium.webdriver.common.by import By

    _login(browser, dashboard["url"], "dr.li", "not the password")
    assert "wrong user name or password" in browser.find_element(By.ID, "login-error").text
    assert browser.get_cookie("emoface_session") is None


def test_clinician_sees_acknowledges_opens_report_admin_reads_audit(browser, dashboard, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    url, ids = dashboard["url"], dashboard["ids"]
    _login(browser, url, "dr.li")
    # the alert queue: this clinic's alert on top, another clinic's not at all
    box = browser.find_element(By.ID, f"alert-{_alert_id(dashboard, CODE)}")
    assert CODE in box.text and "PHQ-9 item 9" in box.text
    assert OTHER_CODE not in browser.page_source
    _shot(browser, tmp_path, "dashboard-alerts")
    # no patient content in any URL the dashboard links to
    for a in browser.find_elements(By.TAG_NAME, "a") + browser.find_elements(By.TAG_NAME, "form"):
        target = a.get_attribute("href") or a.get_attribute("action") or ""
        assert CODE not in target and "PHQ" not in target
    box.find_element(By.NAME, "note").send_keys("Spoke with the patient; GP informed.")
    box.find_element(By.CLASS_NAME, "ack").click()
    assert browser.find_element(By.ID, "no-open")
    done = browser.find_element(By.ID, "done").text
    assert CODE in done and "dr.li" in done and "GP informed" in done
    # sessions: filter by code (a POST form, so the code never enters a URL), open the report
    browser.find_element(By.ID, "nav-sessions").click()
    browser.find_element(By.ID, "f-code").send_keys(CODE)
    browser.find_element(By.ID, "f-go").click()
    assert CODE not in browser.current_url
    rows = browser.find_elements(By.CSS_SELECTOR, "#sessions .code")
    assert [r.text for r in rows] == [CODE]
    browser.find_element(By.CLASS_NAME, "report-link").click()
    WebDriverWait(browser, 10).until(lambda d: "/sessions/" in d.current_url)
    assert f"Screening session {CODE}" in browser.find_element(By.TAG_NAME, "h1").text
    assert ids["mine"] in browser.current_url and CODE not in browser.current_url
    assert "acknowledged by dr.li" in browser.page_source
    _shot(browser, tmp_path, "report-dashboard")
    # devices and health pages
    browser.get(url + "/devices")
    assert "dev-a" in browser.find_element(By.ID, "devices").text
    assert "elsewhere-9" not in browser.page_source
    browser.get(url + "/health")
    assert "schema version" in browser.find_element(By.ID, "health").text
    # the audit log is for admins
    browser.get(url + "/audit")
    assert "admin accounts" in browser.find_element(By.ID, "error").text
    _login(browser, url, "admin")
    browser.find_element(By.ID, "nav-audit").click()
    actions = [(c.text) for c in browser.find_elements(By.CSS_SELECTOR, "#audit .action")]
    assert "view_session" in actions and "ack_alert" in actions
    audit_text = browser.find_element(By.ID, "audit").text
    assert f"session {ids['mine']}" in audit_text and "dr.li" in audit_text
    _shot(browser, tmp_path, "dashboard-audit")


def test_missing_csrf_expired_session_and_another_clinics_data_are_refused(browser, dashboard):
    from selenium.webdriver.common.by import By

    url, ids = dashboard["url"], dashboard["ids"]
    _login(browser, url, "dr.li")
    # a form whose CSRF token is gone (a forged cross-site post) is refused
    browser.get(url + "/sessions")
    browser.execute_script("document.querySelector('#filter input[name=csrf]').remove()")
    browser.find_element(By.ID, "f-go").click()
    assert "CSRF" in browser.find_element(By.ID, "error").text
    # another clinic's session, by its message id: refused, and the refusal audited
    browser.get(url + f"/sessions/{ids['other']}")
    assert "No such session in this clinic" in browser.find_element(By.ID, "error").text
    assert OTHER_CODE not in browser.page_source
    d = dashboard["app"].state.dashboard
    with d.lock:
        assert ("dr.li", "refused", f"session {ids['other']}") in [
            r[1:] for r in staff.read_audit(d.store)
        ]
        staff.expire_sessions_of(d.store, "dr.li")  # the session's time is up
    browser.get(url + "/")
    assert browser.current_url.endswith("/login")
    assert browser.find_element(By.ID, "login-form")


def _alert_id(dashboard, code) -> str:
    from receiver.alerts import list_alerts

    d = dashboard["app"].state.dashboard
    with d.lock:
        [a] = list_alerts(d.store, code=code)
        d.store.commit()
    return a.message_id
