"""examples/: each mistake of examples/data_mistakes.py makes the data check refuse the dataset
it breaks, and only that one."""

from __future__ import annotations

import importlib.util
import shutil

import pytest

from hybridlib.data.check import check_data
from hybridlib.paths import REPOSITORY_ROOT

spec = importlib.util.spec_from_file_location("data_mistakes", REPOSITORY_ROOT / "examples" / "data_mistakes.py")
data_mistakes = importlib.util.module_from_spec(spec)
spec.loader.exec_module(data_mistakes)


@pytest.mark.parametrize("mistake", list(data_mistakes.MISTAKES))
def test_each_mistake_makes_the_check_refuse_the_dataset_it_breaks(mistake, generated_root, tmp_path):
    broken, make = data_mistakes.MISTAKES[mistake]
    folder = tmp_path / "data"
    shutil.copytree(generated_root, folder)
    make(folder)
    check = check_data(folder, progress=False)
    assert [report.dataset for report in check.failures()] == ([broken] if broken else [])
