"""The README and docs/: links that lead somewhere, and the test command CI runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def anchors(page: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    found = set()
    for heading in re.findall(r"^#+ (.+)$", text, flags=re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        found.add(slug)
    return found


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_relative_link_and_anchor_exists(page):
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    broken = []
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target):
            continue  # an outside address
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists():
            broken.append(target)
        elif anchor and file.suffix == ".md" and anchor not in anchors(file):
            broken.append(target)
    assert not broken, f"{page.name}: links to nothing: {broken}"


def test_ci_runs_the_readme_test_command():
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("## Running the tests"):]
    block = section[section.index("```bash\n") + len("```bash\n"):section.index("\n```", section.index("```bash"))]
    command = block.split("&&")[-1].strip()
    assert command.startswith("python3 -m pytest"), block
    ci = (REPO / ".ci" / "run").read_text().splitlines()
    assert command in [line.strip() for line in ci], f".ci/run does not run {command!r}"


def test_the_table_of_keys_gives_the_schema_defaults():
    import yaml

    schema = yaml.safe_load((REPO / "schemas" / "config.schema.yaml").read_text())["properties"]
    page = (REPO / "docs" / "configuration.md").read_text()
    table = page[page.index("## Every key"):]
    table = table[:table.index("\n## ")]
    documented = {}
    for keys, default in re.findall(r"^\| (`[^|]+`) \| `([^`|]+)` \|", table, flags=re.M):
        for key in re.findall(r"`([^`]+)`", keys):
            documented[key] = default
    expected = {}
    for key, spec in schema.items():
        for sub, sub_spec in spec.get("properties", {}).items():
            expected[f"{key}: {sub}"] = sub_spec.get("default")
        if "default" in spec and "properties" not in spec:
            expected[key] = spec["default"]
    assert set(documented) == set(expected), set(documented) ^ set(expected)
    for key, default in documented.items():
        assert yaml.safe_load(default) == expected[key], (key, default, expected[key])
