"""A run's order of images: full shuffled batches per epoch, the same global batches for any
number of processes, and a resumed iteration that continues where an uninterrupted one would."""

from __future__ import annotations

import pytest
import torch

from hybridlib.training.batches import EpochBatchSampler, EpochKeyedDataset, epoch_batches
from hybridlib.training.distributed import DistributedContext


class _Items(torch.utils.data.Dataset):
    """``size`` items; each item is (the epoch set last, its index)."""

    def __init__(self, size: int) -> None:
        self.size, self.epoch = size, 0

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int) -> tuple[int, int]:
        return self.epoch, index

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch


@pytest.mark.parametrize("size", [20, 23])
def test_an_epoch_is_full_batches_of_distinct_indices(size):
    for epoch in range(3):
        batches = epoch_batches(_Items(size), 4, seed=0, epoch=epoch, context=DistributedContext())
        assert len(batches) == size // 4 and all(len(batch) == 4 for batch in batches)  # the remainder is dropped
        indices = [index for batch in batches for index in batch]
        assert len(set(indices)) == len(indices) and set(indices) <= set(range(size))


def test_the_order_depends_on_seed_and_epoch_only():
    def order(seed, epoch):
        return epoch_batches(_Items(40), 8, seed=seed, epoch=epoch, context=DistributedContext())

    assert order(0, 1) == order(0, 1)
    assert order(0, 1) != order(0, 2) and order(0, 1) != order(1, 1)


@pytest.mark.parametrize("size", [20, 23, 26])
def test_global_batches_are_the_same_for_one_process_and_for_two(size):
    for epoch in range(2):
        alone = epoch_batches(_Items(size), 4, seed=3, epoch=epoch, context=DistributedContext())
        rank_0, rank_1 = (
            epoch_batches(_Items(size), 4, seed=3, epoch=epoch, context=DistributedContext(world_size=2, rank=rank))
            for rank in (0, 1)
        )
        assert len(rank_0) == len(rank_1) == len(alone)
        for batch, first, second in zip(alone, rank_0, rank_1, strict=True):
            assert len(first) == len(second) == 2 and not set(first) & set(second)
            assert sorted(first + second) == sorted(batch)  # the same images in global batch k
            # as torch's DistributedSampler deals them: rank r takes every other image from r
            assert (first, second) == (batch[0::2], batch[1::2])


def _keys(start_epoch: int, start_batch: int, context: DistributedContext):
    sampler = EpochBatchSampler(_Items(22), 4, 5, 3, context, start_epoch=start_epoch, start_batch=start_batch)
    return list(sampler)


@pytest.mark.parametrize("context", [DistributedContext(), DistributedContext(world_size=2, rank=1)])
def test_a_resumed_sampler_gives_the_keys_an_uninterrupted_one_gives_from_there(context):
    straight = _keys(0, 0, context)
    per_epoch = 22 // 4
    assert len(straight) == 3 * per_epoch
    for epoch in range(3):
        batches = epoch_batches(_Items(22), 4, 5, epoch, context)
        assert straight[epoch * per_epoch : (epoch + 1) * per_epoch] == [[(epoch, i) for i in b] for b in batches]
    for start_epoch, start_batch in ((0, 3), (1, 0), (1, 2), (2, per_epoch - 1)):
        assert _keys(start_epoch, start_batch, context) == straight[start_epoch * per_epoch + start_batch :]
    assert _keys(2, per_epoch, context) == [] and _keys(3, 0, context) == []  # resumed at the very end


def test_keyed_items_set_the_epoch_of_the_dataset_they_read():
    items = _Items(5)
    keyed = EpochKeyedDataset(items)
    assert len(keyed) == 5
    assert keyed[(2, 4)] == (2, 4) and keyed[(0, 1)] == (0, 1) and items.epoch == 0
    subset = EpochKeyedDataset(torch.utils.data.Subset(items, [3, 4]))
    assert subset[(7, 0)] == (7, 3)  # through the wrapper
