"""The README and docs/ say what the code does: links resolve, the configuration page names every
variable the code reads and every flag of its commands with the code's defaults, every `make` target
named exists, and docs/performance.md is what bench/report.py makes of bench/results.json.
(The event table is checked against the kinds registry in tests/lab/test_structured_events.py.)"""

from __future__ import annotations

import ast
import dataclasses
import json
import re
from pathlib import Path

import pytest

from bench import report
from lab.sockets.endpoint import Limits
from webapp.conns import ConnLimits

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
CODE = [*sorted((ROOT / "lab").rglob("*.py")), *sorted((ROOT / "webapp").rglob("*.py")),
        *sorted((ROOT / "agent").rglob("*.py")), ROOT / "gunicorn.conf.py"]
CONFIGURATION = ROOT / "docs" / "configuration.md"
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def anchors(markdown: str) -> set[str]:
    """GitHub's anchors for a page's headings: lower case, punctuation dropped, spaces to hyphens."""
    found: set[str] = set()
    in_code = False
    for line in markdown.splitlines():
        if line.startswith("```"):
            in_code = not in_code
        elif not in_code and (m := re.match(r"#{1,6} (.*)", line)):
            slug = re.sub(r"[^\w\- ]", "", m.group(1).strip().lower()).replace(" ", "-")
            base, n = slug, 1
            while slug in found:
                slug, n = f"{base}-{n}", n + 1
            found.add(slug)
    return found


def without_code(markdown: str) -> str:
    """The page less its fenced code blocks (a `[x](y)` in a program is no link)."""
    return re.sub(r"^```.*?^```", "", markdown, flags=re.M | re.S)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page: Path) -> None:
    broken = []
    for target in LINK.findall(without_code(text(page))):
        if re.match(r"[a-z]+:", target):
            continue  # https:, mailto:: not ours to check offline
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        if not resolved.exists():
            broken.append(f"{target}: no such file")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(text(resolved)):
            broken.append(f"{target}: no such heading")
    assert not broken, broken


def test_the_readme_is_a_front_page() -> None:
    readme = text(ROOT / "README.md")
    assert len(readme.splitlines()) <= 250
    first_screen = "\n".join(readme.splitlines()[:20])
    for command in ("make run", "make test", "make class"):
        assert command in first_screen, command
    assert "![" in first_screen  # a picture before the reader scrolls
    for page in sorted((ROOT / "docs").glob("*.md")):
        assert f"(docs/{page.name}" in readme, f"the README links to no docs/{page.name}"


def test_every_make_target_named_exists() -> None:
    targets = set(re.findall(r"^([a-z][\w-]*):", text(ROOT / "Makefile"), re.M))
    named = {t for page in PAGES for t in re.findall(r"(?:`|^)make ([a-z][\w-]*)", text(page), re.M)}
    assert {"run", "test", "class", "bench"} <= named
    assert named <= targets, sorted(named - targets)


def variables_the_code_reads() -> set[str]:
    names = {n for path in CODE for n in re.findall(r"SOCKETLAB_[A-Z0-9_]*[A-Z0-9]", text(path))}
    # SOCKETLAB_MAX_<FIELD> is built from the limits' field names, not written out
    names = {n for n in names if n not in ("SOCKETLAB_MAX", "SOCKETLAB_MAX_PERIODIC")}
    fields = [f.name for f in (*dataclasses.fields(Limits), *dataclasses.fields(ConnLimits))]
    return names | {f"SOCKETLAB_MAX_{f.upper()}" for f in fields}


def test_the_configuration_page_names_every_variable_the_code_reads() -> None:
    page = text(CONFIGURATION)
    documented = set(re.findall(r"`(SOCKETLAB_[A-Z0-9_]+)`", page))
    read = variables_the_code_reads()
    assert read - documented == set(), f"read by the code, not in docs/configuration.md: {sorted(read - documented)}"
    tests_only = {"SOCKETLAB_SCREENSHOTS"}
    # the benchmarks' own switches (bench/) may be documented too: they are read, by `make bench-quick`'s run
    by_bench = {n for path in sorted((ROOT / "bench").rglob("*.py")) for n in re.findall(r"SOCKETLAB_[A-Z0-9_]*[A-Z0-9]", text(path))}
    unread = documented - read - tests_only - by_bench
    assert unread == set(), f"documented, read nowhere: {sorted(unread)}"


def test_the_configuration_page_gives_the_code_s_defaults() -> None:
    page = text(CONFIGURATION)
    for limits in (Limits(), ConnLimits()):
        for f in dataclasses.fields(limits):
            default = getattr(limits, f.name)
            row = re.search(rf"^\| `SOCKETLAB_MAX_{f.name.upper()}` \|.*\| ([^|]+) \|$", page, re.M)
            assert row, f.name
            if default:  # (0: derived from another limit, said in words)
                assert row.group(1).strip() == str(default), (f.name, row.group(1), default)


def flags(path: Path) -> set[str]:
    """Every `--flag` an argparse parser of this module declares."""
    found = set()
    for node in ast.walk(ast.parse(text(path))):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "add_argument":
            found |= {a.value for a in node.args if isinstance(a, ast.Constant) and str(a.value).startswith("--")}
    return found


@pytest.mark.parametrize("module", ["webapp/__main__.py", "agent/__main__.py", "agent/acl.py",
                                    "agent/trace/__main__.py", "agent/trace/courier.py"])
def test_the_configuration_page_names_every_flag(module: str) -> None:
    declared = flags(ROOT / module)
    assert declared, module
    page = text(CONFIGURATION)
    missing = sorted(f for f in declared if not re.search(rf"`[^`]*{re.escape(f)}\b[^`]*`", page))
    assert not missing, f"{module}: flags not in docs/configuration.md: {missing}"


def test_the_performance_page_is_generated_from_the_results() -> None:
    """docs/performance.md is written by `python -m bench.report` (and by `make bench`), never by hand."""
    run = json.loads(text(ROOT / "bench" / "results.json"))
    made = report.render(run, text(ROOT / "bench" / "notes.md"))
    assert text(ROOT / "docs" / "performance.md") == made, "run `python -m bench.report` and commit docs/performance.md"
    for result in run["results"]:
        assert f"| {result['number']} | " in made


def test_the_performance_page_says_the_machine_s_state(tmp_path: Path) -> None:
    """A run as `python -m bench` records it: date, cores, load, and the plain echo server's rate."""
    run = {"date": "2026-12-06 10:00 UTC", "machine": "Linux-6.1-x86_64", "cores": 2,
           "load": {"before": [1.5, 1.0, 0.5], "after": [2.0, 1.25, 0.75]}, "seconds": 12.0,
           "results": [{"number": 2, "what": "echo", "measured": "0.80x", "target": ">= 0.7x", "met": True,
                        "figures": {"ratio": 0.8, "plain_rps": [15000.0, 17000.0, 16000.0]}},
                       {"number": 6, "what": "startup", "measured": "0.44 s", "target": "<= 1.5 s", "met": True,
                        "figures": {}}]}
    results = tmp_path / "results.json"
    results.write_text(json.dumps(run))
    page = report.write(results, tmp_path / "performance.md").read_text(encoding="utf-8")
    assert "2 cores" in page and "before 1.50 / 1.00 / 0.50; after 2.00 / 1.25 / 0.75" in page
    assert "16,000 round trips/s (row 2)" in page
    assert "| 2 | echo | 0.80x | plain threaded echo server, 16,000 round trips/s | 0.80x | - | >= 0.7x | met |" in page
    assert "| 6 | startup | 0.44 s | - | - | - | <= 1.5 s | met |" in page
