"""The leaders' dashboard in Debian's Chromium against the running stack: a leader signs in through
the development issuer's page (authorization code + PKCE), reads the overview (its scales banded as
the heatmap bands them) and the trends of a directorate, its heatmap, its 12 Changes and its unit
detail (each item's distribution), and every chart and table says what the API says; a team under k
shows its week, its heatmap cells and its items as suppressed; a unit outside the leader's scope,
on any page, is the same 404 page as an unknown one; the picker and the pages work by keyboard; axe-core finds
nothing serious at desktop or phone width; a forged sign-out is refused and a real one ends the
session. Screenshots go to test-artifacts/dashboard/."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page

from tests.e2e.browser import serious_accessibility_problems
from tests.e2e.support import Auth, Org, Roster, answers_for, poll, submit
from wellpulse.common.bank import HseScale
from wellpulse.devstack.stack import Infrastructure, Services

PROJECT = Path(__file__).resolve().parents[2]
ARTIFACTS = PROJECT / "test-artifacts" / "dashboard"
VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 360, "height": 780}}
SCALE_NAMES = {
    "demands": "Demands",
    "control": "Control",
    "manager_support": "Manager support",
    "peer_support": "Peer support",
    "relationships": "Relationships",
    "role": "Role",
    "change": "Change",
}
CHANGE_NAMES = {
    "cpd": "Professional development",
    "career": "Career opportunities",
    "supervision": "Supervision and peer support",
    "wellbeing": "Wellbeing and self-care",
    "protection": "Protection from harm",
    "workload": "Manageable workloads",
    "direct_work": "Time for direct work",
    "management": "Good management and role clarity",
    "technology": "Technology and digital skills",
    "leadership": "Effective leadership",
    "inclusion": "Inclusive workplaces",
    "recognition": "Respect, recognition and fair pay",
}
BANDS = {"red": "Red", "yellow": "Yellow", "aqua": "Aqua", "green": "Green", None: "no benchmark"}
K = 5
SUPPRESSED = f"suppressed (fewer than {K})"


@dataclass(frozen=True)
class Scene:
    """A directorate of two teams, one too small to show, and a unit beside it the leader may not see."""

    directorate: str
    big: str
    small: str
    outside: str


def _answers(pulse: dict[str, Any], value: int) -> dict[str, int | str]:
    # Every 1-5 item answered ``value`` (4 or 2): scales differ, since some items are reverse-scored.
    return {code: value if answer == 3 else answer for code, answer in answers_for(pulse, leaving=False).items()}


@pytest.fixture(scope="module")
def scene(stack: Services, auth: Auth, org: Org, roster: Roster, pulse: dict[str, Any]) -> Scene:
    uid = f"t{uuid.uuid4().hex[:6]}"
    found = Scene(f"{uid}-dir", f"{uid}-big", f"{uid}-small", f"{uid}-outside")
    org.add((found.directorate, None, 0), (found.big, found.directorate, 10), (found.small, found.directorate, 4))
    org.add((found.outside, None, 9))
    intake = stack.url("pulse-intake")
    for team, count, value in ((found.big, 6, 4), (found.small, 2, 2)):
        for token in roster.tokens(pulse["pulse_id"], team, count):
            assert submit(intake, token, _answers(pulse, value)).status_code == 202
    poll(
        lambda: _trend(stack, auth, found.directorate, found.directorate, weeks=1)["weeks"][0]["respondents"],
        lambda respondents: respondents == 8,
        "the directorate's respondents counted",
    )
    return found


def _trend(stack: Services, auth: Auth, unit: str, scope: str, weeks: int) -> dict[str, Any]:
    return _api(stack, auth, "trends", unit, scope, weeks)


def _api(stack: Services, auth: Auth, view: str, unit: str, scope: str, weeks: int) -> dict[str, Any]:
    """What the reporting API answers a leader of ``scope`` (the page must say the same)."""
    answer = httpx.get(
        f"{stack.url('reporting')}/v1/units/{unit}/{view}", params={"weeks": weeks}, headers=auth.leader(scope)
    )
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


async def _screenshot(page: Page, viewport: str, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{viewport}-{name}.png"), full_page=True)


async def _check_page(page: Page, viewport: str, name: str) -> None:
    """axe-core, no sideways scrolling at this width, and a screenshot."""
    assert await serious_accessibility_problems(page) == [], name
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= VIEWPORTS[viewport]["width"], f"{name} scrolls sideways at {viewport} width"
    await _screenshot(page, viewport, name)


async def _rows(page: Page, table: str) -> dict[str, list[str]]:
    """A table's body as {row header: [cell texts]} (the suppressed mark is aria-hidden, left out)."""
    rows: dict[str, list[str]] = await page.evaluate(
        """(selector) => Object.fromEntries([...document.querySelectorAll(selector + ' tbody tr')].map(row => [
            row.querySelector('th').textContent.trim(),
            [...row.querySelectorAll('td')].map(cell => [...cell.childNodes]
                .filter(node => !(node.getAttribute && node.getAttribute('aria-hidden') === 'true'))
                .map(node => node.textContent).join('').trim()),
        ]))""",
        table,
    )
    return rows


