"""The order in which a run sees its images: each epoch a shuffled order of the training set
(a DistributedSampler: one process takes all of it, N processes a slice each), cut into full
batches. Global batch k of an epoch is the same for any number of processes, and a resumed
run starts at the batch after its checkpoint. One DataLoader serves the whole run: its items
are keyed by (epoch, index), so each epoch's augmentation stream is set inside whichever
worker reads the item and the workers start once, not once per epoch.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import torch

from hybridlib.data import AugmentationConfig, DataConfig, Sample, build_dataset, collate_samples, set_dataset_epoch
from hybridlib.training.config import TrainConfig
from hybridlib.training.distributed import DistributedContext


def epoch_batches(
    dataset: torch.utils.data.Dataset, global_batch_size: int, seed: int, epoch: int, context: DistributedContext
) -> list[list[int]]:
    """This process's share of each full batch of one epoch, in order (``global_batch_size /
    world_size`` indices each)."""
    sampler = torch.utils.data.DistributedSampler(
        dataset, num_replicas=context.world_size, rank=context.rank, shuffle=True, seed=seed, drop_last=True
    )
    sampler.set_epoch(epoch)
    order = list(sampler)
    per_process = global_batch_size // context.world_size
    return [order[start : start + per_process] for start in range(0, len(order) - per_process + 1, per_process)]


class EpochKeyedDataset(torch.utils.data.Dataset):
    """Items keyed by (epoch, index): the epoch sets the dataset's augmentation stream."""

    def __init__(self, dataset: torch.utils.data.Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key: tuple[int, int]) -> Sample:
        epoch, index = key
        set_dataset_epoch(self.dataset, epoch)
        return self.dataset[index]


class EpochBatchSampler:
    """This process's batches of (epoch, index) keys from ``start_epoch`` / ``start_batch`` to
    the end of epoch ``epochs - 1``."""

    def __init__(
        self,
        dataset: torch.utils.data.Dataset,
        batch_size: int,
        seed: int,
        epochs: int,
        context: DistributedContext,
        start_epoch: int,
        start_batch: int,
    ) -> None:
        self.dataset, self.batch_size, self.seed, self.epochs, self.context = dataset, batch_size, seed, epochs, context
        self.start_epoch, self.start_batch = start_epoch, start_batch

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        for epoch in range(self.start_epoch, self.epochs):
            batches = epoch_batches(self.dataset, self.batch_size, self.seed, epoch, self.context)
            for batch in batches[self.start_batch if epoch == self.start_epoch else 0 :]:
                yield [(epoch, index) for index in batch]


def run_loader(
    dataset: torch.utils.data.Dataset,
    config: TrainConfig,
    context: DistributedContext,
    start_epoch: int,
    start_batch: int,
    device: torch.device,
) -> torch.utils.data.DataLoader:
    """The one DataLoader of a run, from (start_epoch, start_batch) to its last epoch: collated
    :class:`~hybridlib.data.Batch` es, pinned for a CUDA device."""
    return torch.utils.data.DataLoader(
        EpochKeyedDataset(dataset),
        batch_sampler=EpochBatchSampler(
            dataset, config.batch_size, config.seed, config.epochs, context, start_epoch, start_batch
        ),
        num_workers=config.num_workers,
        collate_fn=collate_samples,
        generator=torch.Generator().manual_seed(config.seed),  # keeps the global RNG untouched
        pin_memory=device.type == "cuda",
    )


def training_set(config: TrainConfig) -> torch.utils.data.Dataset:
    """The run's training images: LSP train (+ LSP extended), augmented as configured, the first
    ``max_images`` of them when set; refused when fewer than one batch. Silhouettes are read only
    for a run with L_mr (w_mr > 0)."""
    augmentation = AugmentationConfig(image_size=config.image_size, augment=config.augment)
    data = DataConfig(
        root=Path(config.data_root),
        use_lspet=config.use_lspet,
        use_silhouettes=config.w_mr > 0,
        augmentation=augmentation,
    )
    dataset = build_dataset(data, "train", seed=config.seed)
    if config.max_images is not None:
        dataset = torch.utils.data.Subset(dataset, range(min(config.max_images, len(dataset))))
    if len(dataset) < config.batch_size:
        raise ValueError(
            f"{len(dataset)} training images are fewer than one batch of {config.batch_size}: "
            "lower batch_size or add data"
        )
    return dataset
