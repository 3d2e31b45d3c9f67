# Pants macros for the compatibility matrix (a BUILD-file prelude: no imports, no I/O).
#
#   role_artifacts(system="conveyor")   in docker/BUILD: for every role a branch PEX holding only
#       what that role imports; for every pinned release one PEX from its own resolve; and one
#       docker_image per role x version (branch and every pinned release).
#   release_requirements(system="conveyor")   in 3rdparty/python/releases/BUILD: one requirement
#       per pinned release, each in its own resolve.
#   compat_suite(name=..., topology=..., cells=..., ...)   in a suite's BUILD: one python_tests
#       target per cell x backend, tagged with the cell, the suite and the backend, depending on
#       exactly that cell's artifacts.
#
# The suite declaration is the matrix's one source of truth: the harness reads the same BUILD
# call with `ast` (compat_matrix.declaration). Artifact naming mirrors compat_matrix.plan
# (pex_path, image_tag, image_info_path); tests/python/compat_matrix/test_prelude.py execs this
# file with recording stand-ins for the target types and checks both agree.


def compat_systems():
    """The systems under test, as the build sees them: roles and where each role's code lives."""
    return {
        "conveyor": {
            "artifacts_dir": "docker",
            "entry_point": "conveyor.cli:main",
            "repository": "conveyor/{role}",
            "release_requirement": "3rdparty/python/releases:conveyor-{version}",
            "release_resolve": "conveyor-{version}",
            # The product's CLI subcommand per role: an image's default command.
            "commands": {"scheduler": "scheduler", "worker": "worker", "user-code": "code-server", "server": "server"},
            # What each role imports on the branch; user code (conveyor.examples) is loaded by
            # name at run time, so the roles that execute jobs depend on it explicitly.
            "branch_sources": {
                "scheduler": ["src/python/conveyor/cluster"],
                "worker": ["src/python/conveyor/cluster", "src/python/conveyor/examples.py"],
                "user-code": ["src/python/conveyor/code_server", "src/python/conveyor/examples.py"],
                "server": ["src/python/conveyor/server"],
            },
        },
    }


BACKENDS = ("process", "docker")
ALIASES = ("earliest", "latest")
# On/off environment variables, read strictly: the same values as compat_matrix.settings (which
# the prelude cannot import; test_prelude.py checks the two agree).
TRUE_VALUES = ("1", "true", "yes", "on")
FALSE_VALUES = ("0", "false", "no", "off")


def _suite_error(suite, message):
    # A ValueError at BUILD-parse time: Pants prints it with the BUILD file's path.
    return ValueError("compat_suite(name=%r): %s" % (suite, message))


def _flag(name, value):
    """The on/off environment variable `name`'s `value` (empty: off); any other value fails the parse.

    The caller reads the variable: Pants resolves only env() calls whose name is a string literal.
    """
    text = (value or "").strip().lower()
    if text == "" or text in FALSE_VALUES:
        return False
    if text in TRUE_VALUES:
        return True
    raise ValueError(
        "%s=%r is not an on/off value; set it to one of %s (on) or %s (off), or unset it (off)"
        % (name, value, ", ".join(TRUE_VALUES), ", ".join(FALSE_VALUES))
    )


def _release_key(version):
    return tuple(int(part) for part in version.split("."))


def _is_release(version):
    parts = version.split(".")
    return len(parts) == 3 and all(p.isdigit() for p in parts)


def _valid_name(name):
    return (
        isinstance(name, str)
        and name != ""
        and all(c.islower() or c.isdigit() or c in ".-" for c in name)
        and name[0].isalnum()
    )


def _pinned(system):
    pins = releases()  # noqa: F821 -- defined by the releases.py prelude
    if pins["package"] != system:
        raise ValueError(
            "3rdparty/python/releases/releases.py pins package %r, not %r" % (pins["package"], system)
        )
    return pins