def _shown_mean(week: dict[str, Any], scale: str) -> float | None:
    figure = week["measures"].get(f"scale:{scale}")
    return figure["mean"] if figure else None


async def _sign_in_at_the_issuer(page: Page, role: str, units: str) -> None:
    await page.get_by_role("radio", name=re.compile(f"^{role}", re.I)).check()
    await page.get_by_label("Units in scope").fill(units)
    await page.get_by_role("button", name="Sign in").click()


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
async def test_a_leader_reads_their_directorate_and_nothing_outside_it(
    browser: Browser, stack: Services, infrastructure: Infrastructure, auth: Auth, scene: Scene, viewport: str
) -> None:
    reporting = stack.url("reporting")
    context = await browser.new_context(viewport=VIEWPORTS[viewport], locale="en-GB")  # type: ignore[arg-type]
    page = await context.new_page()
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    try:
        # Signed out, a dashboard page sends the browser to the organisation's sign-in.
        await page.goto(f"{reporting}/dashboard/units/{scene.directorate}")
        assert page.url.startswith(f"{infrastructure.issuer.url}/authorize?")
        assert "code_challenge_method=S256" in page.url
        await _check_page(page, viewport, "1-issuer-sign-in")
        await _sign_in_at_the_issuer(page, "leader", scene.directorate)
        await page.wait_for_url(f"{reporting}/dashboard/units/{scene.directorate}")
        await _the_session_cookie_is_httponly_and_lax(context)

        await _overview_says_what_the_api_says(page, stack, auth, scene)
        await _check_page(page, viewport, "2-overview")

        # To the trends by keyboard: the skip link first, then the navigation.
        await page.keyboard.press("Tab")
        assert await page.evaluate("document.activeElement.textContent.trim()") == "Skip to main content"
        await page.get_by_role("link", name="Trends").focus()
        await page.keyboard.press("Enter")
        await page.wait_for_url(f"{reporting}/dashboard/units/{scene.directorate}/trends")
        await _charts_draw_what_the_api_says(page, stack, auth, scene.directorate, scene.directorate)
        await _check_page(page, viewport, "3-trends")

        await page.get_by_role("link", name="Heatmap", exact=True).click()
        await page.wait_for_url(f"{reporting}/dashboard/units/{scene.directorate}/heatmap")
        await _heatmap_says_what_the_api_says(page, stack, auth, scene)
        await _check_page(page, viewport, "4-heatmap")
        await page.get_by_role("link", name="The 12 Changes", exact=True).click()
        await page.wait_for_url(f"{reporting}/dashboard/units/{scene.directorate}/changes")
        await _changes_say_what_the_api_says(page, stack, auth, scene)
        await _check_page(page, viewport, "4-the-12-changes")

        # To the unit detail by keyboard, from the heatmap's row for the directorate.
        await page.get_by_role("link", name="Heatmap", exact=True).click()
        await page.wait_for_url(f"{reporting}/dashboard/units/{scene.directorate}/heatmap")
        directorate_name = await page.get_by_role("heading", level=1).inner_text()
        await page.get_by_role("link", name=f"Detail of {directorate_name}", exact=True).focus()
        await page.keyboard.press("Enter")
        await page.wait_for_url(f"{reporting}/dashboard/units/{scene.directorate}/detail?weeks=4")
        await _detail_says_what_the_api_says(page, stack, auth, scene.directorate, scene.directorate)
        shown = _api(stack, auth, "items", scene.directorate, scene.directorate, weeks=4)["items"]
        assert any(not item["suppressed"] for item in shown), "this week's items are shown for the directorate"
        await _check_page(page, viewport, "4-unit-detail")
        await page.locator(f'#units tr[data-unit="{scene.small}"] th a').click()  # a child, by its link
        await page.wait_for_url(f"{reporting}/dashboard/units/{scene.small}/detail?weeks=4")
        await _a_team_under_k_shows_its_items_as_suppressed(page, stack, auth, scene)
        await _check_page(page, viewport, "4-suppressed-team-detail")
        # Back to the directorate: the picker's test starts from a unit other than the one it picks.
        await page.goto(f"{reporting}/dashboard/units/{scene.directorate}/changes")

        await _the_picker_offers_the_scope_and_works_by_keyboard(page, reporting, scene)
        await _a_team_under_k_shows_its_week_as_suppressed(page, stack, auth, scene)
        await _check_page(page, viewport, "5-suppressed-team-trends")

        outside = await page.goto(f"{reporting}/dashboard/units/{scene.outside}")
        assert outside is not None
        assert outside.status == 404
        outside_text = await page.locator("main").inner_text()
        await _check_page(page, viewport, "6-outside-scope")
        unknown = await page.goto(f"{reporting}/dashboard/units/{scene.directorate}-no-such-unit")
        assert unknown is not None
        assert unknown.status == 404
        assert await page.locator("main").inner_text() == outside_text, "outside the scope reads as not there"
        for suffix in ("/detail", "/detail?weeks=1"):
            detail = await page.goto(f"{reporting}/dashboard/units/{scene.outside}{suffix}")
            assert detail is not None
            assert detail.status == 404, suffix
            assert await page.locator("main").inner_text() == outside_text, suffix

        await _sign_out_needs_the_pages_token_and_ends_the_session(page, context, reporting, infrastructure, viewport)
        csp = [line for line in console if "Content Security Policy" in line or "Refused to" in line]
        assert csp == [], "the pages run within their Content-Security-Policy"
    finally:
        await context.close()


