"""The role image recipe and its content tag: one recipe, a tag that changes exactly with its inputs."""

from __future__ import annotations

import re

import pytest

from compat_core.declare import compat_role, log_probe
from compat_core.images import (
    CONTAINER_DEPS_PEX,
    CONTAINER_PEX,
    CONTAINER_SOURCES,
    CONTAINER_USER,
    CONTAINER_VENV,
    SOURCES_PATH_VARIABLE,
    base_instructions,
    content_tag,
    deps_instructions,
    requirements_instructions,
    role_instructions,
    sources_instructions,
)

PEX = "compat/conveyor/pex-0.1.0.pex"


def test_base_instructions_turn_the_pex_into_a_venv_on_the_base_image() -> None:
    lines = base_instructions(PEX)
    assert lines[:2] == ["ARG BASE_IMAGE", "FROM ${BASE_IMAGE}"]
    assert f"COPY {PEX} {CONTAINER_PEX}" in lines
    run = next(line for line in lines if line.startswith("RUN "))
    assert run == (
        "RUN PEX_ROOT=/tmp/pex-root PEX_TOOLS=1 python3 /app/app.pex venv /app/venv && rm -rf /app/app.pex /tmp/pex-root"
        " && mkdir -p /app/pycache/app/src && chown -R 10001:10001 /app/pycache"
        """ && echo 'import sys; sys.pycache_prefix = \"/app/pycache\"'"""
        " > $(echo /app/venv/lib/python3*/site-packages)/compat_matrix_bytecode.pth"
    )
    assert f"USER {CONTAINER_USER}" in lines
    assert lines[-1] == f'ENTRYPOINT ["{CONTAINER_VENV}/pex"]'
    # Nothing role-specific: every role of a version shares these layers.
    assert not any("PEX_MODULE" in line or "PEX_SCRIPT" in line for line in lines)


def test_branch_sources_are_the_last_thin_layer_after_the_requirements() -> None:
    without = base_instructions(PEX)
    lines = base_instructions(PEX, "compat/conveyor/src-branch-server")
    assert without == requirements_instructions(PEX)
    # Requirements first: a source edit reuses every layer of the requirements ...
    assert lines[:-1] == requirements_instructions(PEX, with_sources=True)
    venv = next(i for i, line in enumerate(lines) if line.startswith("RUN "))
    assert lines[: venv + 1] == without[: venv + 1]
    # ... and rebuilds one step, the last.
    assert lines[-1:] == sources_instructions("compat/conveyor/src-branch-server")
    assert lines[-1] == f"COPY compat/conveyor/src-branch-server {CONTAINER_SOURCES}"
    assert f"{SOURCES_PATH_VARIABLE}={CONTAINER_SOURCES}" in lines[venv + 1]
    assert not any(SOURCES_PATH_VARIABLE in line for line in without)


def test_a_shared_deps_image_is_completed_by_the_version_on_top() -> None:
    deps = deps_instructions("deps.pex")
    assert deps[:3] == ["ARG BASE_IMAGE", "FROM ${BASE_IMAGE}", f"COPY deps.pex {CONTAINER_DEPS_PEX}"]
    # A partial venv (pex's deps scope), and nothing of a version or a role in it.
    assert deps[3] == (
        f"RUN PEX_ROOT=/tmp/pex-root PEX_TOOLS=1 python3 {CONTAINER_DEPS_PEX} venv --scope=deps {CONTAINER_VENV}"
        f" && rm -rf {CONTAINER_DEPS_PEX} /tmp/pex-root"
    )
    on = requirements_instructions(PEX, with_sources=True, on="compat-matrix/conveyor/deps:in-1")
    alone = requirements_instructions(PEX, with_sources=True)
    # The same steps, from the deps image instead of the base image: pex completes the venv.
    assert on[0] == "FROM compat-matrix/conveyor/deps:in-1"
    assert on[1:] == alone[2:]


@pytest.mark.parametrize(
    "command, line", [({"module": "conveyor.cli:main"}, "ENV PEX_MODULE=conveyor.cli:main"), ({"script": "dagster"}, "ENV PEX_SCRIPT=dagster")]
)
def test_role_instructions_add_the_command_last(command: dict, line: str) -> None:
    role = compat_role("r", readiness=log_probe("up"), **command)
    assert role_instructions(PEX, role) == base_instructions(PEX) + [line]
    assert role_instructions(PEX, role, "src") == base_instructions(PEX, "src") + [line]


def test_the_content_tag_is_a_digest_of_recipe_artifacts_and_base() -> None:
    dockerfile = "\n".join(base_instructions(PEX))
    tag = content_tag(dockerfile, ["a" * 64], "sha256:base")
    assert re.fullmatch(r"in-[0-9a-f]{20}", tag)
    assert content_tag(dockerfile, ["a" * 64], "sha256:base") == tag
    others = {
        content_tag(dockerfile + "\nENV X=1", ["a" * 64], "sha256:base"),
        content_tag(dockerfile, ["b" * 64], "sha256:base"),
        content_tag(dockerfile, ["a" * 64, "c" * 64], "sha256:base"),
        content_tag(dockerfile, ["a" * 64], "sha256:other"),
    }
    assert tag not in others and len(others) == 4


def test_the_content_tag_separates_its_parts() -> None:
    # Moving text from one input to the next is another image.
    assert content_tag("ab", ["c"], "d") != content_tag("a", ["bc"], "d")
    assert content_tag("a", ["b", "c"], "d") != content_tag("a", ["bc"], "d")
