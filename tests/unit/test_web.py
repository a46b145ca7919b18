"""Unit tests for the staff pages: rendered with the default bank and read back with html.parser."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from html.parser import HTMLParser

import pytest
from pydantic import ValidationError

from wellpulse.common.bank import QuestionBank, ResponseKind, load_bank
from wellpulse.intake.signposts import DEFAULT_SIGNPOSTS, Signpost, Signposts
from wellpulse.intake.web import LANGUAGES, Pages, parse_form

TOKEN = "Ab3_dE-f9"
WEEK = "2026-W48"
# The five alert-family items plus three rotating ones: an integer, a choice and both 1-5 scales.
CODES = ("CASE-COUNT", "CASE-MANAGE", "BHD-4W", "LEAVE-JOB", "LEAVE-PROF", "DEM-01", "CON-02", "REL-01")
VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"})


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    parent: Node | None = None
    children: list[Node | str] = field(default_factory=list)

    def walk(self) -> Iterator[Node]:
        yield self
        for child in self.children:
            if isinstance(child, Node):
                yield from child.walk()

    def find_all(self, tag: str, **attrs: str) -> list[Node]:
        return [
            node
            for node in self.walk()
            if node.tag == tag and all(node.attrs.get(key.rstrip("_")) == value for key, value in attrs.items())
        ]

    def ancestors(self) -> Iterator[Node]:
        node = self.parent
        while node is not None:
            yield node
            node = node.parent

    def text(self) -> str:
        """The text a screen reader would read: decorative aria-hidden parts left out."""
        parts: list[str] = []
        for child in self.children:
            if isinstance(child, str):
                parts.append(child)
            elif child.attrs.get("aria-hidden") != "true":
                parts.append(child.text())
        return " ".join("".join(parts).split())


class TreeBuilder(HTMLParser):
    """Builds a small element tree; fails on unclosed or mismatched tags so bad markup cannot pass."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.current = self.root

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {name: value or "" for name, value in attrs}, parent=self.current)
        self.current.children.append(node)
        if tag not in VOID:
            self.current = node

    def handle_endtag(self, tag: str) -> None:
        assert self.current.tag == tag, f"</{tag}> closes <{self.current.tag}>"
        assert self.current.parent is not None
        self.current = self.current.parent

    def handle_data(self, data: str) -> None:
        self.current.children.append(data)


def parse(html: str) -> Node:
    builder = TreeBuilder()
    builder.feed(html)
    builder.close()
    assert builder.current is builder.root, f"<{builder.current.tag}> was never closed"
    return builder.root


@cache
def bank() -> QuestionBank:
    return load_bank()


@cache
def pages() -> Pages:
    return Pages(bank(), "Borsetshire Council")


def form(lang: str = "en", **kwargs: object) -> Node:
    return parse(pages().form(token=TOKEN, lang=lang, codes=CODES, iso_week=WEEK, **kwargs))  # type: ignore[arg-type]


def thank_you(lang: str = "en", *, bullying_reported: bool = False, signposts: Signposts = DEFAULT_SIGNPOSTS) -> Node:
    return parse(pages().thank_you(lang=lang, signposts=signposts, bullying_reported=bullying_reported))


def all_pages(lang: str) -> dict[str, str]:
    return {
        "form": pages().form(token=TOKEN, lang=lang, codes=CODES, iso_week=WEEK),
        "form with errors": pages().form(
            token=TOKEN, lang=lang, codes=CODES, iso_week=WEEK, errors={"CASE-COUNT": "bad", "BHD-4W": "bad"}
        ),
        "thank you": pages().thank_you(lang=lang, signposts=DEFAULT_SIGNPOSTS, bullying_reported=False),
        "thank you, bullying": pages().thank_you(lang=lang, signposts=DEFAULT_SIGNPOSTS, bullying_reported=True),
        "already answered": pages().already_answered(lang=lang),
        "closed": pages().closed(lang=lang),
        "unknown link": pages().unknown_link(lang=lang),
        "unavailable": pages().unavailable(lang=lang),
    }


