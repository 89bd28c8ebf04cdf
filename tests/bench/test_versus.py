"""bench/versus.py: both labs and the plain server take turns on real round trips, and a folder that is
no checkout is refused with a sentence. No timing thresholds: the table's shape is checked, not its rates."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bench import versus
from bench.common import ROOT


@pytest.mark.parametrize("shape", ["socket path", "agent"])
def test_a_shape_measures_both_labs_against_the_plain_server(shape: str) -> None:
    row = versus.shape(shape, ROOT, pairs=1)  # (this checkout on both sides)
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[0] == shape and len(cells) == 6
    assert all(re.fullmatch(r"\d+\.\d\dx \(\d+\.\d\d-\d+\.\d\d\)", c) for c in cells[1:3])
    assert all(re.fullmatch(r"[\d,]+/s, \d+ us", c) and not c.startswith("0/s") for c in cells[3:])


def test_a_folder_that_is_no_checkout_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        versus.main([str(tmp_path)])
    assert "is not a checkout of this project" in capsys.readouterr().err
