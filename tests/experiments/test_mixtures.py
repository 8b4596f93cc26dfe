import argparse
import csv
import statistics

import pytest

from gankit.config import preset_names
from gankit.errors import GankitError
from gankit.experiments import mixtures


def test_every_method_has_a_preset_on_both_data_sets():
    for method in mixtures.METHODS:
        for data in mixtures.DATASETS:
            preset, _ = mixtures.preset_for(method, data)
            assert preset in preset_names()


def test_snapshot_steps_are_log_spaced():
    assert mixtures.snapshot_steps(2000) == [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000]
    assert mixtures.snapshot_steps(7) == [1, 2, 5, 7]


def test_small_run_writes_csv_table_and_strips(tmp_path):
    args = argparse.Namespace(out=str(tmp_path), methods="ns,wgan-gp", data="ring", seeds=2, first_seed=0, steps=6)
    result = mixtures.run(args)
    with (tmp_path / "mixtures.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 4 and {r["method"] for r in rows} == {"ns", "wgan-gp"}
    ns = [r for r in result["rows"] if r["method"] == "ns"]
    summary = next(s for s in result["summary"] if s["method"] == "ns")
    assert summary["high_quality"] == pytest.approx(statistics.fmean(r["high_quality"] for r in ns))
    assert summary["high_quality_std"] == pytest.approx(statistics.stdev(r["high_quality"] for r in ns))
    assert "| ring | ns |" in (tmp_path / "mixtures.md").read_text()
    assert len(list(tmp_path.glob("strip-ring-*.png"))) == 4


def test_unknown_method():
    with pytest.raises(GankitError, match="unknown method 'gann'"):
        mixtures.run(argparse.Namespace(out="x", methods="gann", data="ring", seeds=1, first_seed=0, steps=1))
