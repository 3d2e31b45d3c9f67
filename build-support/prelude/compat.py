"""Pants macros (prelude)."""
