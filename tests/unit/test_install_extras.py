"""The README's install command brings everything `snakemake --report` needs."""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import PackageNotFoundError, requires
from pathlib import Path

from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[2]
# Snakemake's HTML report imports these beyond its own requirements (it says so when one is missing).
REPORT_NEEDS = {"pygments"}


def closure(requirements: list[str]) -> set[str]:
    """Every distribution these requirements pull in, extras followed (as installed here)."""
    seen: set[str] = set()
    todo = [Requirement(r) for r in requirements]
    while todo:
        requirement = todo.pop()
        name = re.sub(r"[-_.]+", "-", requirement.name).lower()
        key = f"{name}[{','.join(sorted(requirement.extras))}]"
        if key in seen:
            continue
        seen.add(key)
        try:
            needs = requires(requirement.name) or []
        except PackageNotFoundError:
            continue
        for text in needs:
            need = Requirement(text)
            if need.marker is None or any(need.marker.evaluate({"extra": extra})
                                          for extra in requirement.extras or {""}):
                todo.append(need)
    return {key.split("[")[0] for key in seen}


def test_the_workflow_extra_brings_the_reports_dependencies():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    installed = closure(project["optional-dependencies"]["workflow"])
    assert "snakemake" in installed
    assert REPORT_NEEDS <= installed, sorted(REPORT_NEEDS - installed)
