"""Datasets: readers for LSP, LSP extended, UP-S1h and MoSh/AMASS as released, the sample
schema and torch Dataset with the authors' augmentation, and (in
:mod:`hybridlib.data.generate`) a generated stand-in in the same formats with 3D truth."""

from hybridlib.data.dataset import (
    Batch,
    DataConfig,
    KeypointDataset,
    Sample,
    build_dataset,
    collate_samples,
    set_dataset_epoch,
)
from hybridlib.data.errors import DatasetFormatError
from hybridlib.data.lsp import KeypointSet, read_lsp, read_lspet
from hybridlib.data.mocap import MocapSet, read_mocap_folder
from hybridlib.data.transforms import AugmentationConfig

__all__ = [
    "AugmentationConfig",
    "Batch",
    "DataConfig",
    "DatasetFormatError",
    "KeypointDataset",
    "KeypointSet",
    "MocapSet",
    "Sample",
    "build_dataset",
    "collate_samples",
    "read_lsp",
    "read_lspet",
    "read_mocap_folder",
    "set_dataset_epoch",
]
