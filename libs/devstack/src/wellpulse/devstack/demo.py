"""A demo organisation and a few weeks of synthetic responses, loaded through the public APIs.

Northshire Council's social-work teams: most hold steady, but Assessment Team A's demands worsen
week by week and more of its people think of leaving, enough to raise an alert. Seeded: every run
tells the same story.
"""

from __future__ import annotations

import asyncio
import csv
import io
import random
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import httpx

from wellpulse.common.bank import AlertFamily, QuestionBank, ResponseKind, load_bank
from wellpulse.common.events import iso_week_of

ROOT = "northshire"
STRAINED_TEAM = "cs-assess-a"

DIRECTORATES = {
    "childrens": ("Children's Services", ["cs-assess-a", "cs-assess-b", "cs-cp-1", "cs-cp-2", "cs-lac"]),
    "adults": ("Adult Social Care", ["as-intake", "as-ltc-north", "as-ltc-south", "as-mh", "as-ld"]),
    "practice": ("Quality and Practice", ["qp-psw", "qp-learning"]),
}
TEAM_NAMES = {
    "cs-assess-a": "Assessment Team A",
    "cs-assess-b": "Assessment Team B",
    "cs-cp-1": "Child Protection 1",
    "cs-cp-2": "Child Protection 2",
    "cs-lac": "Children in Care",
    "as-intake": "Adult Intake",
    "as-ltc-north": "Long-term Care North",
    "as-ltc-south": "Long-term Care South",
    "as-mh": "Mental Health",
    "as-ld": "Learning Disabilities",
    "qp-psw": "Principal Social Worker's Office",
    "qp-learning": "Learning and Development",
}


def demo_units(seed: int = 7) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    units: list[dict[str, Any]] = [{"unit_id": ROOT, "parent_id": None, "name": "Northshire Council", "headcount": 0}]
    for directorate, (name, teams) in DIRECTORATES.items():
        units.append({"unit_id": directorate, "parent_id": ROOT, "name": name, "headcount": 0})
        for team in teams:
            headcount = 22 if team == STRAINED_TEAM else rng.randint(12, 34)
            units.append({"unit_id": team, "parent_id": directorate, "name": TEAM_NAMES[team], "headcount": headcount})
    return units


@dataclass(frozen=True)
class Climate:
    """How a team feels in a week: wellbeing on the 1–5 scale, the chance of wanting to leave and
    of reporting bullying, the cases people hold and how manageable (1–5) they find them."""

    wellbeing: float
    leave_chance: float
    bullying_chance: float
    cases: float = 16.0
    manageable: float = 3.6


# One team for each alert family, so the demo raises all three: the assessment team's people
# increasingly intend to leave; child protection 1 holds too many cases; in mental health,
# bullying is reported week after week.
OVERLOADED_TEAM = "cs-cp-1"
BULLIED_TEAM = "as-mh"


def climate(team: str, week_index: int, weeks: int) -> Climate:
    progress = week_index / max(weeks - 1, 1)
    if team == STRAINED_TEAM:
        return Climate(3.3 - 1.2 * progress, 0.45 + 0.5 * progress, 0.07, cases=17 + 3 * progress)
    if team == OVERLOADED_TEAM:
        return Climate(3.0, 0.2, 0.05, cases=24 + 6 * progress, manageable=2.6 - 1.0 * progress)
    if team == BULLIED_TEAM:
        return Climate(3.2, 0.15, 0.35)
    offset = (sum(map(ord, team)) % 7 - 3) / 10
    return Climate(3.6 + offset, 0.12, 0.04)


def synthetic_answers(
    rng: random.Random, bank: QuestionBank, codes: list[str], weather: Climate
) -> dict[str, int | str]:
    """Answers for the asked items, chosen by each item's family tag and scale (not its code)."""
    answers: dict[str, int | str] = {}
    for code in codes:
        if rng.random() < 0.03:
            continue  # people skip the odd question
        item = bank.item(code)
        kind = bank.scales[item.response].kind
        if item.family is AlertFamily.CASELOAD and kind is ResponseKind.INTEGER:
            answers[code] = max(0, min(150, round(rng.gauss(weather.cases, 4))))
        elif item.family is AlertFamily.CASELOAD:
            answers[code] = _raw(item.reverse, round(rng.gauss(weather.manageable, 0.7)))
        elif item.family is AlertFamily.BULLYING:
            roll = rng.random()
            answers[code] = "yes" if roll < weather.bullying_chance else "prefer_not_to_say" if roll > 0.97 else "no"
        elif item.family is AlertFamily.INTENT_TO_LEAVE:
            # A score of 1–2 (after reverse-scoring) is intending to leave; the bank asks about the
            # job and the profession, so each is half as likely and either one counts.
            leaving = rng.random() < weather.leave_chance / 2
            score = rng.choice((1, 2)) if leaving else rng.choice((3, 3, 4, 4, 5))
            answers[code] = _raw(item.reverse, score)
        else:
            answers[code] = _raw(item.reverse, round(rng.gauss(weather.wellbeing, 0.8)))
    return answers


