"""tally across versions: hits counted through the web front end, whatever version each side is."""

from __future__ import annotations

import json
import urllib.request

from compat_core.cell_plan import CellPlan
from compat_matrix.backends.base import Deployment

BRANCH_VERSION = "0.2.0.dev0"  # src/adopter_tally/version.py


def get(url: str) -> dict[str, object]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def expected_version(cell: CellPlan, role: str) -> str:
    (instance,) = (inst for inst in cell.instances if inst.role == role)
    return BRANCH_VERSION if instance.version == "branch" else instance.version


def test_each_role_runs_the_version_its_cell_says(deployment: Deployment, cell: CellPlan) -> None:
    web = deployment.first("web", "http").url()
    assert get(web + "/versions") == {"web": expected_version(cell, "web"), "store": expected_version(cell, "store")}


def test_hits_are_counted_in_the_store(deployment: Deployment) -> None:
    web = deployment.first("web", "http").url()
    assert [get(web + "/hit/home")["hits"] for _ in range(3)] == [1, 2, 3]
    assert get(web + "/hit/about") == {"hits": 1}
