"""One small exception hierarchy. Every message names the bad value and what to do."""


class CompatMatrixError(Exception):
    """Base of every error the harness raises on purpose."""


class SuiteDeclarationError(CompatMatrixError):
    """A suite, topology or cell declaration is malformed (names the suite, cell and value)."""


class UnknownCellError(CompatMatrixError):
    """A cell name that the suite does not declare."""


class ReleaseError(CompatMatrixError):
    """A version or release that is not pinned, or an unreadable releases file / index."""


class ArtifactError(CompatMatrixError):
    """A PEX or image a cell needs is missing (names the artifact and the command that builds it)."""


class BackendError(CompatMatrixError):
    """A backend could not start, probe or stop an instance."""


class ReadinessTimeout(BackendError):
    """An instance did not become ready in time (names the instance, the probe and its log)."""


class SettingError(CompatMatrixError):
    """A setting (a `[compat-matrix]` option or its environment override) has a value it does not
    accept (names both, and the fix)."""
