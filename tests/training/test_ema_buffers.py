"""The EMA update (Karras et al., ICLR 2018; Yazici et al., ICLR 2019) on a module with buffers: parameters move
by theta_ema <- d theta_ema + (1 - d) theta, batch-norm statistics are copied, both against explicit formulas."""

import pytest
import torch
from torch import nn

from gankit.training.ema import update_ema


def net(seed):
    torch.manual_seed(seed)
    module = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2)).double()
    module.train()
    module(torch.randn(16, 3, dtype=torch.float64) * 3 + 1)  # moves running_mean / running_var / the batch count
    return module


def test_parameters_are_averaged_and_buffers_copied():
    ema, model = net(0), net(1)
    old = {n: t.clone() for n, t in ema.state_dict().items()}
    update_ema(ema, model, decay=0.75)
    parameters = dict(model.named_parameters())
    buffers = dict(model.named_buffers())
    assert set(parameters) | set(buffers) == set(old)
    for name, value in ema.state_dict().items():
        if name in parameters:
            expected = 0.75 * old[name] + 0.25 * parameters[name].detach()
            torch.testing.assert_close(value, expected, rtol=0, atol=1e-15)
            if not torch.equal(old[name], parameters[name]):  # batch norm's weight and bias start equal
                assert not torch.equal(value, parameters[name])
        else:
            assert torch.equal(value, buffers[name]), name
            assert value.data_ptr() != buffers[name].data_ptr()  # a copy, not a shared tensor
    assert int(ema.state_dict()["1.num_batches_tracked"]) == 1


def test_decay_zero_copies_and_decay_one_keeps():
    ema, model = net(2), net(3)
    kept = {n: p.clone() for n, p in ema.named_parameters()}
    update_ema(ema, model, decay=1.0)
    for name, p in ema.named_parameters():
        assert torch.equal(p, kept[name])
    update_ema(ema, model, decay=0.0)
    for a, b in zip(ema.state_dict().values(), model.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_a_generator_of_another_structure_is_refused():
    """A parameter or buffer without its partner is an error, never silently skipped."""
    with pytest.raises(ValueError):
        update_ema(nn.Sequential(nn.Linear(3, 4)), nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2)), 0.5)
    with pytest.raises(ValueError):  # same parameters, batch norm without running statistics in the EMA copy
        ema = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4, track_running_stats=False))
        update_ema(ema, nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4)), 0.5)