def _raw(reverse: bool, score: int) -> int:
    """The answer that scores ``score`` (1–5, higher better) on an item that may be reverse-scored."""
    score = max(1, min(5, score))
    return 6 - score if reverse else score


@dataclass(frozen=True)
class DemoLoaded:
    units: int
    people: int
    weeks: list[str]
    responses: int
    # One link of this week's round left unanswered, for a person to open in a browser.
    open_link: str


def demo_roster(units: list[dict[str, Any]]) -> list[dict[str, str]]:
    return [
        {"email": f"{unit['unit_id']}.{n}@northshire.example", "unit_id": unit["unit_id"]}
        for unit in units
        for n in range(1, unit["headcount"] + 1)
    ]


async def load_demo(
    intake_url: str, admin_token: str, *, weeks: int = 6, seed: int = 7, today: date | None = None
) -> DemoLoaded:
    """The whole staff path: import the org and roster (as an admin), open a round for each of the
    last ``weeks`` ISO weeks, mint its links (CSV, as for a mail merge) and answer through the form."""
    bank = load_bank()
    rng = random.Random(seed)
    units = demo_units(seed)
    people = demo_roster(units)
    team_of = {p["email"]: p["unit_id"] for p in people}
    last = today or date.today()
    iso_weeks = [iso_week_of(last - timedelta(weeks=weeks - 1 - i)) for i in range(weeks)]
    admin = {"Authorization": f"Bearer {admin_token}"}
    async with httpx.AsyncClient(base_url=intake_url, timeout=60.0) as client:
        (await client.put("/v1/admin/org-units", json={"units": units}, headers=admin)).raise_for_status()
        (await client.put("/v1/admin/roster", json={"roster": people}, headers=admin)).raise_for_status()
        submissions: list[tuple[str, dict[str, str]]] = []
        open_link = ""
        for index, week in enumerate(iso_weeks):
            opened = await client.post("/v1/admin/rounds", json={"iso_week": week}, headers=admin)
            opened.raise_for_status()
            pulse = opened.json()
            codes = [item["code"] for item in pulse["items"]]
            issued = await client.post(
                f"/v1/admin/rounds/{pulse['pulse_id']}/links", json={"delivery": "csv"}, headers=admin
            )
            if issued.status_code == 409:
                continue  # this round was answered by an earlier demo run against the same stack
            issued.raise_for_status()
            links = sorted(csv.DictReader(io.StringIO(issued.text)), key=lambda row: row["email"])
            for row in links:
                team = team_of[row["email"]]
                if rng.random() > 0.65:
                    open_link = row["link"]  # this person has not answered (yet)
                    continue
                answers = synthetic_answers(rng, bank, codes, climate(team, index, weeks))
                form = {
                    "lang": rng.choice(("en", "en", "en", "cy")),
                    **{c: str(v) for c, v in answers.items()},
                }
                submissions.append((row["link"], form))
        await _submit_all(client, submissions)
    return DemoLoaded(len(units), len(people), iso_weeks, len(submissions), open_link)


async def _submit_all(
    client: httpx.AsyncClient, submissions: list[tuple[str, dict[str, str]]], workers: int = 16
) -> None:
    queue: asyncio.Queue[tuple[str, dict[str, str]]] = asyncio.Queue()
    for submission in submissions:
        queue.put_nowait(submission)

    async def worker() -> None:
        while not queue.empty():
            link, form = queue.get_nowait()
            response = await client.post(link, data=form)
            if response.status_code != 200:
                raise RuntimeError(f"the form answered {response.status_code}")

    await asyncio.gather(*(worker() for _ in range(workers)))


async def load_contacts(alerts_url: str, admin_token: str, *, email: str, webhook_url: str, secret: str) -> None:
    """The demo council's HR contact: the whole organisation, by email and by signed webhook."""
    contact = {
        "contact_id": "hr-wellbeing",
        "name": "HR wellbeing team",
        "email": email,
        "webhook": {"url": webhook_url, "secrets": [secret]},
        "units": [ROOT],
    }
    async with httpx.AsyncClient(base_url=alerts_url, timeout=30.0) as client:
        answer = await client.put(
            "/v1/admin/contacts", json={"contacts": [contact]}, headers={"Authorization": f"Bearer {admin_token}"}
        )
        answer.raise_for_status()
