"""The folders of a data directory (``DATA_DIR``), named as the datasets are released:
``lsp/`` (LSP), ``lsp_ext/`` (LSP extended), ``up-s1h/`` (UP-S1h silhouettes, with one
subfolder per keypoint set) and ``mosh/`` (MoSh pickles or AMASS ``.npz`` files)."""

from __future__ import annotations

LSP_FOLDER, LSPET_FOLDER, UP_S1H_FOLDER, MOSH_FOLDER = "lsp", "lsp_ext", "up-s1h", "mosh"
KEYPOINT_SET_FOLDERS = {"lsp": LSP_FOLDER, "lspet": LSPET_FOLDER}  # keypoint-set layout → its folder
UP_S1H_SUBFOLDERS = {"lsp": "data/lsp", "lspet": "data/lsp_extended"}  # inside up-s1h/, per keypoint set