def by_id(root: Node) -> dict[str, Node]:
    ids: dict[str, Node] = {}
    for node in root.walk():
        if "id" in node.attrs:
            assert node.attrs["id"] not in ids, f"duplicate id {node.attrs['id']}"
            ids[node.attrs["id"]] = node
    return ids


def inputs_for(root: Node, code: str) -> list[Node]:
    return [node for node in root.find_all("input") if node.attrs.get("name") == code]


def body_text(root: Node) -> str:
    (main,) = root.find_all("main")
    return main.text()


# --- Every page ---------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_page_declares_its_language_and_the_mobile_and_referrer_meta(lang: str) -> None:
    for name, html in all_pages(lang).items():
        root = parse(html)
        (page,) = root.find_all("html")
        assert page.attrs["lang"] == lang, name
        assert root.find_all("meta", name="viewport")[0].attrs["content"] == "width=device-width, initial-scale=1"
        assert root.find_all("meta", name="referrer")[0].attrs["content"] == "no-referrer", name
        assert len(root.find_all("h1")) == 1, name


@pytest.mark.parametrize("lang", LANGUAGES)
def test_no_page_loads_or_links_anything_outside_except_the_signposts_own_sites(lang: str) -> None:
    allowed = {signpost.url for signpost in DEFAULT_SIGNPOSTS.items if signpost.url}
    for name, html in all_pages(lang).items():
        root = parse(html)
        assert not root.find_all("link"), name
        for node in root.walk():
            assert not (node.tag == "script" and "src" in node.attrs), name
            for attribute in ("src", "href", "action", "srcset", "formaction"):
                value = node.attrs.get(attribute)
                if value is None:
                    continue
                local = value.startswith(("#", "?", "tel:", "mailto:")) or (
                    value.startswith("/") and not value.startswith("//")
                )
                assert local or value in allowed, f"{name}: {attribute}={value}"
        assert "@import" not in html, name
        assert "url(" not in html, name


def test_the_signposts_own_url_is_the_only_outside_link() -> None:
    hrefs = [node.attrs["href"] for node in thank_you().find_all("a") if "href" in node.attrs]
    assert "https://www.samaritans.org/" in hrefs
    assert "tel:116123" in hrefs


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_language_switch_links_to_the_other_language(lang: str) -> None:
    other = "cy" if lang == "en" else "en"
    for name in ("form", "already answered", "closed", "unknown link", "unavailable"):
        root = parse(all_pages(lang)[name])
        switches = [node for node in root.find_all("a") if node.attrs.get("hreflang")]
        assert len(switches) == 1, name
        assert switches[0].attrs["href"] == f"?lang={other}"
        assert switches[0].attrs["hreflang"] == other
        assert switches[0].attrs["lang"] == other
        assert switches[0].text() == ("Cymraeg" if other == "cy" else "English")


def test_an_unknown_language_falls_back_to_english() -> None:
    root = parse(pages().closed(lang="fr"))
    assert root.find_all("html")[0].attrs["lang"] == "en"
    assert body_text(root).startswith("This pulse has closed")


def test_text_from_configuration_is_escaped() -> None:
    html = Pages(bank(), "<script>alert(1)</script>").closed(lang="en")
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


# --- The form -----------------------------------------------------------------------------------


def test_the_form_posts_to_the_token_with_the_language_hidden() -> None:
    (post,) = form("cy").find_all("form")
    assert post.attrs["method"] == "post"
    assert post.attrs["action"] == f"/p/{TOKEN}"
    hidden = [node for node in post.find_all("input") if node.attrs.get("type") == "hidden"]
    assert [(node.attrs["name"], node.attrs["value"]) for node in hidden] == [("lang", "cy")]
    buttons = post.find_all("button")
    assert [button.attrs.get("type") for button in buttons] == ["submit"]