def _resolve_version(suite, cell, role, spec, pins):
    """A version spec (branch, earliest, latest, X.Y.Z) -> branch or a pinned X.Y.Z."""
    pinned = pins["pinned"]
    how_to_pin = (
        "pin it first: add its wheel to %s, add it to `pinned` in "
        "3rdparty/python/releases/releases.py and run ./pants generate-lockfiles --resolve=%s-X.Y.Z"
        % (pins["index"], pins["package"])
    )
    if spec == "branch":
        return "branch"
    if spec == "earliest":
        override = env("EARLIEST_TESTED_RELEASE", "")  # noqa: F821 -- Pants' BUILD-file env()
        version = override or pins["earliest"]
        if version not in pinned:
            raise _suite_error(
                suite,
                "EARLIEST_TESTED_RELEASE=%r is not a pinned release (pinned: %s); %s"
                % (version, ", ".join(pinned), how_to_pin),
            )
        return version
    if spec == "latest":
        return max(pinned, key=_release_key)
    if _is_release(spec) and spec in pinned:
        return spec
    raise _suite_error(
        suite,
        "cell %r gives role %r the version %r, which is neither branch, earliest, latest nor a pinned "
        "release (pinned: %s); %s" % (cell, role, spec, ", ".join(pinned), how_to_pin),
    )


def _full_matrix_cells(roles, versions):
    """Every assignment of versions to roles, named after what is not on branch."""
    combos = [[]]
    for role in roles:
        combos = [c + [(role, v)] for c in combos for v in versions]
    cells = {}
    for combo in combos:
        off_branch = [(r, v) for r, v in combo if v != "branch"]
        name = "-".join("%s-%s" % (r, v) for r, v in off_branch) or "all-branch"
        cells[name] = dict(off_branch)
    return cells


def _json(value):
    # The prelude cannot import json; values here are validated names and versions only.
    if isinstance(value, str):
        return '"%s"' % value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dict):
        return "{%s}" % ", ".join("%s: %s" % (_json(k), _json(v)) for k, v in value.items())
    return "[%s]" % ", ".join(_json(v) for v in value)


def artifact_names(role, version):
    """(PEX target, image target) names for a role at a version, relative to artifacts_dir."""
    pex = "pex-branch-%s" % role if version == "branch" else "pex-%s" % version
    return pex, "%s-%s" % (role, version)


def release_requirements(system="conveyor"):
    sysdef = compat_systems()[system]
    pins = _pinned(system)
    for version in pins["pinned"]:
        python_requirement(  # noqa: F821
            name="%s-%s" % (system, version),
            requirements=["%s==%s" % (pins["package"], version)],
            resolve=sysdef["release_resolve"].format(version=version),
        )


def role_artifacts(system="conveyor"):
    sysdef = compat_systems()[system]
    pins = _pinned(system)
    roles = list(sysdef["branch_sources"])
    for role in roles:
        pex_binary(  # noqa: F821
            name=artifact_names(role, "branch")[0],
            entry_point=sysdef["entry_point"],
            dependencies=sysdef["branch_sources"][role],
            resolve="python-default",
            execution_mode="venv",
            include_tools=True,
            tags=["artifact", "branch"],
        )
    for version in pins["pinned"]:
        pex_binary(  # noqa: F821
            name=artifact_names(None, version)[0],
            entry_point=sysdef["entry_point"],
            dependencies=[sysdef["release_requirement"].format(version=version)],
            resolve=sysdef["release_resolve"].format(version=version),
            execution_mode="venv",
            include_tools=True,
            tags=["artifact", "release"],
        )
    for role in roles:
        for version in ["branch"] + list(pins["pinned"]):
            pex, image = artifact_names(role, version)
            pex_path = "%s/%s.pex" % (sysdef["artifacts_dir"].replace("/", "."), pex)
            docker_image(  # noqa: F821
                name=image,
                repository=sysdef["repository"].format(role=role),
                image_tags=[version],
                dependencies=[":" + pex],
                image_labels={"compat-matrix.role": role, "compat-matrix.version": version},
                # The PEX becomes a venv at build time, so containers start without unpacking it.
                instructions=[
                    "ARG BASE_IMAGE",
                    "FROM ${BASE_IMAGE}",
                    "COPY %s /app/%s.pex" % (pex_path, system),
                    "RUN PEX_TOOLS=1 python3 /app/%s.pex venv --compile /app/venv && rm /app/%s.pex"
                    % (system, system),
                    "ENV HOME=/tmp PYTHONDONTWRITEBYTECODE=1",
                    "USER 10001:10001",
                    'ENTRYPOINT ["/app/venv/pex"]',
                    'CMD ["%s"]' % sysdef["commands"][role],
                ],
                # `docker`: left out with the docker cells where no engine can be had (./pants).
                tags=["artifact", "docker", role, version],
            )


