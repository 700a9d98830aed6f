"""A frozen encoder's outputs, shared by the runs that show it the same images.

With ``freeze_encoder`` the encoder is a fixed function of its input, and every configuration
of a study's seed trains on the same batches (the same crops in the same order): the first run
of a seed computes the encoder's output, the others read it instead of recomputing it (the
encoder's forward pass is most of a frozen step on a CPU; ``benchmarks/encoder_features.py``
measures it).

What is stored can only be used where the encoder would have computed it, bit for bit: a
batch's features are keyed by a hash of its images' bytes, inside a folder named by a hash of
everything else the output depends on — the encoder's weights and BatchNorm statistics, the
run's precision (bf16 or not, memory format), the device type, and the torch version. Each
run adds the batches it computed as one file (written atomically, whenever the run writes a
checkpoint); a run loads the folder's files when it starts. Deleting the folder only costs time.
"""

from __future__ import annotations

import hashlib
import secrets
import warnings
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from hybridlib.atomic_write import atomic_write
from hybridlib.precision import PrecisionChoice

FILE_SUFFIX = ".features.pt"


def _digest(*parts: bytes) -> str:
    digest = hashlib.blake2b(digest_size=16)
    for part in parts:
        digest.update(part)
    return digest.hexdigest()


def _tensor_bytes(tensor: torch.Tensor) -> bytes:
    return tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()


def encoder_key(encoder: nn.Module, precision: PrecisionChoice, device: torch.device) -> str:
    """Hex hash of what a frozen encoder's output depends on besides its input."""
    state = encoder.state_dict()
    names = ";".join(f"{name}:{tuple(value.shape)}:{value.dtype}" for name, value in state.items())
    setting = f"{precision.precision}|{precision.channels_last}|{device.type}|{torch.__version__}|{names}"
    return _digest(setting.encode(), *(_tensor_bytes(value) for value in state.values()))


class EncoderFeatureStore:
    """The stored outputs of one frozen encoder (see the module docstring); ``folder`` holds one
    sub-folder per encoder key. ``hits`` and ``misses`` count the batches read and computed."""

    def __init__(self, folder: str | Path, encoder: nn.Module, precision: PrecisionChoice, device: torch.device):
        self.folder = Path(folder) / encoder_key(encoder, precision, device)
        self.device = device
        self.known: dict[str, torch.Tensor] = {}
        for path in sorted(self.folder.glob(f"*{FILE_SUFFIX}")):
            try:
                self.known.update(torch.load(path, map_location="cpu", weights_only=True))
            except Exception as error:  # what it held is computed again
                reason = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
                warnings.warn(f"skipped unreadable encoder features {path} ({reason}); delete it", stacklevel=2)
        self.added: dict[str, torch.Tensor] = {}
        self.hits = 0
        self.misses = 0

    def features(self, images: torch.Tensor, encode: Callable[[], torch.Tensor]) -> torch.Tensor:
        """The encoder's output for ``images`` (B,3,S,S): stored, or ``encode()`` (then stored)."""
        key = _digest(f"{tuple(images.shape)}{images.dtype}".encode(), _tensor_bytes(images))
        stored = self.known.get(key)
        if stored is not None:
            self.hits += 1
            return stored.to(self.device)
        self.misses += 1
        features = encode().detach()
        self.added[key] = self.known[key] = features.cpu()
        return features

    def save(self) -> None:
        """Write the batches computed since the last save, as one new file of the folder."""
        if self.added:
            path = self.folder / f"{secrets.token_hex(8)}{FILE_SUFFIX}"
            added = self.added
            atomic_write(path, lambda handle: torch.save(added, handle), "encoder features")
            self.added = {}
