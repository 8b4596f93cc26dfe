import numpy as np
import pytest
import scipy.linalg
import torch

from gankit.errors import GankitError
from gankit.metrics.fid import StreamingMoments, fid, frechet_distance, load_statistics, save_statistics, statistics


def gaussian(n, d, seed, shift=0.0, scale=1.0):
    return torch.randn(n, d, dtype=torch.float64, generator=torch.Generator().manual_seed(seed)) * scale + shift


def test_closed_form_for_diagonal_covariances():
    mu1, mu2 = torch.tensor([0.0, 1.0, 2.0]), torch.tensor([1.0, 1.0, 0.0])
    a, b = torch.tensor([1.0, 4.0, 9.0]), torch.tensor([4.0, 1.0, 0.25])
    expected = 1 + 0 + 4 + ((a.sqrt() - b.sqrt()) ** 2).sum().item()
    assert frechet_distance(mu1, torch.diag(a), mu2, torch.diag(b)) == pytest.approx(expected, rel=1e-12)


def test_matches_the_scipy_sqrtm_formula_on_full_covariances():
    x, y = gaussian(400, 16, 0), gaussian(300, 16, 1, shift=0.3, scale=1.5)
    mu1, s1, mu2, s2 = (t.numpy() for t in (*statistics(x), *statistics(y)))
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    expected = ((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean)
    assert fid(x, y) == pytest.approx(expected, rel=1e-9)


def test_a_set_against_itself_is_zero():
    x = gaussian(500, 32, 2)
    assert abs(fid(x, x)) < 1e-8


def test_streaming_equals_one_shot_in_float64():
    x = gaussian(1000, 8, 3) + 5.0
    moments = StreamingMoments(8)
    for chunk in x.split(77):
        moments.update(chunk)
    mu, sigma = moments.mean_and_covariance()
    np.testing.assert_allclose(mu.numpy(), x.mean(0).numpy(), rtol=1e-12)
    np.testing.assert_allclose(sigma.numpy(), np.cov(x.numpy(), rowvar=False), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("first", [1, 77])
def test_float32_features_keep_the_stated_precision(first):
    # float32 products of centred blocks, summed in float64: every entry within 1e-6 of max |S| (the module
    # docstring states about 1e-7); a mean of 5 would cost 25x that without the centring.
    x = (gaussian(3000, 8, 3) + 5.0).float()
    moments = StreamingMoments(8)
    moments.update(x[:first])
    for chunk in x[first:].split(1000):
        moments.update(chunk)
    mu, sigma = moments.mean_and_covariance()
    expected = np.cov(x.double().numpy(), rowvar=False)
    np.testing.assert_allclose(mu.numpy(), x.double().mean(0).numpy(), rtol=1e-12)
    assert np.abs(sigma.numpy() - expected).max() < 1e-6 * np.abs(expected).max()


def test_float32_features_give_the_float64_fid():
    # oracle: numpy's float64 mean and covariance of the same float32 numbers, scipy's sqrtm (torch-fidelity
    # itself keeps the mean in float32, which moves its FID by about 1e-6 relative here)
    x, y = gaussian(3000, 64, 11).abs().float(), (gaussian(3000, 64, 12, shift=0.1).abs() * 1.1).float()
    a, b = x.double().numpy(), y.double().numpy()
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    expected = ((a.mean(0) - b.mean(0)) ** 2).sum() + np.trace(s1 + s2) - 2 * np.trace(scipy.linalg.sqrtm(s1 @ s2).real)
    assert fid(x, y) == pytest.approx(expected, rel=1e-7)


def test_equals_torch_fidelity():
    metric_fid = pytest.importorskip("torch_fidelity.metric_fid")
    x, y = gaussian(600, 64, 4), gaussian(500, 64, 5, shift=0.2, scale=1.2)
    stats = [metric_fid.fid_features_to_statistics(f) for f in (x, y)]
    theirs = metric_fid.fid_statistics_to_metric(*stats, verbose=False)["frechet_inception_distance"]
    assert fid(x, y) == pytest.approx(theirs, rel=1e-6)


def test_too_few_samples_and_rank_deficiency():
    with pytest.raises(GankitError, match="at least 2 samples"):
        fid(gaussian(1, 4, 6), gaussian(10, 4, 7))
    with pytest.warns(UserWarning, match="rank-deficient"):
        value = fid(gaussian(10, 16, 8), gaussian(10, 16, 9))
    assert np.isfinite(value) and value > 0


def test_statistics_file_roundtrip(tmp_path):
    mu, sigma = statistics(gaussian(100, 4, 10))
    save_statistics(tmp_path / "s.npz", mu, sigma)
    mu2, sigma2 = load_statistics(tmp_path / "s.npz")
    assert torch.equal(mu, mu2) and torch.equal(sigma, sigma2)
    np.savez(tmp_path / "bad.npz", m=np.zeros(3))
    with pytest.raises(GankitError, match="'mu' and 'sigma'"):
        load_statistics(tmp_path / "bad.npz")


def test_bad_features_give_one_line_errors():
    x = gaussian(20, 4, 0)
    with pytest.raises(GankitError, match="different dimensions"):
        fid(x, gaussian(20, 5, 1))
    for bad_value in (float("nan"), float("inf"), -float("inf")):
        bad = x.clone()
        bad[7, 1] = bad_value
        with pytest.raises(GankitError, match="NaN or Inf"):
            fid(x, bad)
    with pytest.raises(GankitError, match=r"shape \(N, d\)"):
        fid(x[0], x)
    mu, sigma = statistics(x)
    with pytest.raises(GankitError, match="NaN or Inf"):
        frechet_distance(mu, sigma, mu * float("nan"), sigma)


def test_singular_covariances_fall_back_to_the_symmetric_root():
    # a constant feature makes both covariances singular (no Cholesky factor): the eigh path gives the
    # closed form of the other dimensions
    x, y = gaussian(500, 3, 20), gaussian(500, 3, 21, scale=2.0)
    x[:, 0], y[:, 0] = 1.0, 1.0
    mu1, s1, mu2, s2 = (t.numpy() for t in (*statistics(x), *statistics(y)))
    covmean = scipy.linalg.sqrtm(s1[1:, 1:] @ s2[1:, 1:]).real
    expected = ((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean)
    assert fid(x, y) == pytest.approx(expected, rel=1e-9)


def test_mismatched_statistics_name_every_shape():
    mu3, mu2, s3, s2 = torch.zeros(3), torch.zeros(2), torch.eye(3), torch.eye(2)
    for args in ((mu3, s3, mu2, s3), (mu3, s3, mu3, s2), (mu3, s2, mu3, s2)):
        shapes = " / ".join(str(tuple(t.shape)) for t in args[::2]), " / ".join(str(tuple(t.shape)) for t in args[1::2])
        message = f"^FID statistics do not match: mu {shapes[0]}, sigma {shapes[1]}$".replace("(", r"\(").replace(
            ")", r"\)"
        )
        with pytest.raises(GankitError, match=message):
            frechet_distance(*args)
    for index, name in ((0, "mu"), (1, "sigma"), (2, "mu"), (3, "sigma")):
        args = [mu3, s3, mu3.clone(), s3.clone()]
        args[index] = args[index] * float("nan")
        with pytest.raises(GankitError, match=f"^FID statistics: {name} contains NaN or Inf; recompute it"):
            frechet_distance(*args)


def test_float32_statistics_are_evaluated_in_float64():
    mu1, sigma1 = statistics(gaussian(200, 6, 20))
    mu2, sigma2 = statistics(gaussian(200, 6, 21, shift=0.3, scale=1.5))
    single = [t.float() for t in (mu1, sigma1, mu2, sigma2)]
    expected = frechet_distance(*[t.double() for t in single])
    assert frechet_distance(*single) == expected


def test_feature_errors_name_the_set_and_the_expected_shape():
    x = gaussian(20, 4, 0)
    with pytest.raises(GankitError, match=r"^expected the first feature set of shape \(N, d\), got \(4,\)$"):
        fid(x[0], x)
    with pytest.raises(GankitError, match=r"^expected the second feature set of shape \(N, d\), got \(4,\)$"):
        fid(x, x[0])
    with pytest.raises(
        GankitError,
        match=r"^FID of feature sets of different dimensions \(4 and 5\); extract both sets with the same feature "
        r"extractor$",
    ):
        fid(x, gaussian(20, 5, 1))
    with pytest.raises(GankitError, match=r"^expected features of shape \(N, 7\), got \(20, 4\)$"):
        StreamingMoments(7).update(x)
    bad = x.clone()
    bad[0, 0] = float("inf")
    with pytest.raises(GankitError, match="^features: NaN or Inf values"):
        StreamingMoments(4).update(bad)


def test_half_precision_features_are_checked_and_accumulated_in_float32_or_better():
    x = gaussian(300, 3, 22).half()
    mu, sigma = statistics(x)
    expected = np.cov(x.double().numpy(), rowvar=False)
    np.testing.assert_allclose(sigma.numpy(), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(mu.numpy(), x.double().numpy().mean(0), rtol=1e-6, atol=1e-7)
    bad = x.clone()
    bad[3, 1] = float("inf")
    with pytest.raises(GankitError, match="NaN or Inf"):
        statistics(bad)


def test_two_samples_are_enough_and_fewer_than_dimensions_warn_at_the_caller(recwarn):
    _, sigma = statistics(gaussian(2, 1, 23))
    assert sigma.shape == (1, 1) and sigma.item() > 0
    with pytest.raises(
        GankitError, match=r"^FID needs at least 2 samples per set, got 1; generate or load more \(--n\)$"
    ):
        statistics(gaussian(1, 3, 24))
    statistics(gaussian(3, 3, 25))  # as many samples as dimensions: rank-deficient
    (warning,) = [w for w in recwarn if issubclass(w.category, UserWarning)]
    assert str(warning.message) == (
        "FID from 3 samples of 3-d features: the covariance is rank-deficient and the estimate strongly biased "
        "upwards; use more samples than feature dimensions"
    )
    # stacklevel: the line that called statistics(); under mutation testing mutmut's trampoline is that caller
    assert warning.filename == __file__ or warning.filename.endswith("mutmut/mutation/trampoline.py")


def test_overflowing_float32_covariance_is_a_one_line_error():
    huge = torch.full((4, 2), 3e38, dtype=torch.float32) * torch.tensor([[1.0], [-1.0], [1.0], [-1.0]])
    with pytest.raises(
        GankitError, match=r"^features too large for their float32 covariance \(it overflows\); rescale them$"
    ):
        statistics(huge)


class _Marker:
    """A picklable object; loading it from a statistics file would mean unpickling, i.e. running code."""


def test_statistics_files_holding_pickled_objects_are_refused(tmp_path):
    """Loading never executes code (pytorch-fid's .npz format holds plain arrays): an object array that only a
    pickle can hold is refused with the one-line error, not unpickled."""
    path = tmp_path / "pickled.npz"
    np.savez(path, mu=np.array([_Marker()], dtype=object), sigma=np.eye(1))
    with pytest.raises(GankitError, match=r"pickled\.npz: not an FID statistics file with arrays 'mu' and 'sigma'"):
        load_statistics(path)
