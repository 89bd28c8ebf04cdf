"""The house by concept: lab/ keeps at its top only what the whole lab shares, the page's modules live in
folders by role, and the architecture page names every module where it is."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ARCHITECTURE = ROOT / "docs" / "architecture.md"


def test_the_lab_keeps_few_modules_at_its_top() -> None:
    top = sorted(path.name for path in (ROOT / "lab").glob("*.py"))
    assert len(top) <= 15, top


def test_the_page_keeps_its_entries_and_shared_helpers_at_its_top() -> None:
    top = sorted(path.name for path in (ROOT / "static" / "js").glob("*.js"))
    assert len(top) <= 6, top
    assert {"main.js", "join.js"} <= set(top)


def test_the_architecture_page_names_every_module_where_it_is() -> None:
    text = ARCHITECTURE.read_text(encoding="utf-8")
    table = text[text.index("## Where each part lives"):]
    named: set[Path] = set()
    for row in re.findall(r"^\| `([^`]+/)` \|[^|]*\|(.*)\|$", table, re.M):
        folder, modules = row
        for name in re.findall(r"`([\w./-]+\.(?:py|js))`", modules):
            path = ROOT / name if "/" in name and not name.startswith(("__", "gunicorn")) else ROOT / folder / name
            if name == "gunicorn.conf.py":
                path = ROOT / name
            named.add(path)
            assert path.exists(), f"docs/architecture.md names {name} under {folder}, which is not there"
    for package in ("lab", "webapp", "agent"):
        for path in (ROOT / package).rglob("*.py"):
            if path.name == "__init__.py" and path.parent.name != "webapp":
                continue
            assert path in named, f"docs/architecture.md does not place {path.relative_to(ROOT)}"