async def _the_session_cookie_is_httponly_and_lax(context: BrowserContext) -> None:
    cookies = {c["name"]: c for c in await context.cookies()}
    session = cookies["wellpulse-session"]
    assert session["httpOnly"] is True
    assert session["sameSite"] == "Lax"
    assert session["secure"] is False, "plain http on a laptop: Secure (and __Host-) outside development"
    assert "wellpulse-sign-in" not in cookies, "the sign-in's own cookie is gone once it finished"


async def _overview_says_what_the_api_says(page: Page, stack: Services, auth: Auth, scene: Scene) -> None:
    trend = _trend(stack, auth, scene.directorate, scene.directorate, weeks=6)
    assert await page.get_by_role("heading", level=1).inner_text() == trend["name"]
    expected_rates = {
        w["iso_week"]: [SUPPRESSED]
        if w["suppressed"]
        else [str(w["respondents"]), f"{round(w['response_rate'] * 100)}%"]
        for w in trend["weeks"]
    }
    assert await _rows(page, "#rates") == expected_rates
    latest = await _rows(page, "#scales")
    for scale, name in SCALE_NAMES.items():
        shown = [w for w in reversed(trend["weeks"]) if _shown_mean(w, scale) is not None]
        if shown:
            figure = shown[0]["measures"][f"scale:{scale}"]
            assert latest[name] == [f"{figure['mean']:.2f}", shown[0]["iso_week"], str(figure["n"])], name
        else:
            assert latest[name] in ([SUPPRESSED], ["no answers in these weeks"]), name
    assert any(row != [SUPPRESSED] for row in expected_rates.values()), "this week's figures are shown"
    # Scales against the benchmark: the heatmap API's row for the unit over its default four weeks.
    banded = _api(stack, auth, "heatmap", scene.directorate, scene.directorate, weeks=4)
    [whole] = [row for row in banded["rows"] if row["whole"]]
    expected_bands = {
        SCALE_NAMES[scale]: [SUPPRESSED] if c["suppressed"] else [f"{c['mean']:.2f}", BANDS[c["band"]]]
        for scale, c in ((scale, whole["cells"][scale]) for scale in banded["scales"])
    }
    assert await _rows(page, "#bands") == expected_bands
    assert any(cells != [SUPPRESSED] for cells in expected_bands.values()), "the directorate's scales are shown"
    link = page.get_by_role("link", name="Demands", exact=True)
    assert await link.get_attribute("href") == f"/dashboard/units/{scene.directorate}/detail?weeks=4#scale-demands"
    # Alerts by family: the alerts API's counts for the same weeks, family by family.
    counts = _api(stack, auth, "alerts", scene.directorate, scene.directorate, weeks=6)
    names = {"caseload": "Caseload", "bullying": "Bullying, harassment or discrimination"}
    names["intent_to_leave"] = "Intent to leave"
    assert await _rows(page, "#alerts") == {
        names.get(family, family): [str(c["open"]), str(c["acknowledged"]), str(c["raised"])]
        for family, c in counts["families"].items()
    }


