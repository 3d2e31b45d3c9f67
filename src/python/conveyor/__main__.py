"""`python -m conveyor ...`: the conveyor CLI."""

import sys

from conveyor.cli import main

if __name__ == "__main__":
    sys.exit(main())
