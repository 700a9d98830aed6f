"""The error every dataset reader raises for a file that exists but is not what its format promises."""

DATA_HINT = (
    "Point DATA_DIR at the folder that holds lsp/, lsp_ext/, up-s1h/ and mosh/ as released, "
    "or generate a stand-in with `python -m hybridlib.data.generate --out DIR`."
)


class DatasetFormatError(ValueError):
    """A dataset file that exists but does not hold what its format promises; the message
    names the file and the fix."""