async def _chart_options(page: Page) -> dict[str, dict[str, Any]]:
    await page.wait_for_function("document.querySelectorAll('.chart:not([hidden]) svg').length === 7")
    options: dict[str, dict[str, Any]] = await page.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll('.chart')].map(element => {
            const option = echarts.getInstanceByDom(element).getOption();
            const series = option.series[0];
            const areas = (option.series[1].markArea || {}).data || [];
            return [element.id.replace('chart-', ''), {
                weeks: option.xAxis[0].data,
                band: [option.xAxis[1].min, option.xAxis[1].max, option.series[1].xAxisIndex],
                name: series.name,
                data: series.data,
                // Week indexes: the shading spans each week whole, from i - 0.5 to i + 0.5.
                suppressed: areas.map(area => [area[0].xAxis + 0.5, area[1].xAxis - 0.5]),
                label: (areas[0] || [{}])[0].name || null,
            }];
        }))"""
    )
    return options


async def _charts_draw_what_the_api_says(page: Page, stack: Services, auth: Auth, unit: str, scope: str) -> None:
    trend = _trend(stack, auth, unit, scope, weeks=12)
    weeks = [w["iso_week"] for w in trend["weeks"]]
    options = await _chart_options(page)
    assert set(options) == {scale.value for scale in HseScale}
    for scale, option in options.items():
        assert option["weeks"] == weeks
        assert option["name"] == SCALE_NAMES[scale]
        assert option["data"] == [_shown_mean(w, scale) for w in trend["weeks"]], scale
        hidden = [
            w["iso_week"] for w in trend["weeks"] if w["suppressed"] or w["measures"].get(f"scale:{scale}", 0) is None
        ]
        assert option["band"] == [-0.5, len(weeks) - 0.5, 1], "the shading's axis lies over the weeks"
        shaded = {week for first, last in option["suppressed"] for week in weeks[int(first) : int(last) + 1]}
        assert shaded == set(hidden), scale
        if hidden:
            assert option["label"] == SUPPRESSED
        table = await _rows(page, f'table[data-scale="{scale}"]')
        assert list(table) == weeks
        for week in trend["weeks"]:
            mean = _shown_mean(week, scale)
            if mean is not None:
                assert table[week["iso_week"]][0] == f"{mean:.2f}"
            elif week["iso_week"] in hidden:
                assert table[week["iso_week"]] == [SUPPRESSED]
        caption = page.locator(f"#chart-{scale}-caption")
        assert await caption.inner_text() == f"{SCALE_NAMES[scale]}: mean per ISO week (1 to 5, higher is better)"


async def _heatmap_says_what_the_api_says(page: Page, stack: Services, auth: Auth, scene: Scene) -> None:
    answer = _api(stack, auth, "heatmap", scene.directorate, scene.directorate, weeks=4)
    expected = {}
    for row in answer["rows"]:
        cells = [row["cells"][scale] for scale in answer["scales"]]
        figures = [SUPPRESSED if c["suppressed"] else f"{c['mean']:.2f} {BANDS[c['band']]}" for c in cells]
        rate = row["response_rate"]
        shown_rate = f"{round(rate * 100)}%" if rate is not None else SUPPRESSED
        expected[f"{row['name']} (all)" if row["whole"] else row["name"]] = [
            *figures,
            shown_rate,
            f"Detail of {row['name']}",
        ]
    assert await _rows(page, "#heatmap") == expected
    assert [u["unit_id"] for u in answer["rows"]] == [scene.directorate, scene.big, scene.small]
    names = {u["unit_id"]: u["name"] for u in answer["rows"]}
    assert expected[names[scene.small]][:7] == [SUPPRESSED] * 7, "two people: every scale suppressed"
    small = page.locator(f'#heatmap tr[data-unit="{scene.small}"] td[data-scale]')
    assert await small.evaluate_all("cells => cells.map(c => c.className)") == ["suppressed"] * 7
    assert any(f != SUPPRESSED for f in expected[f"{names[scene.directorate]} (all)"][:7]), "the directorate shows"


async def _changes_say_what_the_api_says(page: Page, stack: Services, auth: Auth, scene: Scene) -> None:
    answer = _api(stack, auth, "changes", scene.directorate, scene.directorate, weeks=4)
    [whole] = [row for row in answer["rows"] if row["whole"]]
    order = [*whole["most_needed"], *(c for c in answer["changes"] if c not in whole["most_needed"])]
    await page.wait_for_function("document.querySelectorAll('.chart:not([hidden]) svg').length === 1")
    option = await page.evaluate(
        """() => {
            const option = echarts.getInstanceByDom(document.getElementById('chart-changes')).getOption();
            const areas = (option.series[1].markArea || {}).data || [];
            return {categories: option.yAxis[0].data, data: option.series[0].data,
                    band: [option.yAxis[1].min, option.yAxis[1].max, option.series[1].yAxisIndex],
                    shaded: areas.map(area => [area[0].yAxis + 0.5, area[1].yAxis - 0.5, area[0].name])};
        }"""
    )
    assert option["categories"] == [CHANGE_NAMES[c] for c in order]
    assert option["data"] == [whole["changes"][c]["score"] for c in order]
    assert option["band"] == [-0.5, len(order) - 0.5, 1]
    hidden = [i for i, c in enumerate(order) if whole["changes"][c]["suppressed"]]
    assert option["shaded"] == ([[hidden[0], hidden[-1], SUPPRESSED]] if hidden else [])
    assert whole["most_needed"], "the directorate has scores to rank"
    ranked = await _rows(page, "#ranked")
    assert list(ranked) == [CHANGE_NAMES[c] for c in order]
    for change in order:
        score = whole["changes"][change]
        assert ranked[CHANGE_NAMES[change]] == (
            [SUPPRESSED]
            if score["suppressed"]
            else [f"{score['score']:.2f}", f"{score['items_shown']} of {score['items']}"]
        ), change
    by_unit = await _rows(page, "#changes-by-unit")
    for row in answer["rows"]:
        name = f"{row['name']} (all)" if row["whole"] else row["name"]
        assert by_unit[name] == [
            SUPPRESSED if s["suppressed"] else f"{s['score']:.2f}"
            for s in (row["changes"][c] for c in answer["changes"])
        ], name


def _items_rows(answer: dict[str, Any], scale: str) -> dict[str, list[str]]:
    """An items table as the page must show it: the API's figures for each of the scale's items."""
    scores = [str(s) for s in range(1, 6)]
    return {
        f"{item['code']} {item['text']['en']}": [SUPPRESSED]
        if item["suppressed"]
        else [f"{item['mean']:.2f}", str(item["responses"]), *(str(item["distribution"][s]) for s in scores)]
        for item in answer["items"]
        if item["hse_scale"] == scale
    }


async def _detail_says_what_the_api_says(page: Page, stack: Services, auth: Auth, unit: str, scope: str) -> None:
    answer = _api(stack, auth, "items", unit, scope, weeks=4)
    scales = [s.value for s in HseScale if any(i["hse_scale"] == s.value for i in answer["items"])]
    assert scales, "the bank scores items on the HSE scales"
    await page.wait_for_function(f"document.querySelectorAll('.chart:not([hidden]) svg').length === {len(scales)}")
    options: dict[str, dict[str, Any]] = await page.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll('.chart')].map(element => {
            const option = echarts.getInstanceByDom(element).getOption();
            const layer = option.series[option.series.length - 1];
            const areas = (layer.markArea || {}).data || [];
            return [element.id.replace('chart-items-', ''), {
                items: option.yAxis[0].data,
                series: option.series.slice(0, -1).map(s => [s.name, s.stack, s.data]),
                band: [option.yAxis[1].min, option.yAxis[1].max, layer.yAxisIndex],
                // Item indexes: the shading spans each item's row whole, from i - 0.5 to i + 0.5.
                shaded: areas.map(area => [area[0].yAxis + 0.5, area[1].yAxis - 0.5, area[0].name]),
            }];
        }))"""
    )
    assert list(options) == scales
    names = ["1 (worst)", "2", "3", "4", "5 (best)"]
    for scale, option in options.items():
        items = [i for i in answer["items"] if i["hse_scale"] == scale]
        assert option["items"] == [i["code"] for i in items]
        assert option["series"] == [
            [name, "distribution", [i["distribution"][str(score)] if i["distribution"] else None for i in items]]
            for score, name in enumerate(names, start=1)
        ], scale
        assert option["band"] == [-0.5, len(items) - 0.5, 1]
        shaded = {i for first, last, _ in option["shaded"] for i in range(int(first), int(last) + 1)}
        assert shaded == {n for n, i in enumerate(items) if i["suppressed"]}, scale
        assert {label for _, _, label in option["shaded"]} <= {SUPPRESSED}
        assert await _rows(page, f'table[data-scale="{scale}"]') == _items_rows(answer, scale), scale
    # The response rate against headcount, and each child with a link to its own detail.
    rates = _api(stack, auth, "heatmap", unit, scope, weeks=4)
    assert await _rows(page, "#units") == {
        f"{row['name']} (all)" if row["whole"] else row["name"]: [
            str(row["headcount"]),
            f"{round(row['response_rate'] * 100)}%" if row["response_rate"] is not None else SUPPRESSED,
        ]
        for row in rates["rows"]
    }
    for row in rates["rows"][1:]:
        link = page.locator(f'#units tr[data-unit="{row["unit_id"]}"] th a')
        assert await link.get_attribute("href") == f"/dashboard/units/{row['unit_id']}/detail?weeks=4"