def test_a_token_cannot_break_out_of_the_action_path() -> None:
    html = pages().form(token='x/../"y', lang="en", codes=CODES, iso_week=WEEK)
    (post,) = parse(html).find_all("form")
    assert post.attrs["action"] == "/p/x%2F..%2F%22y"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_input_has_a_label_and_sits_in_a_fieldset_with_the_item_as_legend(lang: str) -> None:
    root = form(lang)
    labels = {node.attrs["for"]: node for node in root.find_all("label")}
    ids = by_id(root)
    for code in CODES:
        item = bank().item(code)
        scale = bank().scales[item.response]
        inputs = inputs_for(root, code)
        if scale.kind is ResponseKind.INTEGER:
            assert [node.attrs["type"] for node in inputs] == ["number"]
            (number,) = inputs
            assert number.attrs["inputmode"] == "numeric"
            assert (number.attrs["min"], number.attrs["max"]) == (str(scale.min), str(scale.max))
        else:
            assert {node.attrs["type"] for node in inputs} == {"radio"}
            assert [labels[node.attrs["id"]].text() for node in inputs] == list(scale.labels[lang])
        for node in inputs:
            assert ids[node.attrs["id"]] is node
            assert labels[node.attrs["id"]].text(), f"{code}: empty label"
        fieldsets = {id(node) for node in inputs for node in node.ancestors() if node.tag == "fieldset"}
        assert len(fieldsets) == 1, f"{code}: inputs not in exactly one fieldset"
        (fieldset,) = [ancestor for ancestor in inputs[0].ancestors() if ancestor.tag == "fieldset"]
        first = next(child for child in fieldset.children if isinstance(child, Node))
        assert first.tag == "legend"
        assert first.text() == " ".join(item.text[lang].split())


def test_the_welsh_form_uses_the_banks_welsh_wording_and_scale_labels() -> None:
    root = form("cy")
    legends = [node.text() for node in root.find_all("legend")]
    assert "Mae fy llwyth achosion yn hylaw." in legends
    assert "My caseload is manageable." not in legends
    labels = [node.text() for node in root.find_all("label")]
    assert "Anghytuno'n gryf" in labels
    assert "Strongly disagree" not in labels
    assert "Mae pob cwestiwn yn ddewisol" in body_text(root)


def test_the_form_says_once_that_every_question_is_optional_and_what_is_collected() -> None:
    text = body_text(form("en"))
    assert text.count("Every question is optional") == 1
    for collected in ("your answers", "your team", "the week", "the day you sent it"):
        assert collected in text
    for never in ("your name or email address", "your IP address", "your device or browser", "the time of day"):
        assert never in text
    assert "This link works once" in text
    assert "groups of at least 5 people" in text
    assert "Week beginning 23 November 2026" in text


def test_the_promised_group_size_is_the_configured_one() -> None:
    html = Pages(bank(), "Org", min_group_size=10).form(token=TOKEN, lang="en", codes=CODES, iso_week=WEEK)
    assert "groups of at least 10 people" in body_text(parse(html))
    with pytest.raises(ValueError, match="min_group_size"):
        Pages(bank(), "Org", min_group_size=2)


def test_the_welsh_form_names_the_week_in_welsh() -> None:
    assert "Wythnos yn dechrau 23 Tachwedd 2026" in body_text(form("cy"))


def test_a_malformed_week_is_refused() -> None:
    with pytest.raises(ValueError, match="iso_week"):
        pages().form(token=TOKEN, lang="en", codes=CODES, iso_week="2026-48")


