import math

import pytest
import torch

from gankit.errors import GankitError
from gankit.metrics.inception_score import inception_score


def test_closed_forms():
    # every sample certain of its own class, classes balanced: KL = log C, IS = C
    logits = torch.eye(10).repeat(20, 1) * 1e4
    assert inception_score(logits, splits=10, shuffle=False)["is_mean"] == pytest.approx(10.0, rel=1e-9)
    # identical predictions for every sample: p(y|x) = p(y), IS = 1
    assert inception_score(torch.randn(1, 7).repeat(100, 1), splits=5)["is_mean"] == pytest.approx(1.0, rel=1e-12)


def test_equals_torch_fidelity():
    metric_isc = pytest.importorskip("torch_fidelity.metric_isc")
    logits = torch.randn(1003, 20, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 3
    theirs = metric_isc.isc_features_to_metric(logits, splits=10, shuffle=True, rng_seed=2020)
    ours = inception_score(logits, splits=10, seed=2020)
    assert ours["is_mean"] == pytest.approx(theirs["inception_score_mean"], rel=1e-6)
    assert ours["is_std"] == pytest.approx(theirs["inception_score_std"], rel=1e-6)
    assert not math.isnan(ours["is_std"])


def test_too_few_samples():
    with pytest.raises(GankitError, match="N >= splits"):
        inception_score(torch.randn(5, 10), splits=10)
