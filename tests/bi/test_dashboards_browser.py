"""What people see: headless Chromium (Debian's package) logs in and opens every dashboard.

Screenshots land in test-artifacts/bi/ (git-ignored) for a person to look at.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bi_config.bundle import Bundle

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# a chart has drawn when its holder shows an ECharts canvas, a table or a big number
RENDERED = "canvas, table, .header-line, .big_number, .superset-legacy-chart-big-number"
CHART_ERROR = ".ant-alert-error, [data-test='error-alert'], .alert-danger"


def _dashboards() -> list[tuple[str, str, int]]:
    out = []
    for dashboard in Bundle.load().of_kind("dashboards").values():
        charts = sum(
            1 for n in dashboard["position"].values() if isinstance(n, dict) and n.get("type") == "CHART"
        )
        out.append((dashboard["slug"], dashboard["dashboard_title"], charts))
    return sorted(out)


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail("/usr/bin/chromium is missing: run `make browser-setup` (a prerequisite of `make test`)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


def _login(browser, url: str, username: str, password: str):
    page = browser.new_page(viewport={"width": 1400, "height": 2200})
    page.set_default_timeout(90_000)
    page.goto(f"{url}/login/")
    page.fill("#username", username)
    page.fill("#password", password)
    page.keyboard.press("Enter")
    page.wait_for_url("**/superset/welcome/**")
    return page


def _open(page, url: str, slug: str, charts: int) -> None:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page.goto(f"{url}/superset/dashboard/{slug}/")
    holders = page.locator(".dashboard-component-chart-holder")
    try:
        holders.first.wait_for()
    except PlaywrightTimeout:
        # a cold server on a loaded 2-core machine can miss the first bundle load; a person would reload once
        page.reload()
        holders.first.wait_for()
    page.wait_for_function(
        """([n, rendered]) => {
            const holders = [...document.querySelectorAll('.dashboard-component-chart-holder')];
            return holders.length === n && holders.every(h => h.querySelector(rendered) !== null);
        }""",
        arg=[charts, RENDERED],
    )
    page.wait_for_timeout(1000)  # let animations settle for the screenshot


def test_admin_sees_every_dashboard_without_chart_errors(live_superset, browser, artifacts):
    page = _login(browser, live_superset.url, "admin", live_superset.home.admin_password())
    for slug, title, charts in _dashboards():
        _open(page, live_superset.url, slug, charts)
        assert page.locator(".dashboard-component-chart-holder").count() == charts, slug
        errors = page.locator(f".dashboard-component-chart-holder :is({CHART_ERROR})")
        assert errors.count() == 0, f"{slug}: {errors.first.inner_text()}"
        assert page.get_by_text(title, exact=True).first.is_visible(), slug
        page.screenshot(path=str(artifacts / f"{slug}.png"))
    page.close()


def test_funder_sees_the_funder_view_only(live_superset, browser, artifacts):
    page = _login(browser, live_superset.url, "funder1", live_superset.user_password)
    charts = {slug: n for slug, _, n in _dashboards()}
    _open(page, live_superset.url, "funder-view", charts["funder-view"])
    assert page.locator(f".dashboard-component-chart-holder :is({CHART_ERROR})").count() == 0
    page.screenshot(path=str(artifacts / "funder-view-as-funder.png"))
    page.goto(f"{live_superset.url}/superset/dashboard/program-overview/")
    page.wait_for_timeout(3000)
    assert page.locator(".dashboard-component-chart-holder").count() == 0
    page.screenshot(path=str(artifacts / "program-overview-as-funder.png"))
    page.close()


def _table_states(page, chart_name: str) -> list[str]:
    table = page.locator(f"[data-test-chart-name='{chart_name}'] table")
    return table.locator("tbody tr td:first-child").all_inner_texts()


def test_state_filter_narrows_every_chart(live_superset, browser, artifacts):
    page = _login(browser, live_superset.url, "admin", live_superset.home.admin_password())
    charts = {slug: n for slug, _, n in _dashboards()}
    _open(page, live_superset.url, "program-overview", charts["program-overview"])
    assert set(_table_states(page, "Indicators by district")) == {"Maharashtra", "Uttar Pradesh", "Bihar"}
    page.locator("[data-test='filter-bar'] [data-test='form-item-value']").first.click()
    page.get_by_role("option", name="Maharashtra").click()
    page.keyboard.press("Escape")
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_function(
        """name => {
            const selector = `[data-test-chart-name='${name}'] tbody tr td:first-child`;
            const cells = [...document.querySelectorAll(selector)];
            return cells.length > 0 && cells.every(c => c.innerText === 'Maharashtra');
        }""",
        arg="Indicators by district",
    )
    assert page.locator(f".dashboard-component-chart-holder :is({CHART_ERROR})").count() == 0
    page.screenshot(path=str(artifacts / "program-overview-filtered-MH.png"))
    page.close()


def test_coordinator_dashboard_shows_only_their_state(live_superset, browser, artifacts):
    page = _login(browser, live_superset.url, "coord_mh", live_superset.user_password)
    charts = {slug: n for slug, _, n in _dashboards()}
    _open(page, live_superset.url, "program-overview", charts["program-overview"])
    assert set(_table_states(page, "Indicators by district")) == {"Maharashtra"}
    page.screenshot(path=str(artifacts / "program-overview-as-coordinator-MH.png"))
    page.close()


def _column(page, chart_name: str, n: int) -> list[str]:
    table = page.locator(f"[data-test-chart-name='{chart_name}'] table")
    return table.locator(f"tbody tr td:nth-child({n})").all_inner_texts()


def test_form_explorer_shows_every_form_and_narrows_labels_to_a_language(live_superset, browser, artifacts):
    page = _login(browser, live_superset.url, "admin", live_superset.home.admin_password())
    charts = {slug: n for slug, _, n in _dashboards()}
    _open(page, live_superset.url, "form-explorer", charts["form-explorer"])
    # (tables may page their rows: what a page shows, not every row)
    assert set(_column(page, "Form submissions by enumerator", 1)) <= {"household_survey", "water_point"}
    assert _column(page, "Form submissions by enumerator", 2)
    assert _column(page, "Answers by question and choice", 3)  # choice labels, one row per choice
    assert {"en", "hi"} <= set(_column(page, "Labels in every language", 6))
    # the third filter of the bar is Language (Form, Question, Language, State, District, Month)
    page.locator("[data-test='filter-bar'] [data-test='form-item-value']").nth(2).click()
    page.get_by_role("option", name="hi", exact=True).click()
    page.keyboard.press("Escape")
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_function(
        """name => {
            const selector = `[data-test-chart-name='${name}'] tbody tr td:nth-child(6)`;
            const cells = [...document.querySelectorAll(selector)];
            return cells.length > 0 && cells.every(c => c.innerText === 'hi');
        }""",
        arg="Labels in every language",
    )
    assert "पानी का मुख्य स्रोत" in _column(page, "Labels in every language", 7)
    assert page.locator(f".dashboard-component-chart-holder :is({CHART_ERROR})").count() == 0
    page.screenshot(path=str(artifacts / "form-explorer-language-hi.png"))
    page.close()


def test_coordinator_form_explorer_shows_only_their_states_forms(live_superset, browser, artifacts):
    page = _login(browser, live_superset.url, "coord_mh", live_superset.user_password)
    charts = {slug: n for slug, _, n in _dashboards()}
    _open(page, live_superset.url, "form-explorer", charts["form-explorer"])
    enumerators = _column(page, "Form submissions by enumerator", 2)
    assert enumerators and all(e.startswith("enum_mh_") for e in enumerators)
    assert page.locator(f".dashboard-component-chart-holder :is({CHART_ERROR})").count() == 0
    page.screenshot(path=str(artifacts / "form-explorer-as-coordinator-MH.png"))
    page.close()
