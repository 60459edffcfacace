"""One exception type for everything a user can get wrong.

The CLI turns an :class:`AlexNetError` into a single line on stderr and a non-zero exit code; in a notebook
it is raised as is, with the same message. Nothing else in the package should need a traceback to explain.
"""


class AlexNetError(Exception):
    """A problem with the user's input, data, configuration or checkpoint, explained in one line."""

    exit_code = 2


class AlexNetWarning(UserWarning):
    """Something the package worked around and wants the user to know (skipped files, a fallback checkpoint).

    The CLI prints these as ``alexnet: warning: ...``; other libraries' warnings keep Python's own format.
    """


class DatasetNotFoundError(AlexNetError):
    """The dataset is not under the data root and could not be downloaded."""


class CheckpointError(AlexNetError):
    """A checkpoint is missing, truncated, corrupt, or from another architecture."""


class NonFiniteLossError(AlexNetError):
    """The training loss became NaN or infinite; the last good checkpoint was kept."""

    exit_code = 3
