"""``galcat explore --serve``: the static site on localhost, plus ``api/similar`` (standard library).

``GET api/info`` says what the server can do; ``GET api/similar?q=ID_OR_POSITION&k=10`` and
``POST api/similar?k=10`` (body: a PNG/JPEG image) answer JSON neighbours. A bad request gets a
4xx with ``{"error": one line}``; an unexpected failure a 500 naming only the exception type.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from functools import partial
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from galcat.errors import GalcatError

#: largest image upload accepted (bytes)
MAX_UPLOAD = 10 * 1024 * 1024
LOCALHOST = ("127.0.0.1", "localhost", "::1")


@dataclass
class SearchConfig:
    """What ``--serve`` serves: a written site and the catalogue/store/run behind its search."""

    site: str
    catalogue: str
    store: str
    model: str | None = None
    host: str = "127.0.0.1"
    port: int = 8765
    resolver: str | None = None
    radius_arcsec: float = 10.0


class ExploreHandler(SimpleHTTPRequestHandler):
    """Static files of the site; JSON answers under ``api/``."""

    search = None  # SimilaritySearch, set per server by make_server

    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        pass

    def end_headers(self):
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def _json(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _api(self, method: str) -> None:
        parts = urlsplit(self.path)
        query = parse_qs(parts.query, keep_blank_values=True)
        try:
            if parts.path == "/api/info" and method == "GET":
                self._json(200, {"search": True, "upload": self.search.can_embed_images,
                                 "n": len(self.search.objids), "max_upload": MAX_UPLOAD})  # fmt: skip
                return
            if parts.path != "/api/similar":
                self._json(404, {"error": f"no such API path {parts.path!r}; use api/info or api/similar"})
                return
            k = query.get("k", ["10"])[-1]
            if method == "GET":
                text = query.get("q", [""])[-1].strip()
                if not text:
                    raise GalcatError("q is empty: give a galaxy id, a name or 'RA DEC'")
                answer = self.search.by_text(text, k)
            else:
                answer = self.search.by_image(self._body(), k)
            self._json(200, answer.as_dict())
        except _TooLarge as exc:
            self._json(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"error": str(exc)})
        except GalcatError as exc:
            self._json(400, {"error": " ".join(str(exc).splitlines())})
        except Exception as exc:  # noqa: BLE001 - the page gets a line, never a traceback
            self._json(500, {"error": f"internal error ({type(exc).__name__})"})

    def _body(self) -> bytes:
        length = self.headers.get("Content-Length")
        if length is None:
            raise GalcatError("the upload has no Content-Length")
        try:
            size = int(length)
        except ValueError:
            raise GalcatError(f"Content-Length {length!r} is not a number") from None
        if size > MAX_UPLOAD:
            raise _TooLarge(f"the upload is {size} bytes; at most {MAX_UPLOAD}")
        return self.rfile.read(size)

    def do_GET(self):
        if urlsplit(self.path).path.startswith("/api/"):
            self._api("GET")
        else:
            super().do_GET()

    def do_HEAD(self):
        if urlsplit(self.path).path.startswith("/api/"):
            self._json(405, {"error": "use GET or POST for api/"})
        else:
            super().do_HEAD()

    def do_POST(self):
        if urlsplit(self.path).path == "/api/similar":
            self._api("POST")
        else:
            self._json(405, {"error": "only api/similar accepts POST"})


class _TooLarge(Exception):
    pass


def make_server(cfg: SearchConfig) -> ThreadingHTTPServer:
    """A bound (not yet serving) server; ``port=0`` picks a free port (``server.server_address``)."""
    from galcat.explore.search import SimilaritySearch

    site = Path(cfg.site)
    if not (site / "index.html").is_file():
        raise GalcatError(f"{site}: no index.html; write the site first (galcat explore --out)")
    if not 0 <= int(cfg.port) <= 65535:
        raise GalcatError(f"--port {cfg.port}: must be between 0 and 65535")
    search = SimilaritySearch(cfg.catalogue, cfg.store, cfg.model, cfg.resolver, cfg.radius_arcsec)
    handler = type("Handler", (ExploreHandler,), {"search": search})
    try:
        return ThreadingHTTPServer((cfg.host, int(cfg.port)), partial(handler, directory=str(site)))
    except OSError as exc:
        raise GalcatError(f"cannot listen on {cfg.host}:{cfg.port} ({exc.strerror or exc})") from None


def serve_site(cfg: SearchConfig, announce=print) -> None:
    """Serve until interrupted; warns when the address is reachable from other machines."""
    server = make_server(cfg)
    host, port = server.server_address[:2]
    if cfg.host not in LOCALHOST:
        from galcat.progress import console

        console.print(f"galcat: warning: serving on {cfg.host}, reachable from other machines")
    announce(f"http://{'localhost' if cfg.host in LOCALHOST else host}:{port}/")
    try:
        server.serve_forever()
    except KeyboardInterrupt:  # Ctrl-C is how a user stops serving: no error
        pass
    finally:
        server.server_close()


def serve_in_thread(cfg: SearchConfig) -> tuple[ThreadingHTTPServer, threading.Thread]:
    """Start serving in a daemon thread (tests, notebooks); stop with ``server.shutdown()``."""
    server = make_server(cfg)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread
