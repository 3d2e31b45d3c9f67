"""Strict reading of the harness's on/off environment variables.

Pure: the environment is passed in as a mapping. A flag is off when unset or empty; any other
value must be one of ``TRUE_VALUES`` / ``FALSE_VALUES`` (case-insensitive), so that
``COMPAT_MATRIX_FULL=false`` means off and a typo is an error instead of a silent "on".

The Pants plugin reads COMPAT_MATRIX_FULL with this same function.
"""

from __future__ import annotations

from collections.abc import Mapping

from compat_core.errors import SettingError

TRUE_VALUES = ("1", "true", "yes", "on")
FALSE_VALUES = ("0", "false", "no", "off")


def parse_flag(name: str, value: str, default: bool = False) -> bool:
    """``value`` of environment variable ``name`` as a bool; empty means ``default``.

    Raises ``SettingError`` naming the variable, the value and the accepted values.
    """
    text = value.strip().lower()
    if text == "":
        return default
    if text in FALSE_VALUES:
        return False
    if text in TRUE_VALUES:
        return True
    raise SettingError(
        f"{name}={value!r} is not an on/off value; set it to one of {', '.join(TRUE_VALUES)} (on) "
        f"or {', '.join(FALSE_VALUES)} (off), or unset it ({'on' if default else 'off'})"
    )


def flag(environ: Mapping[str, str], name: str, default: bool = False) -> bool:
    """The on/off environment variable ``name`` in ``environ`` (unset or empty: ``default``)."""
    return parse_flag(name, environ.get(name, ""), default)


__all__ = ("FALSE_VALUES", "TRUE_VALUES", "flag", "parse_flag")
