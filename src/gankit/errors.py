"""The one exception type gankit raises for problems a user can fix.

The CLI prints a :class:`GankitError` as a single line (``gankit: error: ...``) and exits with
status 2; every message names the problem and the fix. Anything else is a bug and keeps its traceback.
"""


class GankitError(Exception):
    """A user-facing error: bad input, unknown preset or key, missing or corrupt file."""


class TrainingDiverged(GankitError):
    """A loss became NaN or infinite; the run stopped and kept its last good checkpoint."""
