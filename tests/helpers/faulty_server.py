"""A local HTTP server that plays SDSS SkyServer ImgCutout / CDS hips2fits / Legacy Surveys cutouts
with real image bytes and injected faults (no test may touch the internet).

Positions are keyed by ``ra``/``dec`` rounded to 6 decimals, as the sources format them. A fault
plan maps a position to the faults its successive requests get (then it is served correctly):

* ``slow``      sleep ``slow_seconds`` before answering (the client should time out)
* ``500``/``502``/``503``  server error (``503`` and ``429`` send ``Retry-After``)
* ``429``       rate limited, with ``Retry-After: <retry_after>``
* ``truncated`` HTTP 200, half of the JPEG with a matching Content-Length
* ``short``     HTTP 200, full Content-Length but half the bytes, then the connection closes
* ``html``      HTTP 200 with an HTML error page; ``json``: HTTP 200 with a JSON error
* ``trickle``   HTTP 200, the JPEG sent in 8 pieces ``slow_seconds / 4`` apart (slow but alive)
* ``reset``     close the connection without any answer
* ``404``       not found (a permanent error: the client must not retry)

``blank`` positions always answer a uniform grey JPEG, as SkyServer does outside the footprint.
"""

from __future__ import annotations

import io
import json
import random
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from PIL import Image

FAULT_KINDS = ("slow", "500", "503", "429", "truncated", "short", "html", "json", "reset", "trickle")
SKYSERVER_PATH = "/SkyServerWS/ImgCutout/getjpeg"
HIPS2FITS_PATH = "/hips-image-services/hips2fits"
LEGACY_PATH = "/viewer/cutout.jpg"


def position_key(ra, dec) -> tuple[str, str]:
    return f"{float(ra):.6f}", f"{float(dec):.6f}"


def grey_jpeg(size: int = 424, value: int = 128) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (size, size), (value, value, value)).save(buf, "JPEG")
    return buf.getvalue()


def random_fault_plan(keys, fraction: float = 0.2, seed: int = 0, kinds=FAULT_KINDS, max_faults: int = 2):
    """About ``fraction`` of the positions get 1..``max_faults`` faults before a good answer."""
    rng = random.Random(seed)
    plan = {}
    for key in keys:
        if rng.random() < fraction:
            plan[key] = [rng.choice(kinds) for _ in range(rng.randint(1, max_faults))]
    return plan


@dataclass
class Logged:
    path: str
    key: tuple[str, str] | None
    fault: str  # '' for a good answer
    query: dict = field(default_factory=dict)


class FaultyImageServer:
    """``with FaultyImageServer(images, faults=...) as server: server.url``."""

    def __init__(
        self,
        images: dict[tuple[str, str], bytes],
        faults: dict[tuple[str, str], list[str]] | None = None,
        blank: set | None = None,
        missing: set | None = None,
        slow_seconds: float = 1.0,
        retry_after: str = "1",
    ):
        self.images = dict(images)
        self.faults = {k: list(v) for k, v in (faults or {}).items()}
        self.blank = set(blank or ())
        self.missing = set(missing or ())
        self.slow_seconds = slow_seconds
        self.retry_after = retry_after
        self.blank_bytes = grey_jpeg()
        self.log: list[Logged] = []
        self._lock = threading.Lock()
        self._httpd: _Server | None = None

    # -- bookkeeping -----------------------------------------------------------------------
    @property
    def url(self) -> str:
        assert self._httpd is not None
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    @property
    def hips2fits_url(self) -> str:
        return self.url + HIPS2FITS_PATH

    def requests_for(self, key) -> list[Logged]:
        with self._lock:
            return [r for r in self.log if r.key == key]

    def served_bytes(self, key) -> bytes:
        return self.blank_bytes if key in self.blank else self.images[key]

    def _next_fault(self, key) -> str:
        with self._lock:
            queue = self.faults.get(key)
            return queue.pop(0) if queue else ""

    def _record(self, entry: Logged) -> None:
        with self._lock:
            self.log.append(entry)

    # -- lifecycle --------------------------------------------------------------------------
    def __enter__(self) -> FaultyImageServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep pytest output clean
                pass

            def do_GET(self):
                try:
                    server._handle(self)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout) before we answered

        self._httpd = _Server(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def __exit__(self, *exc) -> None:
        assert self._httpd is not None
        self._httpd.shutdown()
        self._httpd.server_close()

    # -- answers ----------------------------------------------------------------------------
    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(h.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        if not (parts.path.endswith(SKYSERVER_PATH) or parts.path in (HIPS2FITS_PATH, LEGACY_PATH)):
            self._record(Logged(parts.path, None, "bad-path", query))
            return _send(h, 404, b"no such service", "text/plain")
        try:
            key = position_key(query["ra"], query["dec"])
        except (KeyError, ValueError):
            self._record(Logged(parts.path, None, "bad-query", query))
            return _send(
                h, 400, json.dumps({"title": "ra and dec are required"}).encode(), "application/json"
            )
        if key in self.missing or (key not in self.images and key not in self.blank):
            self._record(Logged(parts.path, key, "404", query))
            return _send(h, 404, b"<html><body>no image</body></html>", "text/html")
        fault = self._next_fault(key)
        self._record(Logged(parts.path, key, fault, query))
        body = self.served_bytes(key)
        if fault == "slow":
            time.sleep(self.slow_seconds)
            return _send(h, 200, body, "image/jpeg")
        if fault in ("500", "502"):
            return _send(h, int(fault), b"Internal Server Error", "text/plain")
        if fault in ("503", "429"):
            return _send(h, int(fault), b"busy, retry later", "text/plain", {"Retry-After": self.retry_after})
        if fault == "truncated":
            return _send(h, 200, body[: len(body) // 2], "image/jpeg")
        if fault == "short":
            h.send_response(200)
            h.send_header("Content-Type", "image/jpeg")
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            h.wfile.write(body[: len(body) // 2])
            h.wfile.flush()
            h.close_connection = True
            return None
        if fault == "trickle":
            h.send_response(200)
            h.send_header("Content-Type", "image/jpeg")
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            step = -(-len(body) // 8)
            for start in range(0, len(body), step):
                h.wfile.write(body[start : start + step])
                h.wfile.flush()
                time.sleep(self.slow_seconds / 4)
            return None
        if fault == "html":
            page = (
                b"<!DOCTYPE html><html><head><title>Error</title></head><body>ImgCutout error</body></html>"
            )
            return _send(h, 200, page, "text/html")
        if fault == "json":
            return _send(
                h,
                200,
                json.dumps({"title": "Internal error", "description": "x"}).encode(),
                "application/json",
            )
        if fault == "reset":
            h.close_connection = True
            return None
        if fault == "404":
            return _send(h, 404, b"not found", "text/plain")
        return _send(h, 200, body, "image/jpeg")


class _Server(ThreadingHTTPServer):
    # the default backlog (5) drops connections from 8 workers on a loaded machine: those show
    # up as connect timeouts the fault plan never asked for
    request_queue_size = 128


def _send(
    h: BaseHTTPRequestHandler, status: int, body: bytes, ctype: str, headers: dict | None = None
) -> None:
    h.send_response(status)
    h.send_header("Content-Type", ctype)
    h.send_header("Content-Length", str(len(body)))
    for name, value in (headers or {}).items():
        h.send_header(name, value)
    h.end_headers()
    h.wfile.write(body)
