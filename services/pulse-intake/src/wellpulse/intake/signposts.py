"""Support signposts shown after a response: who staff can turn to, configured by the organisation."""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from wellpulse.common.events import Text

# Every page is offered in both languages, so a signpost missing either would leave a gap on one.
SIGNPOST_LANGUAGES = ("en", "cy")

NonBlank = Annotated[Text, Field(min_length=1, max_length=2000, pattern=r"\S")]
SignpostKind = Literal["employee_assistance", "union", "speak_up", "other"]


class Signpost(BaseModel):
    """One place to get help: its name and description in English and Welsh, and how to reach it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: SignpostKind
    name: dict[str, NonBlank]
    description: dict[str, NonBlank]
    # Free text ("116 123", "ext. 4455", an email address): organisations vary too much to force
    # one shape, and the page turns phone numbers and emails into links itself. It is shown as
    # written in both languages, so the placeholders below carry both.
    contact: NonBlank
    url: Annotated[str, Field(pattern=r"^https?://\S+$")] | None = None

    @model_validator(mode="after")
    def _both_languages(self) -> Self:
        problems = [
            f"{field} is missing its {language!r} text"
            for field, texts in (("name", self.name), ("description", self.description))
            for language in SIGNPOST_LANGUAGES
            if language not in texts
        ]
        if problems:
            raise ValueError("; ".join(problems))
        return self


class Signposts(BaseModel):
    """The organisation's list of signposts, in the order staff should see them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    items: list[Signpost] = Field(min_length=1)


# Placeholders an organisation replaces with its own details, plus one real national line so the
# page is never without a number that works.
# REVIEW BEFORE PRODUCTION: the Welsh (cy) text was drafted without a first-language Welsh speaker
# and must be reviewed by one.
DEFAULT_SIGNPOSTS = Signposts(
    items=[
        Signpost(
            kind="employee_assistance",
            name={
                "en": "Employee assistance programme",
                "cy": "Rhaglen cymorth i weithwyr",
            },
            description={
                "en": "Free, confidential counselling and advice on work, money, family or health.",
                "cy": "Cwnsela a chyngor am ddim a chyfrinachol am waith, arian, teulu neu iechyd.",
            },
            contact="Ask HR for the number / Gofynnwch i AD am y rhif",
        ),
        Signpost(
            kind="speak_up",
            name={
                "en": "Speak-up guardian",
                "cy": "Gwarcheidwad codi llais",
            },
            description={
                "en": "Raise a concern about bullying, harassment, discrimination or safety in "
                "confidence, outside your line management.",
                "cy": "Codi pryder am fwlio, aflonyddu, gwahaniaethu neu ddiogelwch yn gyfrinachol, "
                "y tu allan i'ch rheolwyr llinell.",
            },
            contact="Ask HR who your guardian is / Gofynnwch i AD pwy yw eich gwarcheidwad",
        ),
        Signpost(
            kind="union",
            name={
                "en": "Your trade union",
                "cy": "Eich undeb llafur",
            },
            description={
                "en": "A union representative can advise you in confidence and come with you to meetings.",
                "cy": "Gall cynrychiolydd undeb roi cyngor i chi yn gyfrinachol a dod gyda chi i gyfarfodydd.",
            },
            contact="Ask your local representative / Gofynnwch i'ch cynrychiolydd lleol",
        ),
        Signpost(
            kind="other",
            name={
                "en": "Samaritans",
                "cy": "Samariaid",
            },
            description={
                "en": "Free, 24 hours a day, 7 days a week, for anyone who is struggling. "
                "Welsh-language line: 0808 164 0123 (free).",
                "cy": "Am ddim, 24 awr y dydd, 7 diwrnod yr wythnos, i unrhyw un sy'n cael trafferth. "
                "Llinell Gymraeg: 0808 164 0123 (am ddim).",
            },
            contact="116 123",
            url="https://www.samaritans.org/",
        ),
    ]
)
