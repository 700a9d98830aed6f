"""MoSh / AMASS readers on files written the way the originals are (pickle protocol 2, numpy .npz)."""

import pickle

import numpy as np
import pytest
from pickle_payloads import OpensAFile

from hybridlib.data.errors import DatasetFormatError
from hybridlib.data.mocap import read_amass_npz, read_mocap_folder, read_mosh_pickle
from hybridlib.safe_pickle import UnsafePickleError


def write_pickle(path, contents) -> None:
    with open(path, "wb") as handle:
        pickle.dump(contents, handle, protocol=2)


@pytest.mark.parametrize("pose_key", ["poses", "new_poses"])
def test_mosh_pickle_round_trips(tmp_path, pose_key):
    rng = np.random.default_rng(0)
    poses, betas = rng.normal(size=(5, 72)), rng.normal(size=10)
    write_pickle(tmp_path / "seq.pkl", {pose_key: poses, "betas": betas, "trans": np.zeros((5, 3))})
    read_poses, read_betas = read_mosh_pickle(tmp_path / "seq.pkl")
    np.testing.assert_allclose(read_poses, poses, rtol=1e-6)
    np.testing.assert_allclose(read_betas, np.tile(betas, (5, 1)), rtol=1e-6)
    assert read_poses.dtype == np.float32 and read_betas.shape == (5, 10)


def test_amass_npz_keeps_the_body_and_rests_the_hands(tmp_path):
    rng = np.random.default_rng(1)
    poses, betas = rng.normal(size=(4, 156)), rng.normal(size=16)
    np.savez(tmp_path / "motion_poses.npz", poses=poses, betas=betas, trans=np.zeros((4, 3)))
    read_poses, read_betas = read_amass_npz(tmp_path / "motion_poses.npz")
    np.testing.assert_allclose(read_poses[:, :66], poses[:, :66], rtol=1e-6)
    assert (read_poses[:, 66:] == 0).all()
    np.testing.assert_allclose(read_betas[0], betas[:10], rtol=1e-6)


def test_folder_reads_both_formats_in_sorted_order(tmp_path):
    write_pickle(tmp_path / "b.pkl", {"poses": np.ones((2, 72)), "betas": np.zeros((2, 10))})
    (tmp_path / "sub").mkdir()
    np.savez(tmp_path / "sub" / "a.npz", poses=np.full((3, 66), 2.0), betas=np.zeros(10))
    (tmp_path / "notes.txt").write_text("ignored")
    mocap = read_mocap_folder(tmp_path)
    assert len(mocap) == 5 and mocap.poses.shape == (5, 72) and mocap.betas.shape == (5, 10)
    assert [path.name for path in mocap.source_files] == ["b.pkl", "b.pkl", "a.npz", "a.npz", "a.npz"]


@pytest.mark.parametrize(
    ("contents", "message"),
    [
        (
            {"pose": np.zeros((2, 72)), "betas": np.zeros(10)},
            r"needs 'poses' \(or 'new_poses'\) and 'betas'; it has \['betas', 'pose'\]",
        ),
        ({"poses": np.zeros((2, 69)), "betas": np.zeros(10)}, r"'poses' has shape \(2, 69\), expected \(N, 72\)"),
        ({"poses": np.zeros((2, 72)), "betas": np.zeros(8)}, r"'betas' has shape \(8,\)"),
        ({"poses": np.full((2, 72), np.nan), "betas": np.zeros(10)}, r"NaN/inf"),
        ([1, 2, 3], r"expected a pickled dict"),
    ],
)
def test_bad_mosh_pickles_name_the_file_and_the_problem(tmp_path, contents, message):
    write_pickle(tmp_path / "bad.pkl", contents)
    with pytest.raises(DatasetFormatError, match=message) as error:
        read_mosh_pickle(tmp_path / "bad.pkl")
    assert "bad.pkl" in str(error.value)


def test_bad_amass_files_name_the_file_and_the_problem(tmp_path):
    np.savez(tmp_path / "short.npz", poses=np.zeros((3, 60)), betas=np.zeros(10))
    with pytest.raises(DatasetFormatError, match=r"short\.npz: 'poses' has shape \(3, 60\), expected \(N, ≥66\)"):
        read_amass_npz(tmp_path / "short.npz")
    np.savez(tmp_path / "keys.npz", pose=np.zeros((3, 66)))
    with pytest.raises(
        DatasetFormatError, match=r"keys\.npz: an AMASS file needs 'poses' and 'betas'; it has \['pose'\]"
    ):
        read_amass_npz(tmp_path / "keys.npz")


def test_a_pickle_with_code_is_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "pwned"
    write_pickle(tmp_path / "evil.pkl", {"poses": np.zeros((1, 72)), "betas": OpensAFile(marker)})
    with pytest.raises(UnsafePickleError):
        read_mosh_pickle(tmp_path / "evil.pkl")
    with pytest.raises(UnsafePickleError):
        read_mocap_folder(tmp_path)
    assert not marker.exists()


def test_missing_or_empty_folders_say_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist.*DATA_DIR"):
        read_mocap_folder(tmp_path / "absent")
    with pytest.raises(FileNotFoundError, match=r"holds no MoSh \.pkl or AMASS \.npz files"):
        read_mocap_folder(tmp_path)
