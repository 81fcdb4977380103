"""User-facing errors. The CLI prints their message (no traceback) and exits with ``exit_code``."""

from __future__ import annotations

__all__ = ["HealthgapError", "ConfigError", "DataError", "RenderError", "DisclosureError", "Terminated"]


class HealthgapError(Exception):
    """Base class for errors caused by user input; the message is shown as is."""

    exit_code: int = 1


class ConfigError(HealthgapError, ValueError):
    """The config file is missing, unreadable or invalid."""

    exit_code = 2


class DataError(HealthgapError, ValueError):
    """The dataset does not meet the contract. The message lists every problem found.

    ``report`` is the :class:`healthgap.data.ValidationReport` when the error comes from
    :func:`healthgap.data.validate` (None otherwise).
    """

    exit_code = 3
    report: object | None = None


class RenderError(HealthgapError):
    """Rendering the book failed; the message names the chapter and the cell."""

    exit_code = 4


class DisclosureError(HealthgapError, ValueError):
    """Something about to be published could identify people, or protect() was misused.

    Also exported as :class:`healthgap.disclosure.DisclosureError`.
    """

    exit_code = 5


class Terminated(SystemExit):
    """The process received SIGTERM or SIGHUP while rendering.

    Raised in the main thread by the render's signal handler, so the build folder is removed
    and the kernels are shut down as for Ctrl-C. A :class:`SystemExit` (not an ``Exception``):
    no ``except Exception`` swallows it, and uncaught it exits with ``128 + signum``, as the
    shell reports a process killed by that signal.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(128 + signum)
        self.signum = signum
