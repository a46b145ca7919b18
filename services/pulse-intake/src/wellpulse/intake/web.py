"""The staff pages: the pulse form, the thank-you page and the simple outcome pages, as server-rendered
HTML that works with JavaScript off, in English and Welsh."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from types import MappingProxyType
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, StrictUndefined

from wellpulse.common.bank import QuestionBank, ResponseKind
from wellpulse.common.messages import load_messages
from wellpulse.intake.signposts import Signpost, Signposts

LANGUAGES = ("en", "cy")
DEFAULT_LANGUAGE = "en"
# The signposts the bullying box points at: people who can act on it, or advise, in confidence.
BULLYING_SUPPORT_KINDS = ("speak_up", "union")

_PACKAGE = "wellpulse.intake"
_MESSAGES = "templates/messages.yaml"
_ISO_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
# Phone numbers and email addresses become tel:/mailto: links: one tap on a phone is what matters.
_PHONE = re.compile(r"^\+?[0-9][0-9 ]{1,18}[0-9]$")
_EMAIL = re.compile(r"^[^@\s/:]+@[^@\s/:]+\.[^@\s/:]+$")
_WEB = re.compile(r"^https?://\S+$")
# Read-only empty defaults: a shared mutable {} default could be changed by one call for the next.
_NOTHING: Mapping[str, str | None] = MappingProxyType({})
_NO_ERRORS: Mapping[str, str] = MappingProxyType({})


def _language(lang: str) -> str:
    # An unknown ?lang= from a hand-edited link gets English rather than an error page.
    return lang if lang in LANGUAGES else DEFAULT_LANGUAGE


def parse_form(form: Mapping[str, object], codes: Sequence[str]) -> dict[str, str | None]:
    """Each asked item's submitted answer, stripped, or ``None`` when it was left blank or missing.

    Fields other than the asked codes (``lang``, anything a crafted request adds) are ignored.
    """
    parsed: dict[str, str | None] = {}
    for code in codes:
        value = form.get(code)
        # Starlette's form data can hold uploads too; anything but text counts as not answered.
        text = value.strip() if isinstance(value, str) else ""
        parsed[code] = text or None
    return parsed


@dataclass(frozen=True)
class _Option:
    id: str
    value: str
    label: str
    checked: bool


@dataclass(frozen=True)
class _Question:
    code: str
    field_id: str
    kind: str  # "radio" or "number"
    legend: str
    legend_lang: str
    options: tuple[_Option, ...]
    number_label: str
    min: int | None
    max: int | None
    value: str
    error: str | None


@dataclass(frozen=True)
class _SignpostView:
    kind: str
    name: str
    description: str
    contact: str
    contact_href: str | None
    url: str | None


def _contact_href(contact: str) -> str | None:
    text = contact.strip()
    if _PHONE.match(text):
        return "tel:" + text.replace(" ", "")
    if _EMAIL.match(text):
        return "mailto:" + text
    if _WEB.match(text):
        return text
    return None


class Pages:
    """Renders every staff page; build once at start-up and share (templates are cached)."""

    def __init__(self, bank: QuestionBank, organisation: str, *, min_group_size: int = 5) -> None:
        # The form promises the minimum reporting group, so it must be the one reporting enforces.
        if not 3 <= min_group_size <= 20:
            raise ValueError(f"min_group_size must be from 3 to 20, not {min_group_size}")
        self._bank = bank
        self._organisation = organisation
        self._min_group_size = min_group_size
        self._messages = load_messages(_PACKAGE, _MESSAGES, LANGUAGES)
        self._env = Environment(
            loader=PackageLoader(_PACKAGE, "templates"),
            autoescape=True,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        for name in ("base.html", "form.html", "thank_you.html", "message.html"):
            self._env.get_template(name)

    def _t(self, lang: str, key: str, **values: object) -> str:
        text = self._messages[key][lang]
        return text.format(**values) if values else text

    def _render(self, template: str, lang: str, **context: Any) -> str:
        other = "cy" if lang == "en" else "en"

        def t(key: str, **values: object) -> str:
            return self._t(lang, key, **values)

        defaults: dict[str, Any] = {
            "lang": lang,
            "t": t,
            "organisation": self._organisation,
            "other_lang": other,
            "show_language_switch": True,
            "has_errors": False,
        }
        return self._env.get_template(template).render({**defaults, **context})

    def _week_label(self, lang: str, iso_week: str) -> str:
        match = _ISO_WEEK.match(iso_week)
        if match is None:
            raise ValueError(f"iso_week must look like 2026-W48, not {iso_week!r}")
        monday = date.fromisocalendar(int(match[1]), int(match[2]), 1)
        when = f"{monday.day} {self._t(lang, f'month_{monday.month}')} {monday.year}"
        return self._t(lang, "form_week", date=when)

    def _question(
        self, code: str, lang: str, answers: Mapping[str, str | None], errors: Mapping[str, str]
    ) -> _Question:
        item = self._bank.item(code)
        scale = self._bank.scales[item.response]
        field_id = f"item-{code}"
        # An organisation's own bank may lack Welsh; show its first language, marked as such.
        legend_lang = lang if lang in item.text else self._bank.languages[0]
        given = (answers.get(code) or "").strip()
        if scale.kind is ResponseKind.INTEGER:
            low, high = scale.min, scale.max
            error = self._t(lang, "error_integer", min=low, max=high) if code in errors else None
            return _Question(
                code=code,
                field_id=field_id,
                kind="number",
                legend=item.text[legend_lang],
                legend_lang=legend_lang,
                options=(),
                number_label=self._t(lang, "integer_label", min=low, max=high),
                min=low,
                max=high,
                value=given,
                error=error,
            )
        labels = scale.labels.get(lang) or scale.labels[self._bank.languages[0]]
        if scale.kind is ResponseKind.CHOICE:
            values = list(scale.options)
            given = given.lower()
        elif scale.min is not None and scale.max is not None:
            values = [str(number) for number in range(scale.min, scale.max + 1)]
        else:  # pragma: no cover - the bank requires bounds on agreement and frequency scales
            raise ValueError(f"scale {item.response} has no bounds")
        # The first radio carries the field's own id so the error summary's #item-CODE lands on it.
        options = tuple(
            _Option(
                id=field_id if index == 0 else f"{field_id}-{index + 1}",
                value=value,
                label=label,
                checked=value == given,
            )
            for index, (value, label) in enumerate(zip(values, labels, strict=True))
        )
        return _Question(
            code=code,
            field_id=field_id,
            kind="radio",
            legend=item.text[legend_lang],
            legend_lang=legend_lang,
            options=options,
            number_label="",
            min=None,
            max=None,
            value=given,
            error=self._t(lang, "error_choice") if code in errors else None,
        )

    def form(
        self,
        *,
        token: str,
        lang: str,
        codes: Sequence[str],
        iso_week: str,
        answers: Mapping[str, str | None] = _NOTHING,
        errors: Mapping[str, str] = _NO_ERRORS,
    ) -> str:
        """The pulse form, posting to ``/p/{token}``; re-rendered with ``answers`` and ``errors``.

        ``errors`` maps item code to the bank's message (``InvalidAnswers.errors`` as it is): the page
        shows a plain message in the page's language built from the item's scale instead, since the
        bank's messages are English and name option codes. Codes not on the form are not shown.
        """
        lang = _language(lang)
        questions = [self._question(code, lang, answers, errors) for code in codes]
        return self._render(
            "form.html",
            lang,
            action=f"/p/{quote(token, safe='')}",
            week_label=self._week_label(lang, iso_week),
            questions=questions,
            error_list=[question for question in questions if question.error],
            has_errors=any(question.error for question in questions),
            min_group_size=self._min_group_size,
        )

    def thank_you(self, *, lang: str, signposts: Signposts, bullying_reported: bool) -> str:
        """Thanks, the organisation's signposts, and bullying support first when it was reported."""
        lang = _language(lang)
        views = [self._signpost(signpost, lang) for signpost in signposts.items]
        return self._render(
            "thank_you.html",
            lang,
            # After a POST the switch would reload the form's URL, which now says "already answered".
            show_language_switch=False,
            signposts=views,
            bullying_reported=bullying_reported,
            bullying_signposts=[view for view in views if view.kind in BULLYING_SUPPORT_KINDS],
        )

    @staticmethod
    def _signpost(signpost: Signpost, lang: str) -> _SignpostView:
        return _SignpostView(
            kind=signpost.kind,
            name=signpost.name[lang],
            description=signpost.description[lang],
            contact=signpost.contact,
            contact_href=_contact_href(signpost.contact),
            url=signpost.url,
        )

    def _message(self, lang: str, title: str, *paragraphs: str) -> str:
        lang = _language(lang)
        return self._render(
            "message.html",
            lang,
            title=self._t(lang, title),
            paragraphs=[self._t(lang, key) for key in paragraphs],
        )

    def already_answered(self, *, lang: str) -> str:
        """A used link: a friendly note, not an error page."""
        return self._message(lang, "already_title", "already_body")

    def closed(self, *, lang: str) -> str:
        """An expired link: the pulse it belongs to has closed."""
        return self._message(lang, "closed_title", "closed_body")

    def unknown_link(self, *, lang: str) -> str:
        """A link we do not know; says nothing about any other link or person."""
        return self._message(lang, "unknown_title", "unknown_body", "unknown_next")

    def unavailable(self, *, lang: str) -> str:
        """For a 503: nothing was saved and the link still works."""
        return self._message(lang, "unavailable_title", "unavailable_body", "unavailable_retry")