async def _a_team_under_k_shows_its_items_as_suppressed(page: Page, stack: Services, auth: Auth, scene: Scene) -> None:
    answer = _api(stack, auth, "items", scene.small, scene.directorate, weeks=4)
    assert all(item["suppressed"] for item in answer["items"]), "two people: the API shows no item"
    await _detail_says_what_the_api_says(page, stack, auth, scene.small, scene.directorate)
    cells = page.locator(".items-table tbody td")
    assert set(await cells.evaluate_all("cells => cells.map(c => c.className)")) == {"suppressed"}
    assert set(await cells.evaluate_all("cells => cells.map(c => c.textContent.trim())")) == {f"⊘ {SUPPRESSED}"}


async def _the_picker_offers_the_scope_and_works_by_keyboard(page: Page, reporting: str, scene: Scene) -> None:
    picker = page.get_by_label("Unit", exact=True)
    offered = await picker.locator("option").evaluate_all("options => options.map(o => o.value)")
    assert sorted(offered) == sorted([scene.directorate, scene.big, scene.small]), "the scope, and only the scope"
    await picker.focus()
    await picker.select_option(scene.small)
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.textContent.trim()") == "Show"
    await page.keyboard.press("Enter")
    await page.wait_for_url(re.compile(re.escape(f"{reporting}/dashboard/units/{scene.small}/")))


