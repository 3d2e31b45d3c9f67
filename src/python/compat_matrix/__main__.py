"""``python -m compat_matrix ...``: the compat-matrix CLI."""

import sys

from compat_matrix.cli import main

if __name__ == "__main__":
    sys.exit(main())
