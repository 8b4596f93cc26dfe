import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import confusion_matrix
from sklearn.model_selection import train_test_split

from gankit.errors import GankitError
from gankit.metrics.conditional import (
    classwise_precision_recall,
    conditional_report,
    intra_fid,
    per_class_kid,
    sample_accuracy,
)
from gankit.metrics.fid import fid
from gankit.metrics.kid import kid
from gankit.metrics.precision_recall import precision_recall


@pytest.fixture(scope="module")
def digits_classifier():
    x, y = load_digits(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(x / 16, y, test_size=0.3, random_state=0, stratify=y)
    classifier = LogisticRegression(max_iter=200).fit(x_train, y_train)
    return classifier, x_test, y_test


def test_accuracy_of_real_test_images_is_the_classifiers_own_test_accuracy(digits_classifier):
    classifier, x_test, y_test = digits_classifier
    logits = torch.from_numpy(classifier.decision_function(x_test))
    result = sample_accuracy(logits, torch.from_numpy(y_test), 10)
    assert result["accuracy"] == pytest.approx(classifier.score(x_test, y_test), abs=1e-12)
    assert 0.9 < result["accuracy"] < 1.0 and result["n"] == len(y_test)
    predictions = torch.from_numpy(classifier.predict(x_test))
    assert sample_accuracy(predictions, torch.from_numpy(y_test), 10) == result  # labels work like logits
    np.testing.assert_array_equal(
        np.array(result["confusion"]), confusion_matrix(y_test, predictions.numpy(), labels=range(10))
    )
    for c in range(10):
        in_c = y_test == c
        assert result["per_class_accuracy"][c] == pytest.approx((predictions.numpy()[in_c] == c).mean())
    # the same images announced as class c + 1: almost nothing is classified as intended
    shifted = sample_accuracy(logits, torch.from_numpy((y_test + 1) % 10), 10)
    assert shifted["accuracy"] < 0.02
    np.testing.assert_array_equal(np.array(shifted["confusion"]).sum(0), np.array(result["confusion"]).sum(0))


def test_confusion_matrix_matches_scikit_learn_with_an_empty_class():
    generator = torch.Generator().manual_seed(0)
    intended = torch.randint(0, 4, (300,), generator=generator)  # class 4 never intended
    predicted = torch.randint(0, 5, (300,), generator=generator)
    result = sample_accuracy(predicted, intended, 5)
    expected = confusion_matrix(intended.numpy(), predicted.numpy(), labels=range(5))
    np.testing.assert_array_equal(np.array(result["confusion"]), expected)
    assert result["accuracy"] == pytest.approx(np.trace(expected) / 300)
    assert result["per_class_accuracy"][4] is None


@pytest.mark.slow
def test_accuracy_with_gankits_own_digits_classifier():
    from gankit.config import DataConfig
    from gankit.data import load_image_dataset
    from gankit.metrics.features.classifier import train_classifier

    model, record = train_classifier("digits", 16, seed=0, epochs=3)
    data, _ = load_image_dataset(DataConfig(name="digits", resolution=16, split="train"))
    order = torch.randperm(len(data.images), generator=torch.Generator().manual_seed(0))
    held_out = order[: record["heldout"]]  # the classifier's held-out split, as train_classifier draws it
    with torch.no_grad():
        logits = model(data.images[held_out].float() / 127.5 - 1)
    labels = data.labels[held_out]
    assert sample_accuracy(logits, labels, 10)["accuracy"] == pytest.approx(record["accuracy"], abs=1e-6)
    assert sample_accuracy(logits, (labels + 1) % 10, 10)["accuracy"] < 0.1


def class_gaussians(n_per_class: int, classes: int, dim: int, seed: int, shift: float = 0.0):
    """Features whose mean depends on the class (class c centred at 10 e_c, plus ``shift``), unit variance."""
    generator = torch.Generator().manual_seed(seed)
    labels = torch.arange(classes).repeat_interleave(n_per_class)
    means = 10 * torch.eye(classes, dim)
    features = torch.randn(len(labels), dim, generator=generator, dtype=torch.float64) + means[labels] + shift
    return features, labels


def test_intra_fid_is_the_mean_of_per_class_fids_and_sees_swapped_labels():
    real, real_y = class_gaussians(60, 3, 4, seed=0)
    fake, fake_y = class_gaussians(50, 3, 4, seed=1)
    result = intra_fid(real, real_y, fake, fake_y)
    per_class = [fid(real[real_y == c], fake[fake_y == c]) for c in range(3)]
    assert result["per_class_fid"] == pytest.approx(per_class, rel=1e-12)
    assert result["intra_fid"] == pytest.approx(sum(per_class) / 3, rel=1e-12)
    assert result["n_real_per_class"] == [60] * 3 and result["n_fake_per_class"] == [50] * 3
    # right images for the wrong label: the pooled FID cannot tell, intra-FID can
    swapped = intra_fid(real, real_y, fake, (fake_y + 1) % 3)
    assert fid(real, fake) < 1.0 and result["intra_fid"] < 1.0 and swapped["intra_fid"] > 10


def test_intra_fid_warns_once_when_classes_are_smaller_than_the_feature_dimension():
    real, real_y = class_gaussians(5, 2, 8, seed=2)
    with pytest.warns(UserWarning, match="as few as 5 samples per class") as record:
        intra_fid(real, real_y, real, real_y)
    assert len(record) == 1


def test_per_class_kid_equals_kid_per_class_with_intervals():
    real, real_y = class_gaussians(40, 3, 5, seed=3)
    fake, fake_y = class_gaussians(30, 3, 5, seed=4, shift=0.5)
    result = per_class_kid(real, real_y, fake, fake_y, subsets=5, seed=7)
    assert result["subset_size"] == 30
    for c in range(3):
        expected = kid(real[real_y == c], fake[fake_y == c], 5, 30, 7)
        assert result["per_class"][c] == pytest.approx(expected)
    mean = np.mean([r["kid_mean"] for r in result["per_class"]])
    assert result["kid_mean"] == pytest.approx(mean)
    assert result["kid_ci_low"] < result["kid_mean"] < result["kid_ci_high"]
    same = per_class_kid(real, real_y, real, real_y, subsets=5, subset_size=20)
    assert abs(same["kid_mean"]) < result["kid_mean"]


def test_classwise_precision_recall_shows_a_dropped_class():
    real, real_y = class_gaussians(40, 3, 3, seed=5)
    fake, fake_y = class_gaussians(40, 3, 3, seed=6)
    # the generator draws class 1's samples from class 2: class 1 is dropped
    dropped = fake.clone()
    dropped[fake_y == 1] = fake[fake_y == 2]
    result = classwise_precision_recall(real, real_y, dropped, fake_y)
    for c in range(3):
        expected = precision_recall(real[real_y == c], dropped[fake_y == c])
        assert result["per_class_precision"][c] == expected["precision"]
        assert result["per_class_recall"][c] == expected["recall"]
    assert result["per_class_recall"][1] < 0.1 and result["per_class_recall"][0] > 0.6
    assert result["recall"] == pytest.approx(np.mean(result["per_class_recall"]))


def test_bad_input_is_a_one_line_error():
    real, real_y = class_gaussians(10, 3, 4, seed=7)
    with pytest.raises(GankitError, match=r"fake labels: labels must lie in \[0, 2\]"):
        intra_fid(real, real_y, real, real_y + 1)
    with pytest.raises(GankitError, match="9 labels for 30 samples"):
        intra_fid(real, real_y, real, real_y[:9])
    few = torch.cat([real_y[:10], real_y[10:21]])  # class 2 has 1 sample
    with pytest.raises(GankitError, match="class 2 has 1 fake sample.*at least 2 per class"):
        intra_fid(real, real_y, real[:21], few)
    with pytest.raises(GankitError, match="class 2 has 1 fake sample.*at least 4 per class"):
        classwise_precision_recall(real, real_y, real[:21], few)
    with pytest.raises(GankitError, match="differ in dimension"):
        per_class_kid(real, real_y, real[:, :3], real_y)
    with pytest.raises(GankitError, match="1-d integer tensor"):
        intra_fid(real, real_y.float(), real, real_y, num_classes=3)
    with pytest.raises(GankitError, match="gives 4 scores per sample for 3 classes"):
        sample_accuracy(torch.randn(5, 4), torch.zeros(5, dtype=torch.long), 3)
    with pytest.raises(GankitError, match="intended labels: 4 labels for 5 samples"):
        sample_accuracy(torch.randn(5, 3), torch.zeros(4, dtype=torch.long), 3)
    with pytest.raises(GankitError, match=r"intended labels: labels must lie in \[0, 2\]"):
        sample_accuracy(torch.randn(2, 3), torch.tensor([0, 3]), 3)


def test_an_unconditional_generator_that_misses_classes_gets_its_per_class_metrics_skipped_not_an_error():
    """The classifier's predictions stand in for an unconditional generator's labels; a collapsed model leaves
    classes empty, and then the per-class numbers are undefined, while its FID / KID still are."""
    real, real_y = class_gaussians(40, 3, 4, seed=0)
    fake, _ = class_gaussians(30, 3, 4, seed=1)
    logits = torch.zeros(90, 3)
    logits[:, 0] = 1.0  # every sample predicted as class 0
    logits[0, 1] = logits[1, 1] = 5.0  # two in class 1, none in class 2
    out = conditional_report(real, real_y, fake, logits, None, 3, ("fid", "kid", "pr"))
    assert "1, 2" in out["per_class_skipped"] and "fewer than 4" in out["per_class_skipped"]
    assert "intra_fid" not in out and "classwise_precision" not in out
    # enough predicted samples in every class: the per-class numbers are those of the predicted labels
    logits = torch.nn.functional.one_hot(torch.arange(90) % 3, 3).float()
    out = conditional_report(real, real_y, fake, logits, None, 3, ("fid",))
    assert "per_class_skipped" not in out
    assert out["intra_fid"] == pytest.approx(intra_fid(real, real_y, fake, torch.arange(90) % 3)["intra_fid"])
    # conditional samples (labels given) with an empty class stay a one-line error: the caller asked for them
    with pytest.raises(GankitError, match="class 2"):
        conditional_report(real, real_y, fake, None, torch.arange(90) % 2, 3, ("fid",))