def test_a_fresh_form_has_no_error_summary_and_nothing_checked() -> None:
    root = form("en")
    assert not [node for node in root.walk() if node.attrs.get("role") == "alert"]
    assert not [node for node in root.find_all("input") if "checked" in node.attrs]
    assert not [node for node in root.walk() if "aria-invalid" in node.attrs]
    assert not root.find_all("title")[0].text().startswith("Error")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_error_summary_links_to_each_field_in_error(lang: str) -> None:
    errors = {"CASE-COUNT": "must be a whole number from 0 to 150", "BHD-4W": "must be one of: yes, no"}
    root = form(lang, errors=errors)
    ids = by_id(root)
    (summary,) = [node for node in root.walk() if node.attrs.get("role") == "alert"]
    assert summary.find_all("h2"), "the summary has a heading"
    hrefs = [link.attrs["href"] for link in summary.find_all("a")]
    assert hrefs == ["#item-CASE-COUNT", "#item-BHD-4W"]
    for href in hrefs:
        assert ids[href[1:]].tag == "input"
    assert root.find_all("title")[0].text().startswith("Error" if lang == "en" else "Gwall")
    # The number input itself, and the radio group's fieldset, point at the message beside them.
    number = ids["item-CASE-COUNT"]
    assert number.attrs["aria-invalid"] == "true"
    message = ids[number.attrs["aria-describedby"]]
    assert "0" in message.text()
    assert "150" in message.text()
    (group,) = [node for node in ids["item-BHD-4W"].ancestors() if node.tag == "fieldset"]
    assert ids[group.attrs["aria-describedby"]].tag == "p"
    # The bank's English, code-naming message is replaced by the page's own words.
    assert "prefer_not_to_say" not in body_text(root)
    assert "yes, no" not in body_text(root)


def test_an_error_for_a_code_not_on_the_form_does_not_link_nowhere() -> None:
    root = form("en", errors={"NOT-ASKED": "was not asked in this round"})
    assert not [node for node in root.walk() if node.attrs.get("role") == "alert"]


def test_answers_given_are_kept_when_the_form_comes_back() -> None:
    answers = {"CASE-COUNT": "200", "CASE-MANAGE": "4", "BHD-4W": "Yes", "DEM-01": None}
    root = form("en", answers=answers, errors={"CASE-COUNT": "must be a whole number from 0 to 150"})
    checked = {(node.attrs["name"], node.attrs["value"]) for node in root.find_all("input") if "checked" in node.attrs}
    assert checked == {("CASE-MANAGE", "4"), ("BHD-4W", "yes")}
    assert by_id(root)["item-CASE-COUNT"].attrs["value"] == "200"


# --- The thank-you page -------------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGUAGES)
def test_bullying_support_is_highlighted_only_when_reported(lang: str) -> None:
    quiet = thank_you(lang, bullying_reported=False)
    assert "bullying-support" not in by_id(quiet)
    root = thank_you(lang, bullying_reported=True)
    box = by_id(root)["bullying-support"]
    assert "important" in box.attrs["class"].split()
    # Said in words, not only by colour.
    assert box.find_all("h2")[0].text().startswith("Important" if lang == "en" else "Pwysig")
    names = [node.text() for node in box.find_all("h3")]
    expected = [s.name[lang] for s in DEFAULT_SIGNPOSTS.items if s.kind in ("speak_up", "union")]
    assert names == expected
    # It comes first, straight after the heading.
    (main,) = root.find_all("main")
    elements = [child for child in main.children if isinstance(child, Node)]
    assert [node.tag for node in elements[:2]] == ["h1", "section"]
    assert elements[1] is box


def test_bullying_support_without_speak_up_or_union_points_at_the_list() -> None:
    only_eap = Signposts(items=[DEFAULT_SIGNPOSTS.items[0]])
    box = by_id(thank_you("en", bullying_reported=True, signposts=only_eap))["bullying-support"]
    assert not box.find_all("li")
    assert "Support available" in box.text()


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_thank_you_page_lists_every_signpost(lang: str) -> None:
    root = thank_you(lang)
    (support,) = [node for node in root.find_all("section") if node.attrs.get("aria-labelledby") == "support-title"]
    assert [node.text() for node in support.find_all("h3")] == [s.name[lang] for s in DEFAULT_SIGNPOSTS.items]
    assert all(s.contact in support.text() for s in DEFAULT_SIGNPOSTS.items)


