"""The staff form in a real browser (Debian's Chromium, driven by Playwright), in English and Welsh,
checked with axe-core."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Browser, Page

from tests.e2e.browser import serious_accessibility_problems
from tests.e2e.support import Org, Roster
from wellpulse.common.bank import load_bank
from wellpulse.devstack.stack import Services


async def _answer_every_question(page: Page) -> None:
    """Like a person would: the first option of every radio group, a number where one is asked."""
    for fieldset in await page.locator("form fieldset").all():
        radios = fieldset.get_by_role("radio")
        if await radios.count():
            await radios.first.check()
        else:
            await fieldset.get_by_role("spinbutton").fill("12")


@pytest.mark.parametrize(
    ("lang", "submit", "thanks", "already"),
    [
        ("en", "Send my answers", "Thank you: your answers have been sent", "You have already answered"),
        ("cy", "Anfon fy atebion", "Diolch: mae eich atebion wedi cael eu hanfon", "Rydych chi eisoes wedi ateb"),
    ],
)
async def test_a_person_answers_in_their_language_and_the_link_then_says_already_answered(
    browser: Browser,
    stack: Services,
    org: Org,
    roster: Roster,
    pulse: dict[str, Any],
    uid: str,
    lang: str,
    submit: str,
    thanks: str,
    already: str,
) -> None:
    team = f"{uid}-browser"
    org.add((team, None, 5))
    [token] = roster.tokens(pulse["pulse_id"], team, 1)
    link = f"{stack.url('pulse-intake')}/p/{token}?lang={lang}"
    context = await browser.new_context(viewport={"width": 390, "height": 844}, locale="en-GB")
    page = await context.new_page()
    try:
        await page.goto(link)
        assert await page.locator("html").get_attribute("lang") == lang
        first_item = load_bank().item(pulse["items"][0]["code"])
        await page.get_by_text(first_item.text[lang], exact=False).first.wait_for()
        assert await serious_accessibility_problems(page) == []

        # A number out of range: the form comes back with an error summary and keeps the answers.
        await _answer_every_question(page)
        number = page.get_by_role("spinbutton")
        if await number.count():
            await number.fill("999")
            await page.get_by_role("button", name=submit).click()
            summary = page.get_by_role("alert")
            await summary.wait_for()
            assert await serious_accessibility_problems(page) == []
            assert await page.locator("form input[type=radio]:checked").count() >= 1
            await page.get_by_role("spinbutton").fill("12")

        await page.get_by_role("button", name=submit).click()
        await page.get_by_role("heading", name=thanks).wait_for()
        assert await serious_accessibility_problems(page) == []

        await page.goto(link)
        await page.get_by_role("heading", name=already, exact=False).wait_for()
        assert await page.locator("form").count() == 0
    finally:
        await context.close()
