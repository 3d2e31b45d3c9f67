"""What the API accepts in a run request, and how stored values are made safe to return.

Everything accepted must list again later: a run's config is stored as JSON and returned by
``GET /runs`` to everyone, so a value that cannot be written back as strict JSON (``NaN``,
``Infinity``, a number that overflows to infinity) or that no JSON library can nest that deep
would break listing for every client. Such requests are rejected (4xx, naming the field), and
values already stored (by older servers, or job results) are returned in a safe form.
"""

from __future__ import annotations

import math
from typing import Any

MAX_JOB_NAME_CHARS = 200
"""A job name is an identifier; longer names are refused before they reach the code server
(whose gRPC error details, which echo the name, have a size limit)."""

MAX_KEY_CHARS = 200
"""A config key names a job parameter."""

MAX_DEPTH = 32
"""How deeply a run's config may nest objects and arrays (``{"a": [1]}`` is depth 2)."""

MAX_BODY_DEPTH = MAX_DEPTH + 8
"""Scanned on the raw body before parsing: deeper bodies are refused without building them."""

_NON_FINITE = {math.inf: "Infinity", -math.inf: "-Infinity"}


class RequestRejected(ValueError):
    """A request value the API does not accept; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def short(value: object, limit: int = 80) -> str:
    """``repr(value)`` cut to ``limit`` characters, for error messages that echo a value."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def scan_depth(body: bytes | bytearray, limit: int = MAX_BODY_DEPTH) -> None:
    """Refuse a JSON body nesting deeper than ``limit``, naming the top-level field it is in.

    Runs before ``json.loads`` (whose recursion a deep body would exhaust) in one linear pass
    over the bytes, skipping string contents.
    """
    depth = 0
    in_string = False
    escaped = False
    key_start = -1
    top_key = ""
    for index, byte in enumerate(body):
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # closing quote
                in_string = False
                if depth == 1 and key_start >= 0:
                    top_key = bytes(body[key_start:index]).decode("utf-8", "replace")
                    key_start = -1
            continue
        if byte == 0x22:
            in_string = True
            key_start = index + 1 if depth == 1 else -1
        elif byte in (0x7B, 0x5B):  # { [
            depth += 1
            if depth > limit:
                where = f"field {short(top_key)}" if top_key else "the request body"
                raise RequestRejected(
                    400,
                    f"{where} nests JSON deeper than {limit} levels; a run config may nest at most "
                    f"{MAX_DEPTH} levels",
                )
        elif byte in (0x7D, 0x5D):  # } ]
            depth -= 1


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate ("\ud800" in the JSON): no UTF-8 response can carry it
        return False
    return True


def check_value(value: Any, path: str, depth: int = 0) -> None:
    """Refuse non-finite numbers, over-long keys, unencodable strings and nesting deeper than ``MAX_DEPTH``.

    ``path`` names ``value`` in errors (e.g. ``config``; nested: ``config.a[2]``). Status 422.
    """
    if isinstance(value, str) and not _encodable(value):
        raise RequestRejected(422, f"{path} holds a lone UTF-16 surrogate (e.g. \\ud800); send valid Unicode text")
    if isinstance(value, float) and not math.isfinite(value):
        raise RequestRejected(
            422,
            f"{path} is {_NON_FINITE.get(value, 'NaN')}, which is not a JSON number; send a finite number "
            f"(at most about 1.8e308)",
        )
    if isinstance(value, dict | list):
        if depth >= MAX_DEPTH:
            raise RequestRejected(422, f"{path} nests deeper than {MAX_DEPTH} levels; flatten the config")
        if isinstance(value, dict):
            for key, item in value.items():
                if not _encodable(key):
                    raise RequestRejected(422, f"{path} has a key holding a lone UTF-16 surrogate; send valid Unicode text")
                if len(key) > MAX_KEY_CHARS:
                    raise RequestRejected(
                        422, f"{path} has a key of {len(key)} characters ({short(key, 40)}); keys may have at most "
                        f"{MAX_KEY_CHARS}",
                    )
                check_value(item, f"{path}.{key}", depth + 1)
        else:
            for index, item in enumerate(value):
                check_value(item, f"{path}[{index}]", depth + 1)


def check_job_name(job: str) -> None:
    if not _encodable(job):
        raise RequestRejected(422, "'job' holds a lone UTF-16 surrogate; GET /jobs lists the job names")
    if len(job) > MAX_JOB_NAME_CHARS:
        raise RequestRejected(
            422,
            f"'job' is {len(job)} characters long ({short(job, 40)}); a job name has at most "
            f"{MAX_JOB_NAME_CHARS} (GET /jobs lists them)",
        )


def listable(value: Any) -> Any:
    """``value`` with every non-finite float replaced by its name (``"NaN"``, ``"Infinity"``), and
    every lone surrogate in text by ``?``.

    For values read back from storage: strict JSON cannot carry them, and one such value must not
    make ``GET /runs`` fail for everyone. Iterative, so a deep stored value cannot exhaust the stack.
    """
    if isinstance(value, float):
        return value if math.isfinite(value) else _NON_FINITE.get(value, "NaN")
    if isinstance(value, str):
        return _text(value)
    if not isinstance(value, dict | list):
        return value
    root: list[Any] = [None]
    stack: list[tuple[Any, Any, Any]] = [(value, root, 0)]
    while stack:
        source, parent, slot = stack.pop()
        if isinstance(source, float) and not math.isfinite(source):
            parent[slot] = _NON_FINITE.get(source, "NaN")
        elif isinstance(source, str):
            parent[slot] = _text(source)
        elif isinstance(source, dict):
            copy: dict[str, Any] = {}
            parent[slot] = copy
            for key, item in source.items():
                safe_key = _text(key) if isinstance(key, str) else key
                copy[safe_key] = None
                stack.append((item, copy, safe_key))
        elif isinstance(source, list):
            items: list[Any] = [None] * len(source)
            parent[slot] = items
            stack.extend((item, items, index) for index, item in enumerate(source))
        else:
            parent[slot] = source
    return root[0]


def _text(text: str) -> str:
    # Stored text with a lone surrogate would make the UTF-8 response fail: replace it.
    return text if _encodable(text) else text.encode("utf-8", "replace").decode("utf-8")


__all__ = (
    "MAX_BODY_DEPTH",
    "MAX_DEPTH",
    "MAX_JOB_NAME_CHARS",
    "MAX_KEY_CHARS",
    "RequestRejected",
    "check_job_name",
    "check_value",
    "listable",
    "scan_depth",
    "short",
)