def test_the_small_win_box_is_hidden_without_javascript_and_never_in_a_form() -> None:
    html = pages().thank_you(lang="en", signposts=DEFAULT_SIGNPOSTS, bullying_reported=False)
    root = parse(html)
    box = by_id(root)["small-win"]
    assert "hidden" in box.attrs
    assert not root.find_all("form")
    assert not [a for a in box.ancestors() if a.tag == "form"]
    assert all(button.attrs["type"] == "button" for button in box.find_all("button"))
    assert "This stays on this device and is never sent." in box.text()
    (script,) = root.find_all("script")
    assert "localStorage" in script.text()
    assert "wellpulse.smallwin." in script.text()
    assert "fetch(" not in html
    assert "XMLHttpRequest" not in html
    assert "sendBeacon" not in html


# --- The simple pages ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("page", "heading"),
    [
        ("already_answered", "You have already answered this week's pulse — thank you"),
        ("closed", "This pulse has closed"),
        ("unknown_link", "We do not recognise this link"),
        ("unavailable", "We could not record your answers just now"),
    ],
)
def test_the_simple_pages_say_what_happened(page: str, heading: str) -> None:
    root = parse(getattr(pages(), page)(lang="en"))
    assert root.find_all("h1")[0].text() == heading
    assert not root.find_all("form")


def test_the_unknown_link_page_asks_to_check_the_link_and_says_nothing_of_others() -> None:
    text = body_text(parse(pages().unknown_link(lang="en")))
    assert "copied the whole link" in text
    assert "colleague" not in text
    assert "someone" not in text


def test_the_unavailable_page_says_nothing_was_saved() -> None:
    text = body_text(parse(pages().unavailable(lang="en")))
    assert "Nothing was saved" in text
    assert "try again in a minute" in text


def test_the_welsh_simple_pages_are_in_welsh() -> None:
    assert body_text(parse(pages().closed(lang="cy"))).startswith("Mae'r arolwg hwn wedi cau")


# --- parse_form ---------------------------------------------------------------------------------


def test_parse_form_maps_each_asked_code_and_ignores_everything_else() -> None:
    submitted: Mapping[str, object] = {
        "lang": "cy",
        "CASE-COUNT": " 12 ",
        "CASE-MANAGE": "",
        "BHD-4W": "   ",
        "DEM-99": "3",
        "LEAVE-JOB": "5",
    }
    assert parse_form(submitted, ["CASE-COUNT", "CASE-MANAGE", "BHD-4W", "LEAVE-JOB", "LEAVE-PROF"]) == {
        "CASE-COUNT": "12",
        "CASE-MANAGE": None,
        "BHD-4W": None,
        "LEAVE-JOB": "5",
        "LEAVE-PROF": None,
    }


def test_parse_form_treats_an_upload_as_no_answer() -> None:
    assert parse_form({"CASE-COUNT": b"12"}, ["CASE-COUNT"]) == {"CASE-COUNT": None}


def test_parse_form_output_validates_against_the_bank() -> None:
    parsed = parse_form({"CASE-COUNT": "12", "BHD-4W": "no", "lang": "en"}, CODES)
    assert bank().validate_answers(parsed, CODES) == {"CASE-COUNT": 12, "BHD-4W": "no"}


# --- Signposts ----------------------------------------------------------------------------------


def test_default_signposts_cover_each_kind_and_samaritans() -> None:
    kinds = [signpost.kind for signpost in DEFAULT_SIGNPOSTS.items]
    assert {"employee_assistance", "union", "speak_up", "other"} <= set(kinds)
    (samaritans,) = [s for s in DEFAULT_SIGNPOSTS.items if s.name["en"] == "Samaritans"]
    assert samaritans.contact == "116 123"
    assert "0808 164 0123" in samaritans.description["cy"]


def test_a_signpost_needs_english_and_welsh() -> None:
    with pytest.raises(ValidationError, match="'cy'"):
        Signpost(kind="union", name={"en": "Union"}, description={"en": "x", "cy": "y"}, contact="x")


def test_signposts_need_at_least_one() -> None:
    with pytest.raises(ValidationError):
        Signposts(items=[])
