"""Restricted unpicklers for the two kinds of pickles hybridlib reads.

A pickle can name any importable callable and have it called while loading. These loaders
resolve every global the file names against a short allow-list *before* anything is
called, and refuse the file otherwise.

- :func:`load_numpy_pickle` (MoSh pose/shape sets): numpy arrays, dtypes and scalars only,
  inside plain containers.
- :func:`load_smpl_pickle` (licensed SMPL model files): additionally chumpy's array objects
  — replaced by inert stand-ins and converted to numpy, so chumpy (which does not import on
  current numpy) is never needed — and the ``scipy.sparse`` matrix classes SMPL uses for
  ``J_regressor``. chumpy 0.70/0.71's ``Ch.__getstate__`` pickles the object's ``__dict__``
  without ``_parents``/``_cache``: the array is its ``x`` entry, next to ``_dirty_vars`` (a
  ``set``), ``_itr``, ``_make_dense`` and ``_make_sparse``.

Both read Python-2-era files (protocol 2, ``encoding="latin1"``): Python 2 module names
(``copy_reg``, ``__builtin__``, ``numpy.core``) are mapped to their current homes here.
"""

from __future__ import annotations

import copyreg
import pickle
from pathlib import Path
from typing import BinaryIO

import numpy as np
import scipy.sparse


class UnsafePickleError(ValueError):
    """A pickle that names a global outside the allow-list (it could run code); nothing in it
    was called."""


_NUMPY_MULTIARRAY = np._core.multiarray
_NUMPY_GLOBALS: dict[tuple[str, str], object] = {}
for _module in ("numpy.core.multiarray", "numpy._core.multiarray"):
    _NUMPY_GLOBALS[(_module, "_reconstruct")] = _NUMPY_MULTIARRAY._reconstruct
    _NUMPY_GLOBALS[(_module, "scalar")] = _NUMPY_MULTIARRAY.scalar
for _module in ("numpy.core.numeric", "numpy._core.numeric"):
    _NUMPY_GLOBALS[(_module, "_frombuffer")] = np._core.numeric._frombuffer
_NUMPY_GLOBALS[("numpy", "ndarray")] = np.ndarray
_NUMPY_GLOBALS[("numpy", "dtype")] = np.dtype


def _latin1_bytes(text: str, encoding: str = "latin1") -> bytes:
    """What Python 3 pickles of ``bytes`` call at protocol ≤ 2 (``_codecs.encode``), restricted to latin-1."""
    if encoding not in ("latin1", "latin-1") or not isinstance(text, str):
        raise UnsafePickleError(
            f"refused _codecs.encode with encoding {encoding!r}: only latin-1 text → bytes is allowed"
        )
    return text.encode("latin1")


_NUMPY_GLOBALS[("_codecs", "encode")] = _latin1_bytes

_SPARSE_GLOBALS: dict[tuple[str, str], object] = {}
for _format in ("csc", "csr", "coo"):
    _matrix_class = getattr(scipy.sparse, f"{_format}_matrix")
    for _module in (f"scipy.sparse.{_format}", f"scipy.sparse._{_format}", "scipy.sparse"):
        _SPARSE_GLOBALS[(_module, f"{_format}_matrix")] = _matrix_class

_OBJECT_GLOBALS: dict[tuple[str, str], object] = {
    ("copy_reg", "_reconstructor"): copyreg._reconstructor,
    ("copyreg", "_reconstructor"): copyreg._reconstructor,
    ("__builtin__", "object"): object,
    ("builtins", "object"): object,
    ("__builtin__", "set"): set,
    ("builtins", "set"): set,
}

_SMPL_FIX = (
    "Pass the licensed SMPL file as downloaded from the SMPL website (SMPL_NEUTRAL.pkl, "
    "SMPL_MALE.pkl, SMPL_FEMALE.pkl or basicModel_*_lbs_10_207_0_v1.0.0.pkl), or leave the body "
    "model unset to use the embedded open model."
)


class ChumpyArrayStandIn:
    """Inert stand-in for a chumpy object: it only keeps the pickled state (a dict)."""

    chumpy_class = "chumpy.ch.Ch"

    def __setstate__(self, state: object) -> None:
        self.state = state


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(
        self, file: BinaryIO, path: Path, allowed: dict[tuple[str, str], object], allow_chumpy: bool, fix: str
    ) -> None:
        super().__init__(file, encoding="latin1")
        self._path = path
        self._allowed = allowed
        self._allow_chumpy = allow_chumpy
        self._fix = fix
        self._stand_in_classes: dict[str, type] = {}

    def find_class(self, module: str, name: str) -> object:
        if (module, name) in self._allowed:
            return self._allowed[(module, name)]
        if self._allow_chumpy and (module == "chumpy" or module.startswith("chumpy.")):
            qualified = f"{module}.{name}"
            if qualified not in self._stand_in_classes:
                self._stand_in_classes[qualified] = type(name, (ChumpyArrayStandIn,), {"chumpy_class": qualified})
            return self._stand_in_classes[qualified]
        raise UnsafePickleError(
            f"refused to load {self._path}: it references {module}.{name}, which is not allowed in this "
            f"file type (loading it could run code; nothing was executed). {self._fix}"
        )


def _load(path: str | Path, allowed: dict[tuple[str, str], object], allow_chumpy: bool, what: str, fix: str) -> object:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} not found: {path}. {fix}")
    with open(path, "rb") as handle:
        try:
            return _RestrictedUnpickler(handle, path, allowed, allow_chumpy, fix).load()
        except UnsafePickleError:
            raise
        except Exception as error:  # truncated or corrupt files raise many different types
            raise ValueError(
                f"cannot read {what} {path}: the pickle is truncated or corrupt ({type(error).__name__}: {error}). "
                f"{fix}"
            ) from error


def load_numpy_pickle(path: str | Path) -> object:
    """Load a pickle of numpy arrays in plain containers (MoSh style); refuse anything else."""
    fix = "MoSh pickles hold numpy arrays only; re-export the file with numpy arrays (or as an AMASS-style .npz)."
    return _load(path, _NUMPY_GLOBALS, allow_chumpy=False, what="pose/shape pickle", fix=fix)


def _chumpy_to_numpy(value: object, path: Path, key: str) -> object:
    if not isinstance(value, ChumpyArrayStandIn):
        return value
    state = getattr(value, "state", None)
    array = state.get("x") if isinstance(state, dict) else None
    if not isinstance(array, np.ndarray):
        raise ValueError(
            f"{path}: '{key}' is a {value.chumpy_class} object without a stored array; chumpy expressions cannot be "
            f"evaluated without chumpy. {_SMPL_FIX}"
        )
    return array


def load_smpl_pickle(path: str | Path) -> dict[str, object]:
    """Load a licensed SMPL model pickle without chumpy.

    Returns its dict with every chumpy array converted to ``np.ndarray``; sparse matrices
    (``J_regressor``) stay ``scipy.sparse`` matrices.
    """
    path = Path(path)
    allowed = {**_NUMPY_GLOBALS, **_SPARSE_GLOBALS, **_OBJECT_GLOBALS}
    contents = _load(path, allowed, allow_chumpy=True, what="SMPL model file", fix=_SMPL_FIX)
    if not isinstance(contents, dict):
        raise ValueError(f"{path} holds a {type(contents).__name__}, not the dict of an SMPL model file. {_SMPL_FIX}")
    return {str(key): _chumpy_to_numpy(value, path, str(key)) for key, value in contents.items()}
