"""The generated programs stay byte for byte what they were: every program the generator can write
(tests/lab/codegen_programs.py) against the table of their sha256 in codegen_golden.json. A change
meant to alter programs rewrites the table with rewrite(), after reading the new programs."""

from __future__ import annotations

import json
from pathlib import Path

from .codegen_programs import digests

GOLDEN = Path(__file__).with_name("codegen_golden.json")


def rewrite() -> None:
    """Write the table from the generator as it is now (only when its programs change on purpose)."""
    GOLDEN.write_text(json.dumps(digests(), indent=0, sort_keys=True) + "\n", encoding="utf-8")


def test_every_generated_program_is_byte_for_byte_as_recorded() -> None:
    expected: dict[str, str] = json.loads(GOLDEN.read_text(encoding="utf-8"))
    found = digests()
    assert len(found) > 900
    missing = sorted(set(expected) - set(found))
    new = sorted(set(found) - set(expected))
    changed = sorted(name for name in set(found) & set(expected) if found[name] != expected[name])
    assert not (missing or new or changed), (
        f"{len(changed)} programs changed (e.g. {changed[:3]}), {len(missing)} no longer made (e.g. {missing[:3]}), "
        f"{len(new)} new (e.g. {new[:3]}); dump them with `python -m tests.lab.codegen_programs DIR`, compare with "
        "the same dump of the previous commit, and only when the change is meant, rewrite the table with "
        "`python -c 'from tests.lab.test_codegen_golden import rewrite; rewrite()'`")