def compat_suite(
    name,
    topology,
    cells,
    system="conveyor",
    full_matrix=False,
    backends=BACKENDS,
    sources=("test_*.py",),
    dependencies=(),
    timeout=900,
):
    """One python_tests target per cell x backend; see the header of this file."""
    if not _valid_name(name):
        raise _suite_error(name, "the suite name must be lowercase letters, digits, '.' or '-'")
    systems = compat_systems()
    if system not in systems:
        raise _suite_error(name, "unknown system %r; known: %s" % (system, ", ".join(systems)))
    sysdef = systems[system]
    known_roles = list(sysdef["branch_sources"])
    if not isinstance(topology, dict) or not topology:
        raise _suite_error(name, "topology must be a non-empty dict of role -> instance count, got %r" % (topology,))
    for role, count in topology.items():
        if role not in known_roles:
            raise _suite_error(
                name, "topology names unknown role %r; known roles: %s" % (role, ", ".join(known_roles))
            )
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise _suite_error(name, "topology gives role %r the count %r; it must be an integer >= 1" % (role, count))
    for backend in backends:
        if backend not in BACKENDS:
            raise _suite_error(name, "unknown backend %r; known: %s" % (backend, ", ".join(BACKENDS)))
    if not isinstance(cells, dict) or not cells:
        raise _suite_error(name, "cells must be a non-empty dict of cell name -> {role: version}, got %r" % (cells,))

    pins = _pinned(system)
    resolved = {}
    for cell, versions in cells.items():
        if not _valid_name(cell):
            raise _suite_error(
                name, "cell name %r must be lowercase letters, digits, '.' or '-' (it becomes a tag)" % (cell,)
            )
        if not isinstance(versions, dict):
            raise _suite_error(name, "cell %r must map role -> version, got %r" % (cell, versions))
        for role in versions:
            if role not in topology:
                raise _suite_error(
                    name,
                    "cell %r names role %r, which is not in the topology (%s); add it to topology= "
                    "or remove it from the cell" % (cell, role, ", ".join(topology)),
                )
        resolved[cell] = {
            role: _resolve_version(name, cell, role, versions.get(role, "branch"), pins) for role in topology
        }

    # Read even when the suite did not opt in, so a typo fails here rather than going unnoticed.
    full_wanted = _flag("COMPAT_MATRIX_FULL", env("COMPAT_MATRIX_FULL", ""))  # noqa: F821
    if full_matrix and full_wanted:
        declared = [sorted(v.items()) for v in resolved.values()]
        for cell, versions in _full_matrix_cells(list(topology), ["branch"] + list(pins["pinned"])).items():
            assignment = {role: versions.get(role, "branch") for role in topology}
            if sorted(assignment.items()) not in declared and cell not in resolved:
                resolved[cell] = assignment

    artifacts = "//%s" % sysdef["artifacts_dir"]
    for cell, assignment in resolved.items():
        cell_json = _json(
            {
                "suite": name,
                "system": system,
                "cell": cell,
                "topology": [[role, count] for role, count in topology.items()],
                "versions": [[role, v] for role, v in assignment.items() if v != "branch"],
            }
        )
        for backend in backends:
            wanted = []
            for role, version in assignment.items():
                pex, image = artifact_names(role, version)
                target = "%s:%s" % (artifacts, pex if backend == "process" else image)
                if target not in wanted:
                    wanted.append(target)
            python_tests(  # noqa: F821
                name="%s-%s" % (cell, backend),
                sources=list(sources),
                dependencies=list(dependencies),
                runtime_package_dependencies=wanted,
                extra_env_vars=[
                    "COMPAT_MATRIX_CELL=%s" % cell_json,
                    "COMPAT_MATRIX_BACKEND=%s" % backend,
                ],
                tags=[cell, name, backend, "matrix"],
                timeout=timeout,
            )
