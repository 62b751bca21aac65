"""A clinic without a terminal (issue 17, items 1, 2 and 7), in Chromium against the real
server: the admin page (users, clinics), a user's own password change, the exports
downloaded with the login cookie (with the visit's change and verdict), /docs with every
outside request blocked, patient codes in any script with the patients search, the live
regions of the visit page, and every page at phone size (390x844) and with long names
without sideways scrolling of the page.
"""

from __future__ import annotations

import io
import itertools
import json
import os
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from browser_helpers import EMAIL, PASSWORD, Server, log_in, run_cli

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]

ADMIN = "admin@clinic.example"
ADMIN_PASSWORD = "admin-password-123"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
LONG_NAME = "Maximiliana" + "Konstantinopolitanisch" * 8  # one 187-character word
LONG_CODE = "P" + "0123456789" * 6  # 61 characters, no break opportunity
LAYOUT = Path(__file__).resolve().parents[2] / "calibration" / "targets" / "table_8_markers.json"


def _cli(server: Server, *args: str, stdin: str | None = None) -> str:
    env = {**os.environ, "SOTMEASURE_DATA_DIR": str(server.data_dir)}
    env.pop("SOTMEASURE_DATABASE_URL", None)
    return run_cli(list(args), env, stdin)


def _api(server: Server, method: str, path: str, token: str | None, body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(server.base_url + path, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def _token(server: Server, email: str, password: str) -> str:
    body = _api(server, "POST", "/auth/token", None, {"email": email, "password": password})
    return str(body["access_token"])


def _imported(lld: float, tilt: float) -> dict[str, Any]:
    """A finished result as another tool sends it for import (`measure --json` shape)."""
    return {
        "lld_mm": lld,
        "lld_ci95_mm": [lld - 1.0, lld + 1.0],
        "lld_table_mm": lld,
        "short_side": "left" if lld > 0 else "right",
        "pelvic_tilt_deg": tilt,
        "pelvic_tilt_ci95_deg": [tilt - 0.5, tilt + 0.5],
        "body_axis_deg": 0.0,
        "frames_used": 80,
        "frames_total": 100,
        "calibration": "camera+pose",
        "provenance": {"software_version": "other-tool 1.0"},
    }


@dataclass(frozen=True)
class Clinic:
    """The running server and the ids of what the fixture stored."""

    server: Server
    ids: dict[str, int]

    @property
    def base_url(self) -> str:
        return self.server.base_url


@pytest.fixture(scope="module")
def clinic(start_server: Any) -> Iterator[Clinic]:
    """The real server with an admin (made with the CLI), a patient with a long name and
    code, and a visit with an imported pre and post (so the change and verdict show)."""
    srv: Server = start_server("accounts")
    _cli(
        srv,
        "users", "create", "--email", ADMIN, "--role", "admin", "--full-name",
        "Administrator " + LONG_NAME, "--password-stdin",
        stdin=ADMIN_PASSWORD + "\n",
    )  # fmt: skip
    token = _token(srv, EMAIL, PASSWORD)
    patient = _api(srv, "POST", "/patients", token, {"code": LONG_CODE, "name": LONG_NAME})
    visit = _api(srv, "POST", f"/patients/{patient['id']}/visits", token, {"notes": LONG_NAME})
    for phase, lld, tilt in (("pre", 6.0, 2.0), ("post", 1.0, 0.5)):
        _api(
            srv,
            "POST",
            f"/visits/{visit['id']}/measurements",
            token,
            {"phase": phase, "result": _imported(lld, tilt)},
        )
    setup = _api(
        srv,
        "POST",
        "/setups",
        token,
        {
            "name": LONG_NAME,
            "room": LONG_NAME,
            "note": "/data/" + LONG_NAME + ".mp4",  # a path: one long word in the versions
            "layout_json": LAYOUT.read_text(),
        },
    )
    ids = {"patient": patient["id"], "visit": visit["id"], "setup": setup["id"]}
    yield Clinic(srv, ids)


def _context(browser: Any, viewport: dict[str, int]) -> Any:
    context = browser.new_context(viewport=viewport)
    context.set_default_timeout(20_000)
    return context


def _log_in_as(page: Any, base: str, email: str, password: str) -> None:
    page.goto(f"{base}/ui/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("form[action='/ui/login'] button[type=submit]")
    page.wait_for_url(f"{base}/ui/patients")


def _no_sideways_scroll(page: Any, width: int, name: str, artifacts: Path) -> None:
    page.screenshot(path=str(artifacts / f"17-{name}.png"), full_page=True)
    scroll_width = page.evaluate("document.scrollingElement.scrollWidth")
    assert scroll_width <= width, f"{name}: the page is {scroll_width} px wide at {width} px"


def test_admin_manages_users_and_clinics(browser: Any, clinic: Clinic, artifacts: Path) -> None:
    base = clinic.base_url
    admin = _context(browser, DESKTOP).new_page()
    _log_in_as(admin, base, ADMIN, ADMIN_PASSWORD)
    assert admin.inner_text("#clinic-name") == "all clinics (admin)"
    admin.click("nav >> text=Admin")
    admin.wait_for_url(f"{base}/ui/admin")

    # a clinic whose name differs only in letter case is refused, with the reason
    admin.fill("#clinics form.admin-form input[name=name]", "TEST CLINIC")
    admin.click("#clinics form.admin-form button")
    assert "'Test clinic' already exists" in admin.inner_text(".alert")
    assert "letter case" in admin.inner_text(".alert")
    for name in ("Stray clinic", "Old clinic"):
        admin.fill("#clinics form.admin-form input[name=name]", name)
        admin.click("#clinics form.admin-form button")
        assert admin.inner_text(".notice") == "Clinic added."

    # a user in the old clinic, another in the test clinic
    def add_user(email: str, clinic: str) -> None:
        form = "#users form.admin-form"
        admin.fill(f"{form} input[name=email]", email)
        admin.fill(f"{form} input[name=full_name]", email.split("@")[0])
        admin.select_option(f"{form} select[name=role]", "practitioner")
        admin.select_option(f"{form} select[name=clinic_id]", label=clinic)
        admin.fill(f"{form} input[name=password]", "first-password-1")
        admin.click(f"{form} button")
        assert admin.inner_text(".notice") == "User added."

    add_user("moved@clinic.example", "Old clinic")
    add_user("second@clinic.example", "Test clinic")

    # merge the old clinic into the test clinic (its user moves), delete the stray one
    old = admin.locator("tr[data-clinic='Old clinic']")
    assert old.locator("td").nth(1).inner_text() == "1"
    old.locator("select[name=into]").select_option(label="Test clinic")
    old.locator("button:has-text('Merge into')").click()
    assert "Clinic merged" in admin.inner_text(".notice")
    moved = admin.locator("tr[data-email='moved@clinic.example'] td").nth(3)
    assert moved.inner_text() == "Test clinic"
    admin.locator("tr[data-clinic='Stray clinic'] button:has-text('Delete')").click()
    assert admin.inner_text(".notice") == "Clinic deleted."
    assert admin.locator("tr[data-clinic='Stray clinic']").count() == 0
    # the test clinic has patients: neither merge nor delete is offered
    test_row = admin.locator("tr[data-clinic='Test clinic']")
    assert test_row.locator("button:has-text('Delete'), button:has-text('Merge')").count() == 0
    admin.screenshot(path=str(artifacts / "17-admin.png"), full_page=True)

    # the second user logs in twice, changes the password in one browser
    second_a = _context(browser, DESKTOP).new_page()
    second_b = _context(browser, DESKTOP).new_page()
    for pg in (second_a, second_b):
        _log_in_as(pg, base, "second@clinic.example", "first-password-1")
    second_a.goto(f"{base}/ui/account")
    second_a.fill("input[name=current_password]", "not-the-password")
    second_a.fill("input[name=new_password]", "second-password-2")
    second_a.fill("input[name=repeat_password]", "second-password-2")
    second_a.click("#password button[type=submit]")
    assert "current password is not correct" in second_a.inner_text(".alert")
    second_a.fill("input[name=current_password]", "first-password-1")
    second_a.fill("input[name=new_password]", "second-password-2")
    second_a.fill("input[name=repeat_password]", "second-password-2")
    second_a.click("#password button[type=submit]")
    assert "Password changed" in second_a.inner_text(".notice")
    second_a.screenshot(path=str(artifacts / "17-account.png"), full_page=True)
    second_a.goto(f"{base}/ui/patients")  # this browser stays logged in
    assert second_a.url == f"{base}/ui/patients"
    second_b.goto(f"{base}/ui/patients")  # the other session ended
    assert "/ui/login" in second_b.url

    # the admin deactivates the second user: their session ends at once
    row = admin.locator("tr[data-email='second@clinic.example']")
    row.locator("button:has-text('Deactivate')").click()
    assert "User deactivated" in admin.inner_text(".notice")
    assert row.locator("td").nth(4).inner_text() == "deactivated"
    second_a.goto(f"{base}/ui/patients")
    assert "/ui/login" in second_a.url
    # reset the moved user's password; the new one works
    row = admin.locator("tr[data-email='moved@clinic.example']")
    row.locator("input[name=password]").fill("reset-password-3")
    row.locator("button:has-text('Reset password')").click()
    assert "Password set" in admin.inner_text(".notice")
    moved_page = _context(browser, DESKTOP).new_page()
    _log_in_as(moved_page, base, "moved@clinic.example", "reset-password-3")
    assert moved_page.inner_text("#clinic-name") == "Test clinic"

    # rename the test clinic to a long name: every page header shows it
    test_row.locator("input[name=name]").fill("Test clinic " + LONG_NAME)
    test_row.locator("button:has-text('Rename')").click()
    assert admin.inner_text(".notice") == "Clinic renamed."
    moved_page.reload()
    assert moved_page.inner_text("#clinic-name") == "Test clinic " + LONG_NAME

    # a practitioner gets no admin page
    assert moved_page.locator("nav >> text=Admin").count() == 0
    answer = moved_page.goto(f"{base}/ui/admin")
    assert answer is not None and answer.status == 403


def test_exports_download_from_the_page(browser: Any, clinic: Clinic, artifacts: Path) -> None:
    base = clinic.base_url
    page = _context(browser, DESKTOP).new_page()
    log_in(page, base)
    page.click("nav >> text=Exports")
    page.wait_for_url(f"{base}/ui/exports")
    page.screenshot(path=str(artifacts / "17-exports.png"), full_page=True)
    with page.expect_download() as info:
        page.click("#export-csv")
    path = info.value.path()
    table = pd.read_csv(path)
    token = _token(clinic.server, EMAIL, PASSWORD)
    visit_id = clinic.ids["visit"]
    compared = _api(clinic.server, "GET", f"/visits/{visit_id}/comparison", token)["comparison"]
    rows = table[table["visit_id"] == visit_id]
    assert sorted(rows["phase"]) == ["post", "pre"]
    assert rows["visit_lld_change_mm"].tolist() == pytest.approx([compared["change"]["lld_mm"]] * 2)
    assert set(rows["visit_lld_verdict"]) == {compared["verdict"]["lld"]}
    assert set(rows["visit_pelvic_tilt_verdict"]) == {compared["verdict"]["pelvic_tilt"]}
    with page.expect_download() as info:
        page.click("#export-parquet")
    parquet = pd.read_parquet(io.BytesIO(Path(info.value.path()).read_bytes()))
    assert parquet["visit_lld_change_mm"].dropna().tolist() == pytest.approx(
        [compared["change"]["lld_mm"]] * 2
    )


def test_api_docs_render_with_every_outside_request_blocked(
    browser: Any, clinic: Clinic, artifacts: Path
) -> None:
    context = _context(browser, DESKTOP)
    outside: list[str] = []

    def only_this_server(route: Any) -> None:
        if route.request.url.startswith(clinic.base_url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", only_this_server)
    page = context.new_page()
    page.goto(f"{clinic.base_url}/docs")
    page.wait_for_selector(".swagger-ui .info .title")
    assert "sotmeasure" in page.inner_text(".swagger-ui .info .title")
    page.wait_for_selector("[data-path='/auth/token']")
    page.screenshot(path=str(artifacts / "17-docs-offline.png"))
    assert outside == []


def test_patient_codes_in_any_script_and_search(
    browser: Any, clinic: Clinic, artifacts: Path
) -> None:
    base = clinic.base_url
    page = _context(browser, DESKTOP).new_page()
    log_in(page, base)
    for code, name in (("Zoë", "Zoë Example"), ("Łukasz", "Łukasz Nowak"), ("山田", "山田 太郎")):
        page.goto(f"{base}/ui/patients")
        page.fill("input[name=code]", code)
        page.fill("input[name=name]", name)
        page.click("form[action='/ui/patients'] button.primary")
        page.wait_for_url(f"{base}/ui/patients/*")
        assert code in page.inner_text("main")
    page.goto(f"{base}/ui/patients")
    page.fill("#patient-search", "ŁUKASZ")
    page.click("form.search button")
    codes = page.locator("table.patients tbody tr td:first-child").all_inner_texts()
    assert codes == ["Łukasz"]
    page.fill("#patient-search", "太郎")
    page.click("form.search button")
    assert page.locator("table.patients tbody tr td:first-child").all_inner_texts() == ["山田"]
    page.screenshot(path=str(artifacts / "17-patient-search.png"), full_page=True)
    page.fill("#patient-search", "nobody-has-this")
    page.click("form.search button")
    assert page.locator("#no-match").is_visible()


def test_live_regions_announce_states_not_numbers(browser: Any, clinic: Clinic) -> None:
    """On the visit page the quality word is the live region; the live LLD and tilt are
    beside it, outside it: they change every second and must not be read out each time."""
    base = clinic.base_url
    page = _context(browser, DESKTOP).new_page()
    page.add_init_script(
        """
        window.__announced = [];
        document.addEventListener('DOMContentLoaded', () => {
          for (const el of document.querySelectorAll('[aria-live]')) {
            new MutationObserver(() => window.__announced.push(el.textContent))
              .observe(el, {childList: true, characterData: true, subtree: true});
          }
        });
        """
    )
    log_in(page, base)
    page.goto(f"{base}/ui/visits/{clinic.ids['visit']}")
    # wait for live readings with numbers (the demo source): the pose model has run
    page.wait_for_function(
        "document.querySelector('#live-numbers').textContent.includes('mm')", timeout=120_000
    )
    live = page.evaluate("[...document.querySelectorAll('[aria-live]')].map(e => e.id)")
    assert sorted(live) == ["capture-state", "quality-word"]
    assert page.evaluate("document.querySelector('#quality-word').closest('[aria-live]') !== null")
    assert page.evaluate("document.querySelector('#live-numbers').closest('[aria-live]') === null")
    announced: list[str] = page.evaluate("window.__announced")
    assert announced, "the quality word was never written"
    assert not any(ch.isdigit() for text in announced for ch in text), announced
    # a live region is written only when its words change (never the same text twice in a row)
    assert all(a != b for a, b in itertools.pairwise(announced)), announced


PAGES = (
    ("patients", "/ui/patients"),
    ("patient", "/ui/patients/{patient}"),
    ("visit", "/ui/visits/{visit}"),
    ("report", "/ui/visits/{visit}/report"),
    ("account", "/ui/account"),
    ("exports", "/ui/exports"),
    ("setups", "/ui/setups"),
    ("setup", "/ui/setups/{setup}"),
    ("rig-check", "/ui/rig-check"),
    ("not-found", "/ui/patients/999999"),
)


@pytest.mark.parametrize(("label", "viewport"), [("phone", PHONE), ("desktop", DESKTOP)])
def test_every_page_fits_its_width_with_long_names(
    browser: Any, clinic: Clinic, artifacts: Path, label: str, viewport: dict[str, int]
) -> None:
    base = clinic.base_url
    width = viewport["width"]
    page = _context(browser, viewport).new_page()
    page.goto(f"{base}/ui/login")
    _no_sideways_scroll(page, width, f"{label}-login", artifacts)
    log_in(page, base)
    assert page.inner_text("#clinic-name").startswith("Test clinic")
    for name, path in PAGES:
        page.goto(base + path.format(**clinic.ids))
        page.wait_for_load_state("domcontentloaded")
        _no_sideways_scroll(page, width, f"{label}-{name}", artifacts)
        if name == "not-found":
            continue  # the error page has no header
        # the log-out button is whole and inside the screen
        box = page.locator(".logout button").bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width, name
    page.goto(f"{base}/ui/account")
    page.click(".logout button")
    page.wait_for_url("**/ui/login")
    _log_in_as(page, base, ADMIN, ADMIN_PASSWORD)
    page.goto(f"{base}/ui/admin")
    _no_sideways_scroll(page, width, f"{label}-admin", artifacts)
    if label == "phone":
        # a table wider than the phone scrolls in its own box instead of the page
        page.goto(f"{base}/ui/admin")
        scroller = page.locator("#users table.list")
        assert scroller.evaluate("e => e.scrollWidth > e.clientWidth")
        assert scroller.evaluate("e => getComputedStyle(e).overflowX") == "auto"
