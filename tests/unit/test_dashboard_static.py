"""The dashboard's static files: the vendored Apache ECharts is the pinned release, byte for byte,
with its licence; only named files are served, cached by version; no template loads anything
from another site."""

from __future__ import annotations

import gzip
import hashlib
import re
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from wellpulse.common.http import install_problem_handlers
from wellpulse.reporting.dashboard.static import FILES, StaticFiles

REPO = Path(__file__).resolve().parents[2]
DASHBOARD = REPO / "services/reporting/src/wellpulse/reporting/dashboard"
VENDORED = DASHBOARD / "static/echarts"


def test_the_vendored_echarts_is_the_pinned_release_as_sha256sums_records_it() -> None:
    sums = dict(
        reversed(line.split("  ", 1)) for line in (VENDORED / "SHA256SUMS").read_text().splitlines() if line.strip()
    )
    assert set(sums) == {"echarts.min.js", "LICENSE", "NOTICE", "LICENSE-d3", "VERSION"}
    for name, expected in sums.items():
        assert hashlib.sha256((VENDORED / name).read_bytes()).hexdigest() == expected, name
    pinned = re.search(r"^VERSION=(\S+)$", (REPO / "scripts/vendor-echarts").read_text(), re.M)
    assert pinned
    assert (VENDORED / "VERSION").read_text().strip() == pinned.group(1)
    assert "Apache License" in (VENDORED / "LICENSE").read_text()
    assert (VENDORED / "echarts.min.js").read_text()[:400].count("Apache Software Foundation") == 1


@pytest.fixture(scope="module")
def static() -> StaticFiles:
    return StaticFiles()


async def _get(static: StaticFiles, url: str, **headers: str) -> httpx.Response:
    app = FastAPI()
    app.include_router(static.router())
    install_problem_handlers(app)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://dashboard") as client:
        return await client.get(url, headers=headers)


async def test_a_file_is_served_for_a_year_under_its_versioned_url_and_gzipped_when_asked(static: StaticFiles) -> None:
    url = static.url("echarts.min.js")
    plain = await _get(static, url, **{"accept-encoding": "identity"})
    assert plain.status_code == 200
    assert plain.headers["content-type"] == "text/javascript; charset=utf-8"
    assert plain.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert plain.headers["x-content-type-options"] == "nosniff"
    assert plain.content == (VENDORED / "echarts.min.js").read_bytes()
    zipped = await _get(static, url, **{"accept-encoding": "gzip, br"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.content == plain.content  # httpx decodes it
    assert len(gzip.compress(plain.content)) < len(plain.content) / 2
    stale = await _get(static, "/dashboard/static/echarts.min.js?v=0000000000000000")
    assert stale.headers["cache-control"] == "no-cache", "another version's URL is never kept"


@pytest.mark.parametrize(
    "name", ["settings.py", "../settings.py", "..%2Fsettings.py", "echarts/SHA256SUMS", "templates/base.html", ""]
)
async def test_only_the_named_files_are_served(static: StaticFiles, name: str) -> None:
    answer = await _get(static, f"/dashboard/static/{name}")
    assert answer.status_code == 404


def test_every_named_file_is_in_the_package() -> None:
    for _, (path, media_type) in FILES.items():
        assert (DASHBOARD / "static" / path).is_file(), path
        assert media_type.endswith("charset=utf-8")


def test_no_template_or_stylesheet_reaches_for_another_site() -> None:
    for path in [*(DASHBOARD / "templates").glob("*.html"), DASHBOARD / "static/dashboard.css"]:
        text = path.read_text()
        assert not re.search(r"(src|href)=\"(https?:)?//", text), path
        assert "@import" not in text
        assert "url(http" not in text
        assert not re.search(r"<script(?![^>]*(src=|type=\"application/json\"))", text), f"inline script in {path}"
        assert " style=" not in text, f"inline style in {path} (the CSP allows none)"
