"""Write pickles the way chumpy-era SMPL files are written, without chumpy (for the tests)."""

import pickle
import sys
import types

import numpy as np


class FakeChumpyCh:
    """chumpy 0.70's Ch as the pickler sees it: class path chumpy.ch.Ch, state = __dict__
    without _parents/_cache (the array under 'x')."""

    def __init__(self, array: np.ndarray) -> None:
        self.__dict__.update(
            {"_dirty_vars": set(), "_itr": None, "_make_dense": False, "_make_sparse": False, "x": array}
        )

    def __getstate__(self) -> dict:
        return dict(self.__dict__)


def write_chumpy_pickle(path, contents: dict, monkeypatch) -> None:
    """Pickle ``contents`` (protocol 2, as SMPL's files) with FakeChumpyCh under chumpy's class
    path, then remove the fake modules again."""
    with monkeypatch.context() as patch:
        package, module = types.ModuleType("chumpy"), types.ModuleType("chumpy.ch")
        FakeChumpyCh.__module__, FakeChumpyCh.__qualname__, FakeChumpyCh.__name__ = "chumpy.ch", "Ch", "Ch"
        module.Ch = FakeChumpyCh
        package.ch = module
        patch.setitem(sys.modules, "chumpy", package)
        patch.setitem(sys.modules, "chumpy.ch", module)
        with open(path, "wb") as handle:
            pickle.dump(contents, handle, protocol=2)
    assert "chumpy" not in sys.modules
