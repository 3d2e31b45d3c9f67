"""The release this checkout is; BUILD's python_distribution says the same."""

__version__ = "0.2.0.dev0"
