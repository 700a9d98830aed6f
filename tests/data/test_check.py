"""The data check: a table per dataset of a real-format folder, refusals in seconds, a cached
decoding pass."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PIL import Image

import hybridlib.data.check as check_module
from hybridlib.data.check import STUDY_NEEDS, DataCheckError, check_data, main, require_usable


@pytest.fixture()
def data_dir(generated_root: Path, tmp_path: Path) -> Path:
    root = tmp_path / "data"
    shutil.copytree(generated_root, root)
    return root


def _report(check, dataset: str):
    (report,) = [report for report in check.reports if report.dataset == dataset]
    return report


def _cut_inside_its_data(path: Path) -> None:
    """A JPEG whose header is intact and whose image data stops half-way."""
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def test_a_complete_generated_folder_is_counted_dataset_by_dataset(data_dir, small_config):
    check = check_data(data_dir, progress=False)
    lsp, lspet, silhouettes, mosh = (_report(check, name) for name in ("lsp", "lsp_ext", "up-s1h", "mosh"))
    assert (lsp.status, lsp.counts["files"], lsp.counts["labels"]) == ("ok", small_config.lsp, small_config.lsp)
    assert lsp.counts["images missing"] == 0 and lsp.counts["fail to decode"] == 0
    assert lspet.status == "ok" and lspet.counts["labels"] == small_config.lspet
    # the generator leaves about 14 % of LSP extended without a silhouette, as UP-S1h does
    assert silhouettes.status in ("ok", "incomplete") and silhouettes.counts["silhouettes of another size"] == 0
    assert mosh.status == "ok" and mosh.counts["poses"] == small_config.mosh
    assert not check.failures() and "| lsp " in check.text()


def test_a_second_check_decodes_nothing_and_a_changed_file_is_decoded_again(data_dir, monkeypatch):
    check_data(data_dir, progress=False)
    decoded = []
    original = check_module._decode
    monkeypatch.setattr(check_module, "_decode", lambda path: decoded.append(path) or original(path))
    check_data(data_dir, progress=False)
    assert decoded == []
    _cut_inside_its_data(data_dir / "lsp" / "images" / "im0003.jpg")
    check = check_data(data_dir, progress=False)
    assert [path.name for path in decoded] == ["im0003.jpg"]
    lsp = _report(check, "lsp")
    assert lsp.status == "unusable" and lsp.counts["fail to decode"] == 1 and "im0003.jpg" in lsp.note


def test_a_jpeg_cut_inside_its_data_fails_the_study_check_and_the_command(data_dir, capsys):
    _cut_inside_its_data(data_dir / "lsp_ext" / "images" / "im00002.jpg")
    with pytest.raises(DataCheckError, match=r"cannot be used: lsp_ext \(unusable\)[\s\S]*im00002\.jpg"):
        require_usable(data_dir, STUDY_NEEDS["03_lspet_vs_hmr"], progress=False)
    require_usable(data_dir, STUDY_NEEDS["02_lsp_ablation"], progress=False)  # Table 1 does not read LSP extended
    with pytest.raises(SystemExit) as exited:
        main([str(data_dir)])
    assert exited.value.code == 1 and "unusable for this use: lsp_ext" in capsys.readouterr().out


def test_an_absent_dataset_is_fine_for_the_studies_that_do_not_read_it(data_dir):
    shutil.rmtree(data_dir / "lsp_ext")
    check = require_usable(data_dir, STUDY_NEEDS["01_overfit_8_images"], progress=False)
    lspet = _report(check, "lsp_ext")
    assert lspet.status == "absent" and "needed by 03_lspet_vs_hmr" in lspet.note
    with pytest.raises(DataCheckError, match=r"lsp_ext \(absent\)"):
        require_usable(data_dir, STUDY_NEEDS["03_lspet_vs_hmr"], progress=False)


def test_silhouettes_of_another_size_than_their_image_make_up_s1h_unusable(data_dir):
    path = next((data_dir / "up-s1h" / "data" / "lsp").glob("*_segmentation.png"))
    with Image.open(path) as silhouette:
        silhouette.resize((silhouette.width // 2, silhouette.height // 2)).save(path)
    report = _report(check_data(data_dir, progress=False), "up-s1h")
    assert report.status == "unusable" and report.counts["silhouettes of another size"] == 1
    assert path.name in report.note and "pixel-aligned" in report.note


def test_labels_a_reader_refuses_are_reported_with_its_fix(data_dir):
    (data_dir / "lsp" / "joints.mat").write_bytes(b"not a MATLAB file")
    report = _report(check_data(data_dir, progress=False), "lsp")
    assert report.status == "unusable" and "joints.mat" in report.note and "re-copy" in report.note.lower()
