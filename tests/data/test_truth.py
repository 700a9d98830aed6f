"""Reading the generated dataset's 3D truth, ``truth_3d.npz``: each layout's arrays come back
with the generator's values, and a file with a missing key or a wrong shape is refused with its
name."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from hybridlib.data.errors import DatasetFormatError
from hybridlib.data.truth import TRUTH_FILE_NAME, read_truth_3d


def _truth_arrays(layout: str, count: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """One layout's part of a truth file, with the keys and dtypes hybridlib.data.generate writes."""
    return {
        f"{layout}_pose": rng.normal(size=(count, 72)).astype(np.float32),
        f"{layout}_betas": rng.normal(size=(count, 10)).astype(np.float32),
        f"{layout}_joints_3d": rng.normal(size=(count, 14, 3)).astype(np.float32),
        f"{layout}_pixels_per_metre": rng.uniform(80.0, 120.0, size=count),
        f"{layout}_offset_px": rng.uniform(0.0, 200.0, size=(count, 2)),
        f"{layout}_image_size": rng.integers(150, 300, size=(count, 2)).astype(np.int64),
        f"{layout}_visible": rng.random(size=(count, 14)) > 0.2,
    }


def _write(folder: Path, arrays: dict[str, np.ndarray]) -> Path:
    path = folder / TRUTH_FILE_NAME
    np.savez(path, **arrays)  # as the generator writes it
    return path


def test_each_layout_reads_back_as_written(generated_root, tmp_path):
    rng = np.random.default_rng(0)
    arrays = {**_truth_arrays("lsp", 3, rng), **_truth_arrays("lspet", 2, rng)}
    with np.load(generated_root / TRUTH_FILE_NAME) as generated:  # the same keys as a generated file
        assert sorted(generated.files) == sorted(arrays)
    path = _write(tmp_path, arrays)
    for layout, count in (("lsp", 3), ("lspet", 2)):
        truth = read_truth_3d(path, layout)
        assert len(truth) == count
        for key in ("pose", "betas", "joints_3d", "pixels_per_metre", "offset_px", "image_size"):
            value = getattr(truth, key)
            assert value.dtype == (np.int64 if key == "image_size" else np.float32), key
            np.testing.assert_allclose(value, arrays[f"{layout}_{key}"], rtol=1e-6, err_msg=key)
    generated = read_truth_3d(generated_root / TRUTH_FILE_NAME, "lsp")  # and the real thing reads too
    assert generated.joints_3d.shape == (len(generated), 14, 3) and generated.image_size.shape == (len(generated), 2)


def test_a_wrong_shape_or_a_missing_key_is_refused_with_the_file_named(tmp_path):
    rng = np.random.default_rng(1)
    good = _truth_arrays("lsp", 3, rng)
    cases = (
        ({"lsp_joints_3d": good["lsp_joints_3d"][:, :13]}, "'lsp_joints_3d' has shape (3, 13, 3), expected (3, 14, 3)"),
        ({"lsp_betas": good["lsp_betas"][:2]}, "'lsp_betas' has shape (2, 10), expected (3, 10)"),  # too few rows
        ({"lsp_pixels_per_metre": good["lsp_pixels_per_metre"][:, None]}, "expected (3,)"),
    )
    for number, (change, message) in enumerate(cases):
        folder = tmp_path / str(number)
        folder.mkdir()
        path = _write(folder, {**good, **change})
        with pytest.raises(DatasetFormatError, match=re.escape(str(path)) + ".*" + re.escape(message)):
            read_truth_3d(path, "lsp")
    missing = {key: value for key, value in good.items() if key != "lsp_offset_px"}
    path = _write(tmp_path, missing)
    with pytest.raises(DatasetFormatError, match=re.escape(f"{path} lacks ['lsp_offset_px']")):
        read_truth_3d(path, "lsp")
    with pytest.raises(DatasetFormatError, match=re.escape(str(path)) + r" lacks \['lspet_pose'"):
        read_truth_3d(path, "lspet")  # the other layout is not in this file
    with pytest.raises(FileNotFoundError, match="hybridlib.data.generate"):
        read_truth_3d(tmp_path / "absent" / TRUTH_FILE_NAME, "lsp")
