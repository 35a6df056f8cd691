"""Startup failures the CLI reports as one line."""

from __future__ import annotations


class StartupError(Exception):
    """A process cannot start (database unreachable, schema missing...). One-line message."""


class CommandFailed(Exception):
    """A command ran but could not do what was asked (a device did not answer...). One line."""
