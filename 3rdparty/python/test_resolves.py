# A BUILD file prelude ([GLOBAL].build_file_prelude_globs in pants.toml): its names are defined in
# every BUILD file. Not a module: a prelude may not import.
#
# The resolves in which the harness (compat_matrix, compat_core and their requirements,
# 3rdparty/python/harness-requirements.txt) exists besides python-default: one per product whose
# suite's tests run in a resolve of their own (`compat_suite(resolve=...)`), so that the client
# library a product's tests import goes there and not into python-default, whose lockfile (and
# every other suite's cells) then stays as it is. A product's test resolve is added here, and
# to [python.resolves] in pants.toml, before its lockfile is generated (README, "Add a product").
PRODUCT_TEST_RESOLVES = (
    "pyro5-tests",
)


def harness_sources_for_product_tests(name="test-resolves", **fields):
    """The calling BUILD file's harness sources once more, in each of PRODUCT_TEST_RESOLVES (no
    target when there is none: an empty parametrize is an error). Its own python_sources, in
    python-default, stay as they are; ruff and mypy check the files once, through those."""
    if PRODUCT_TEST_RESOLVES:
        python_sources(
            name=name,
            resolve=parametrize(*PRODUCT_TEST_RESOLVES),
            skip_mypy=True,
            skip_ruff=True,
            **fields,
        )
