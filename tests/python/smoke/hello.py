"""The smoke test's payload: prints where it runs, as JSON."""

import json
import platform
import sys


def main() -> None:
    print(json.dumps({"greeting": "hello from a PEX", "python": platform.python_version(), "argv": sys.argv[1:]}))


if __name__ == "__main__":
    main()
