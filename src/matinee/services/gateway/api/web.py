"""The viewer web app as static files, served by the gateway's own app.

Nothing here is on the API's hot path: the edge hands every path outside ``/api/``
and the route table to the gateway's chassis app, which mounts these routes.

| path | from | cache |
|---|---|---|
| ``/`` (and ``/index.html``) | ``web/index.html`` | ``no-cache`` (always revalidated) |
| ``/assets/<path>`` | ``web/assets/`` | ``no-cache`` + ETag: files are not fingerprinted |
| ``/vendor/hls/<path>`` | ``node_modules/hls.js/dist/`` (npm) | an hour, + ETag |

Directories are found next to the source tree (``find_web_root()``): the repository
when Matinee runs from a checkout, else the working directory (an image copies
``web/`` and ``node_modules/`` beside it). Only regular files under a mounted
directory are served: ``..``, absolute paths, dot files and symlinks that lead out
all answer 404.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

__all__ = ["StaticDirectory", "build_web_routes", "find_web_root"]

_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".webp": "image/webp",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
    ".txt": "text/plain; charset=utf-8",
}
# The app's own policy: scripts and styles from here only; media, manifests and
# segments come from CDN nodes on other origins; hls.js runs its worker from a blob.
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob: http: "
    "https:; media-src 'self' blob: http: https:; connect-src 'self' http: https:; "
    "worker-src 'self' blob:; object-src 'none'; base-uri 'none'; form-action 'self'"
)
_MAX_FILE = 16 * 1024 * 1024


def find_web_root(start: Path | None = None) -> Path | None:
    """Return the directory holding ``web/index.html`` (checkout first, then cwd), or None."""
    here = (start or Path(__file__)).resolve()
    for parent in [*here.parents, Path.cwd().resolve()]:
        if (parent / "web" / "index.html").is_file():
            return parent
    return None


@dataclass(frozen=True, slots=True)
class _Cached:
    key: tuple[int, int]
    body: bytes
    etag: str


class StaticDirectory:
    """Serve the regular files under ``root`` with a fixed cache policy and ETags."""

    def __init__(self, root: Path | None, cache_control: str, *, csp_for_html: bool = True):
        self.root = root.resolve() if root is not None else None
        self.cache_control = cache_control
        self.csp_for_html = csp_for_html
        self._cache: dict[Path, _Cached] = {}

    def locate(self, relative: str) -> Path | None:
        """Return the file ``relative`` names under the root, or None if it may not be served."""
        if self.root is None or not relative or "\x00" in relative or "\\" in relative:
            return None
        parts = relative.split("/")
        if any(p in ("", ".", "..") or p.startswith(".") for p in parts):
            return None
        candidate = self.root.joinpath(*parts)
        try:
            resolved = candidate.resolve(strict=True)
        except (OSError, RuntimeError):
            return None
        if not resolved.is_relative_to(self.root) or not resolved.is_file():
            return None
        return resolved

    async def respond(self, request: Request, relative: str) -> Response:
        """Answer GET/HEAD for ``relative``: 200, 304 on a matching ETag, or 404."""
        path = self.locate(relative)
        if path is None:
            return _not_found()
        try:
            entry = await self._load(path)
        except OSError:
            return _not_found()
        headers = {"cache-control": self.cache_control, "etag": entry.etag}
        ctype = _TYPES.get(path.suffix.lower(), "application/octet-stream")
        if ctype.startswith("text/html") and self.csp_for_html:
            headers["content-security-policy"] = _CSP
        if entry.etag in _etags(request.headers.get("if-none-match", "")):
            return Response(status_code=304, headers=headers)
        body = b"" if request.method == "HEAD" else entry.body
        response = Response(body, media_type=ctype, headers=headers)
        if request.method == "HEAD":
            response.headers["content-length"] = str(len(entry.body))
        return response

    async def _load(self, path: Path) -> _Cached:
        key = _version(path)
        cached = self._cache.get(path)
        if cached is not None and cached.key == key:
            return cached
        if key[1] > _MAX_FILE:
            raise OSError("too large to serve from memory")
        body = await asyncio.to_thread(path.read_bytes)
        etag = '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'
        entry = _Cached(key, body, etag)
        self._cache[path] = entry
        return entry


def _version(path: Path) -> tuple[int, int]:
    # A stat of a local file answers from the inode cache: cheaper than a thread hop.
    stat = path.stat()
    return (stat.st_mtime_ns, stat.st_size)


def _etags(header: str) -> set[str]:
    return {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}


def _not_found() -> Response:
    return Response(
        b'{"type":"about:blank","title":"Not Found","status":404,"detail":"no such file"}',
        status_code=404,
        media_type="application/problem+json",
    )


def build_web_routes(web_dir: Path | None = None, hls_dir: Path | None = None) -> list[BaseRoute]:
    """Return the routes of the web app; directories default to those next to the checkout."""
    base = find_web_root()
    if web_dir is None and base is not None:
        web_dir = base / "web"
    if hls_dir is None and base is not None:
        hls_dir = base / "node_modules" / "hls.js" / "dist"
    site = StaticDirectory(web_dir, "no-cache")
    assets = StaticDirectory(web_dir / "assets" if web_dir else None, "no-cache")
    vendor = StaticDirectory(hls_dir, "public, max-age=3600")

    async def index(request: Request) -> Response:
        return await site.respond(request, "index.html")

    async def asset(request: Request) -> Response:
        return await assets.respond(request, request.path_params["path"])

    async def hls(request: Request) -> Response:
        return await vendor.respond(request, request.path_params["path"])

    methods = ["GET", "HEAD"]
    return [
        Route("/", index, methods=methods),
        Route("/index.html", index, methods=methods),
        Route("/assets/{path:path}", asset, methods=methods),
        Route("/vendor/hls/{path:path}", hls, methods=methods),
    ]
