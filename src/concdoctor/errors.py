"""Errors that end a concdoctor run, each with the exit code the CLI returns.

Every message is one line that names the problem and the fix; the CLI prints it
without a traceback.
"""

from __future__ import annotations


class ConcdoctorError(Exception):
    """Base class: a failure explained to the user, never a bug in concdoctor."""

    exit_code = 1


class UsageError(ConcdoctorError):
    """Bad input from the user: target, inputs, options, rules (exit code 2)."""

    exit_code = 2


class RulesError(UsageError):
    """A rules file that cannot be loaded; the message names file, rule and line."""


class Interrupted(ConcdoctorError):
    """Ctrl-C or SIGTERM: children are ended and nothing half-written stays."""

    def __init__(self, signum: int) -> None:
        import signal

        name = signal.Signals(signum).name
        super().__init__(f"interrupted by {name}; every child process was ended")
        self.signum = signum
        self.exit_code = 128 + signum
