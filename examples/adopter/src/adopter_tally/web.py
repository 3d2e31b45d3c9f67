"""The web front end: ``GET /hit/<name>`` counts a hit in the store and says the count;
``GET /versions`` says its own version and the store's."""

from __future__ import annotations

import json
import urllib.request
from http.server import ThreadingHTTPServer

from adopter_tally.jsonhttp import JsonHandler
from adopter_tally.version import __version__


def serve(host: str, port: int, store: str) -> None:
    def ask(method: str, path: str) -> dict[str, object]:
        request = urllib.request.Request(store + path, method=method)
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    class Handler(JsonHandler):
        def do_GET(self) -> None:
            if self.path == "/health":
                self.reply(200, {"ok": True})
            elif self.path == "/versions":
                self.reply(200, {"web": __version__, "store": ask("GET", "/version")["version"]})
            elif self.path.startswith("/hit/"):
                counted = ask("POST", "/add/" + self.path[len("/hit/") :])
                self.reply(200, {"hits": counted["count"]})
            else:
                self.not_found()

    ThreadingHTTPServer((host, port), Handler).serve_forever()