async def _a_team_under_k_shows_its_week_as_suppressed(page: Page, stack: Services, auth: Auth, scene: Scene) -> None:
    await page.goto(f"{stack.url('reporting')}/dashboard/units/{scene.small}/trends")
    trend = _trend(stack, auth, scene.small, scene.directorate, weeks=12)
    this_week = trend["weeks"][-1]
    assert this_week["suppressed"], "two people: the API shows nothing for the week"
    await _charts_draw_what_the_api_says(page, stack, auth, scene.small, scene.directorate)
    rows = await _rows(page, 'table[data-scale="demands"]')
    assert rows[this_week["iso_week"]] == [SUPPRESSED]
    await page.goto(f"{stack.url('reporting')}/dashboard/units/{scene.small}")
    assert (await _rows(page, "#rates"))[this_week["iso_week"]] == [SUPPRESSED]
    cell = page.locator(f'#rates tr[data-week="{this_week["iso_week"]}"] td')
    assert await cell.get_attribute("class") == "suppressed", "marked for the eye, not only in words"
    await page.goto(f"{stack.url('reporting')}/dashboard/units/{scene.small}/trends")


async def _sign_out_needs_the_pages_token_and_ends_the_session(
    page: Page, context: BrowserContext, reporting: str, infrastructure: Infrastructure, viewport: str
) -> None:
    forged = await context.request.post(
        f"{reporting}/dashboard/sign-out", form={"csrf_token": "not-this-sessions"}, max_redirects=0
    )
    assert forged.status == 403
    kept = {c["name"]: c for c in await context.cookies()}["wellpulse-session"]
    again = await page.goto(f"{reporting}/dashboard/")
    assert again is not None
    assert again.url.startswith(f"{reporting}/dashboard/units/"), "still signed in after the forged sign-out"

    await page.get_by_role("button", name="Sign out").click()
    await page.get_by_role("heading", level=1, name="You have signed out").wait_for()
    await _check_page(page, viewport, "7-signed-out")
    await context.add_cookies([kept])  # a browser that kept the cookie is signed out all the same
    await page.goto(f"{reporting}/dashboard/")
    assert page.url.startswith(f"{infrastructure.issuer.url}/authorize?")


async def test_an_account_without_the_leader_or_hr_role_is_told_so(
    browser: Browser, stack: Services, infrastructure: Infrastructure, scene: Scene
) -> None:
    context = await browser.new_context(viewport=VIEWPORTS["desktop"])  # type: ignore[arg-type]
    page = await context.new_page()
    try:
        await page.goto(f"{stack.url('reporting')}/dashboard/")
        await _sign_in_at_the_issuer(page, "admin", "")
        heading = page.get_by_role("heading", level=1, name="This dashboard is for leaders and HR")
        await heading.wait_for()
        assert "it has: admin" in await page.locator("main").inner_text()
        assert "wellpulse-session" not in {c["name"] for c in await context.cookies()}
        await _check_page(page, "desktop", "8-admin-refused")
    finally:
        await context.close()
