# The pinned releases of conveyor: the one source of truth for which released versions the matrix
# tests and which one is the default `earliest` (EARLIEST_TESTED_RELEASE overrides it).
# Read by the Pants prelude (build-support/prelude/compat.py) and, as a literal via `ast`, by
# compat_matrix. Keep it a single function returning a literal. To pin a release, see README.md.


def releases():
    return {
        "package": "conveyor",
        "pinned": ["0.1.0", "0.2.0"],
        "earliest": "0.1.0",
        "index": "3rdparty/python/releases/wheels",
    }
