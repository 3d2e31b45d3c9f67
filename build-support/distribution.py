# A BUILD file prelude ([GLOBAL].build_file_prelude_globs in pants.toml): the metadata the
# compat-matrix wheels share, in one place. Not a module: a prelude may not import.
#
# Three wheels, one version: compat-matrix-core (src/core/compat_core), compat-matrix-pants-plugin
# (pants-plugins/compat_plugin) and compat-matrix (the harness, src/python). Each requires the
# others at exactly this version (Pants writes `==` for a first-party requirement).
COMPAT_MATRIX_VERSION = "0.1.0"


def compat_matrix_artifact(name, description, **kwargs):
    """python_artifact(...) of a compat-matrix wheel: its name and summary, the shared version
    and license."""
    return python_artifact(
        name=name,
        version=COMPAT_MATRIX_VERSION,
        description=description,
        license="Apache-2.0",
        **kwargs,
    )
