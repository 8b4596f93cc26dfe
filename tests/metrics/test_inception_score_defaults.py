"""The Inception Score's defaults are torch-fidelity's (10 splits, seed 2020, shuffled), and a sample of exactly
``splits`` rows is enough (Salimans et al., NeurIPS 2016, Sec. 4: one score per split)."""

import pytest
import torch

from gankit.metrics.inception_score import inception_score


def test_defaults_equal_torch_fidelity_defaults():
    metric_isc = pytest.importorskip("torch_fidelity.metric_isc")
    logits = torch.randn(517, 12, dtype=torch.float64, generator=torch.Generator().manual_seed(4)) * 2
    theirs = metric_isc.isc_features_to_metric(logits)
    ours = inception_score(logits)
    assert ours["is_mean"] == pytest.approx(theirs["inception_score_mean"], rel=1e-6)
    assert ours["is_std"] == pytest.approx(theirs["inception_score_std"], rel=1e-6)


def test_one_sample_per_split_is_enough():
    logits = torch.eye(4) * 50.0  # each sample certain of its own class: one-sample splits score exp(0) = 1
    result = inception_score(logits, splits=4, shuffle=False)
    assert result["is_mean"] == pytest.approx(1.0, abs=1e-9)
