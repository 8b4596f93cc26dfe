import argparse
import cmath
import json
import math

import pytest
import torch

from gankit.experiments import dirac
from gankit.objectives import AdversarialObjective


def test_one_simultaneous_step_of_the_unregularized_gan_scales_the_radius_exactly():
    """theta' = theta + h s psi, psi' = psi - h s theta with s = sigmoid(theta psi), hence
    theta'^2 + psi'^2 = (1 + h^2 s^2)(theta^2 + psi^2): simultaneous GD always spirals outwards."""
    theta0, psi0, h = 0.7, -1.3, 0.1
    path = dirac.simulate(dirac.methods()["gan"], alternating=False, steps=1, lr=h, start=(theta0, psi0))
    theta1, psi1 = path[1]
    s = 1 / (1 + math.exp(-theta0 * psi0))
    assert theta1**2 + psi1**2 == pytest.approx((1 + h * h * s * s) * (theta0**2 + psi0**2), rel=1e-12)


def test_wgan_step_factor_is_one_plus_h_squared():
    path = dirac.simulate(dirac.methods(clip=100.0)["wgan"], alternating=False, steps=1, lr=0.2, start=(0.5, 0.4))
    theta1, psi1 = path[1]
    assert theta1**2 + psi1**2 == pytest.approx(1.04 * (0.25 + 0.16), rel=1e-12)


@pytest.mark.parametrize("name", ["gan", "ns-gan", "wgan", "r1"])
def test_autograd_jacobian_matches_the_closed_form(name):
    method = dirac.methods()[name]
    numeric = dirac.jacobian_eigenvalues(method)
    closed = sorted(method.eigenvalues(), key=lambda v: -v.imag)
    for a, b in zip(numeric, closed, strict=True):
        assert abs(a - b) < 1e-9


def test_instance_noise_jacobian_matches_within_monte_carlo_error():
    method = dirac.methods(noise=1.0)["instance-noise"]
    numeric = dirac.jacobian_eigenvalues(method)
    closed = sorted(method.eigenvalues(), key=lambda v: -v.imag)
    # the batch mean of eps^2 over 4096 draws has relative standard error sqrt(2/4096) = 2.2%
    for a, b in zip(numeric, closed, strict=True):
        assert abs(a - b) < 0.02


def test_r1_eigenvalues_formula():
    gamma = 0.3
    (a, b) = dirac.methods(gamma=gamma)["r1"].eigenvalues()
    assert {a, b} == {(-gamma + cmath.sqrt(gamma**2 - 1)) / 2, (-gamma - cmath.sqrt(gamma**2 - 1)) / 2}


def test_which_methods_converge(tmp_path):
    """Mescheder et al. 2018: unregularised GAN and WGAN do not converge; R1 and instance noise do."""
    result = dirac.run(argparse.Namespace(out=str(tmp_path), steps=400, lr=0.1))
    converged = {(r["method"], r["update"]): r["converged"] for r in result["rows"]}
    for update in ("simultaneous", "alternating"):
        assert not converged[("gan", update)] and not converged[("wgan", update)]
        assert converged[("r1", update)] and converged[("instance-noise", update)]
    assert (tmp_path / "dirac.png").is_file()
    json.dumps(result)


def test_vector_field_uses_the_training_objective():
    objective = AdversarialObjective(dirac.methods()["gan"].objective)
    theta = torch.tensor(0.4, dtype=torch.float64, requires_grad=True)
    psi = torch.tensor(-0.9, dtype=torch.float64, requires_grad=True)
    v_theta, v_psi = dirac.vector_field(objective, theta, psi, 1, 0)
    s = 1 / (1 + math.exp(0.4 * 0.9))
    assert v_theta.item() == pytest.approx(s * -0.9, rel=1e-12)
    assert v_psi.item() == pytest.approx(-s * 0.4, rel=1e-12)
