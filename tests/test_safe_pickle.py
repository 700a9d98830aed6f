"""Restricted unpicklers: SMPL pickles load without chumpy; code-carrying pickles are refused
and nothing runs."""

import importlib
import pickle

import numpy as np
import pytest
import scipy.sparse
from chumpy_pickles import FakeChumpyCh, write_chumpy_pickle
from pickle_payloads import Evaluates, OpensAFile, WritesAFile

from hybridlib.safe_pickle import UnsafePickleError, load_numpy_pickle, load_smpl_pickle


def smpl_like_contents(rng: np.random.Generator, num_vertices: int = 30) -> dict:
    return {
        "v_template": rng.normal(size=(num_vertices, 3)),
        "shapedirs": rng.normal(size=(num_vertices, 3, 10)),
        "posedirs": rng.normal(size=(num_vertices, 3, 207)),
        "J_regressor": scipy.sparse.random(24, num_vertices, density=0.2, format="csc", random_state=0),
        "weights": rng.dirichlet(np.ones(24), size=num_vertices),
        "kintree_table": np.array(
            [
                [4294967295, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21],
                list(range(24)),
            ]
        ),
        "f": rng.integers(0, num_vertices, size=(40, 3)).astype(np.uint32),
        "bs_style": "lbs",
        "bs_type": "lrotmin",
    }


def test_chumpy_style_smpl_pickle_loads_without_chumpy(tmp_path, monkeypatch):
    contents = smpl_like_contents(np.random.default_rng(0))
    chumpy_keys = ("v_template", "shapedirs", "weights")
    write_chumpy_pickle(
        tmp_path / "SMPL_NEUTRAL.pkl",
        {**contents, **{key: FakeChumpyCh(contents[key]) for key in chumpy_keys}},
        monkeypatch,
    )
    assert b"chumpy.ch\nCh" in (tmp_path / "SMPL_NEUTRAL.pkl").read_bytes()
    with pytest.raises(ImportError):
        importlib.import_module("chumpy")

    loaded = load_smpl_pickle(tmp_path / "SMPL_NEUTRAL.pkl")
    for key in ("v_template", "shapedirs", "weights", "posedirs", "kintree_table", "f"):
        assert type(loaded[key]) is np.ndarray, key
        np.testing.assert_array_equal(loaded[key], contents[key])
    assert scipy.sparse.issparse(loaded["J_regressor"])
    np.testing.assert_array_equal(loaded["J_regressor"].toarray(), contents["J_regressor"].toarray())
    assert loaded["bs_style"] == "lbs"


def test_python2_module_paths_of_old_smpl_files_are_understood(tmp_path, monkeypatch):
    contents = smpl_like_contents(np.random.default_rng(1))
    write_chumpy_pickle(
        tmp_path / "model.pkl", {**contents, "v_template": FakeChumpyCh(contents["v_template"])}, monkeypatch
    )
    data = (tmp_path / "model.pkl").read_bytes()
    # SMPL's files were written by Python 2 with old scipy/numpy: rewrite the class paths so
    # (protocol 2 GLOBAL opcodes are newline-terminated text, so this is a faithful edit)
    data = data.replace(b"scipy.sparse._csc\ncsc_matrix", b"scipy.sparse.csc\ncsc_matrix")
    data = data.replace(b"numpy._core.multiarray\n", b"numpy.core.multiarray\n")
    assert b"scipy.sparse.csc\ncsc_matrix" in data and b"numpy.core.multiarray\n_reconstruct" in data
    assert b"__builtin__\nset" in data  # chumpy's _dirty_vars, as Python 2 names it
    (tmp_path / "model.pkl").write_bytes(data)
    loaded = load_smpl_pickle(tmp_path / "model.pkl")
    np.testing.assert_array_equal(loaded["v_template"], contents["v_template"])
    np.testing.assert_array_equal(loaded["J_regressor"].toarray(), contents["J_regressor"].toarray())


@pytest.mark.parametrize("payload", [WritesAFile, OpensAFile, Evaluates])
@pytest.mark.parametrize("loader", [load_numpy_pickle, load_smpl_pickle])
def test_pickles_that_would_run_code_are_refused_and_nothing_runs(tmp_path, payload, loader):
    marker = tmp_path / "pwned"
    with open(tmp_path / "evil.pkl", "wb") as handle:
        pickle.dump({"poses": np.zeros((1, 72)), "betas": payload(marker)}, handle, protocol=2)
    with pytest.raises(UnsafePickleError, match=r"evil\.pkl.*nothing was executed") as error:
        loader(tmp_path / "evil.pkl")
    assert any(name in str(error.value) for name in ("system", "open", "eval"))
    assert not marker.exists()


def test_numpy_mode_reads_mosh_pickles_and_refuses_chumpy(tmp_path, monkeypatch):
    poses = np.random.default_rng(2).normal(size=(3, 72))
    with open(tmp_path / "mosh.pkl", "wb") as handle:
        pickle.dump({"poses": poses, "betas": np.arange(10.0), "gender": "male"}, handle, protocol=2)
    loaded = load_numpy_pickle(tmp_path / "mosh.pkl")
    np.testing.assert_array_equal(loaded["poses"], poses)
    write_chumpy_pickle(tmp_path / "chumpy.pkl", {"poses": FakeChumpyCh(poses)}, monkeypatch)
    with pytest.raises(UnsafePickleError, match=r"chumpy\.ch\.Ch"):
        load_numpy_pickle(tmp_path / "chumpy.pkl")


def test_missing_and_truncated_files_name_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"SMPL model file not found: .*SMPL_NEUTRAL\.pkl.*embedded open model"):
        load_smpl_pickle(tmp_path / "SMPL_NEUTRAL.pkl")
    with open(tmp_path / "whole.pkl", "wb") as handle:
        pickle.dump({"poses": np.zeros((50, 72))}, handle, protocol=2)
    (tmp_path / "cut.pkl").write_bytes((tmp_path / "whole.pkl").read_bytes()[:200])
    with pytest.raises(
        ValueError, match=r"cannot read pose/shape pickle .*cut\.pkl: the pickle is truncated or corrupt"
    ):
        load_numpy_pickle(tmp_path / "cut.pkl")


def test_chumpy_expressions_without_an_array_are_refused_clearly(tmp_path, monkeypatch):
    expression = FakeChumpyCh(np.zeros(3))
    del expression.__dict__["x"]
    write_chumpy_pickle(tmp_path / "expr.pkl", {"v_template": expression}, monkeypatch)
    with pytest.raises(ValueError, match=r"'v_template' is a chumpy\.ch\.Ch object without a stored array"):
        load_smpl_pickle(tmp_path / "expr.pkl")
