import itertools

import pytest
import torch

from gankit.data.streams import EpochBatchSampler, ImageStream, TensorImages
from gankit.errors import GankitError


def test_each_epoch_is_a_permutation():
    sampler = EpochBatchSampler(10, 5, seed=3)
    batches = list(itertools.islice(iter(sampler), 6))
    for epoch in range(3):
        assert sorted(batches[2 * epoch] + batches[2 * epoch + 1]) == list(range(10))
    assert batches[0] != batches[2]


def test_restart_anywhere_matches_continuing():
    straight = list(itertools.islice(iter(EpochBatchSampler(11, 3, seed=1)), 12))
    restarted = list(itertools.islice(iter(EpochBatchSampler(11, 3, seed=1, start=5)), 7))
    assert restarted == straight[5:]


def test_image_stream_resumes_exactly():
    images = torch.arange(20 * 4, dtype=torch.uint8).view(20, 1, 2, 2)
    stream = ImageStream(TensorImages(images, torch.arange(20)), 4, 0, torch.device("cpu"))
    for _ in range(7):
        stream.next()
    state = stream.state_dict()
    expected = [stream.next() for _ in range(4)]
    clone = ImageStream(TensorImages(images, torch.arange(20)), 4, 0, torch.device("cpu"))
    clone.load_state_dict(state)
    for (x, y), (x2, y2) in zip(expected, [clone.next() for _ in range(4)], strict=True):
        assert torch.equal(x, x2) and torch.equal(y, y2)
    assert expected[0][0].min() >= -1 and expected[0][0].max() <= 1


def test_batch_larger_than_data():
    with pytest.raises(GankitError, match="lower train.batch_size"):
        ImageStream(TensorImages(torch.zeros(3, 1, 2, 2, dtype=torch.uint8), None), 4, 0, torch.device("cpu"))
