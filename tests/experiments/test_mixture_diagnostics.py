"""The diagnostics behind the mixtures figure: statistics, coverage and samples at the measured steps."""

from gankit.data.toy import ring_centers
from gankit.experiments.mixture_diagnostics import figure, trace_run
from gankit.metrics.modes import mode_coverage


def test_trace_keeps_the_loops_statistics_and_the_coverage_of_its_samples(tmp_path):
    trace = trace_run("ring-ns", ["train.steps=10", "model.width=16"], every=5, snapshots=2)
    assert trace.steps == [5, 10] and [s for s, _ in trace.samples] == [5, 10]
    assert {"d_accuracy", "grad_norm_d", "grad_norm_g", "loss_d", "loss_g"} <= set(trace.stats)
    assert all(len(v) == 2 for v in trace.stats.values())
    _, x = trace.samples[-1]
    expected = mode_coverage(x, ring_centers(8, 1.0), 0.01)
    assert x.shape == (2500, 2) and trace.coverage[-1] == (10, expected.modes_covered, expected.high_quality)
    wgan = trace_run("grid-wgan", ["train.steps=4", "model.width=16"], every=2, snapshots=1)
    assert "wasserstein_estimate" in wgan.stats and "d_accuracy" not in wgan.stats
    figure([("ring", trace), ("grid", wgan)], tmp_path / "diagnostics.png")
    assert (tmp_path / "diagnostics.png").stat().st_size > 10_000
