"""Errors a user can act on.

Anything raised as a ``NasframeError`` is printed by the CLI as one line (no
traceback) and the process exits with status 2. The message should say what
was wrong and what to do about it. ``NASFRAME_DEBUG=1`` adds the traceback
(for a bug report); errors that are not ``NasframeError`` are bugs and always
show theirs.
"""
import os
import sys
import traceback


class NasframeError(Exception):
    """Base class for errors caused by input the user controls."""


class ConfigError(NasframeError, ValueError):
    """A config value, override or space/strategy pairing is not usable."""


class ArchitectureError(NasframeError, ValueError):
    """An architecture string or encoding is not in the search space."""


class DataError(NasframeError, OSError):
    """A benchmark or dataset file is missing, corrupt or in an unknown layout."""


class CapabilityError(ConfigError):
    """The space lacks a capability that the strategy or evaluator needs."""


class DataNotFound(DataError):
    """No benchmark file was found where one was looked for (as opposed to a bad one)."""


def report(e: BaseException) -> None:
    """The one ``error:`` line on stderr, after the traceback when NASFRAME_DEBUG is set."""
    if os.environ.get("NASFRAME_DEBUG", "") not in ("", "0"):
        traceback.print_exception(e)
    print("error: " + " ".join(str(e).split()), file=sys.stderr)
