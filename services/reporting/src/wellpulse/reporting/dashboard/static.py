"""The dashboard's own scripts, styles and the vendored Apache ECharts, served by reporting itself:
no page loads anything from another site. Only the files named here are served (no path from a
request ever reaches the file system); each is read once at start-up, with its sha256, which the
pages put in the URL so a browser may keep a file until it changes.
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from importlib import resources
from typing import Annotated

from fastapi import APIRouter, Header, Query
from fastapi.responses import Response

from wellpulse.common.auth import not_found

PREFIX = "/dashboard/static"
FILES = {
    "dashboard.css": ("dashboard.css", "text/css; charset=utf-8"),
    "dashboard.js": ("dashboard.js", "text/javascript; charset=utf-8"),
    "echarts.min.js": ("echarts/echarts.min.js", "text/javascript; charset=utf-8"),
    # Apache-2.0 asks that the licence and notice travel with the code.
    "echarts/LICENSE": ("echarts/LICENSE", "text/plain; charset=utf-8"),
    "echarts/NOTICE": ("echarts/NOTICE", "text/plain; charset=utf-8"),
    "echarts/LICENSE-d3": ("echarts/LICENSE-d3", "text/plain; charset=utf-8"),
}
_PACKAGE = "wellpulse.reporting.dashboard"


@dataclass(frozen=True)
class StaticFile:
    content: bytes
    gzipped: bytes
    media_type: str
    digest: str  # sha256, hex


class StaticFiles:
    def __init__(self) -> None:
        self._files: dict[str, StaticFile] = {}
        root = resources.files(_PACKAGE).joinpath("static")
        for name, (path, media_type) in FILES.items():
            content = root.joinpath(path).read_bytes()
            self._files[name] = StaticFile(
                content, gzip.compress(content, 9, mtime=0), media_type, hashlib.sha256(content).hexdigest()
            )

    def url(self, name: str) -> str:
        return f"{PREFIX}/{name}?v={self._files[name].digest[:16]}"

    def router(self) -> APIRouter:
        router = APIRouter(include_in_schema=False)

        @router.get(PREFIX + "/{name:path}")
        async def static_file(
            name: str,
            v: Annotated[str | None, Query(max_length=64)] = None,
            accept_encoding: Annotated[str, Header()] = "",
        ) -> Response:
            found = self._files.get(name)
            if found is None:
                raise not_found("file", name)
            # The URL names this version: a browser may keep it. Any other: ask again each time.
            cache = "public, max-age=31536000, immutable" if v == found.digest[:16] else "no-cache"
            headers = {"Cache-Control": cache, "X-Content-Type-Options": "nosniff", "Vary": "Accept-Encoding"}
            if "gzip" in accept_encoding.lower():
                return Response(
                    found.gzipped, media_type=found.media_type, headers=headers | {"Content-Encoding": "gzip"}
                )
            return Response(found.content, media_type=found.media_type, headers=headers)

        return router
