"""The store: named counters over HTTP. ``POST /add/<name>`` adds one and returns the count."""

from __future__ import annotations

import threading
from http.server import ThreadingHTTPServer

from adopter_tally.jsonhttp import JsonHandler
from adopter_tally.version import __version__


def serve(host: str, port: int) -> None:
    counts: dict[str, int] = {}
    lock = threading.Lock()

    class Handler(JsonHandler):
        def do_GET(self) -> None:
            if self.path == "/health":
                self.reply(200, {"ok": True})
            elif self.path == "/version":
                self.reply(200, {"version": __version__})
            else:
                self.not_found()

        def do_POST(self) -> None:
            if not self.path.startswith("/add/"):
                self.not_found()
                return
            name = self.path[len("/add/") :]
            with lock:
                counts[name] = counts.get(name, 0) + 1
                count = counts[name]
            self.reply(200, {"name": name, "count": count})

    ThreadingHTTPServer((host, port), Handler).serve_forever()
