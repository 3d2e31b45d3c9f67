"""``expect_error``: an error of a type whose message names every given fragment."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest


@contextmanager
def expect_error(exc_type: type[BaseException], *fragments: str) -> Iterator[None]:
    """Like ``pytest.raises(exc_type)``, and the message contains each of ``fragments``.

    The fragments are how these tests hold the house rule: a message names the bad value and
    the fix.
    """
    with pytest.raises(exc_type) as info:
        yield
    message = str(info.value)
    missing = [fragment for fragment in fragments if fragment not in message]
    assert not missing, f"message lacks {missing!r}: {message}"
