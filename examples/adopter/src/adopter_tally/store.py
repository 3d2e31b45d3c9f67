"""The store: named counters over HTTP. ``POST /add/<name>`` adds one and returns the count."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from adopter_tally.version import __version__


def serve(host: str, port: int) -> None:
    counts: dict[str, int] = {}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/health":
                self._reply(200, {"ok": True})
            elif self.path == "/version":
                self._reply(200, {"version": __version__})
            else:
                self._reply(404, {"error": f"no such path {self.path}"})

        def do_POST(self) -> None:
            if not self.path.startswith("/add/"):
                self._reply(404, {"error": f"no such path {self.path}"})
                return
            name = self.path[len("/add/") :]
            with lock:
                counts[name] = counts.get(name, 0) + 1
                count = counts[name]
            self._reply(200, {"name": name, "count": count})

        def _reply(self, status: int, body: dict[str, object]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    ThreadingHTTPServer((host, port), Handler).serve_forever()
