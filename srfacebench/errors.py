"""Exceptions that the CLI turns into one clear line (a traceback only with ``--debug``)."""

from __future__ import annotations

__all__ = ["ConfigError", "DataError", "ModelError", "ProtocolError", "SrfacebenchError"]


class SrfacebenchError(Exception):
    """Base class: a user-facing problem whose message names the culprit."""


class DataError(SrfacebenchError):
    """A dataset file is missing, unreadable or malformed."""


class ModelError(SrfacebenchError):
    """A model cannot be resolved, loaded, or returned a wrong output."""


class ProtocolError(SrfacebenchError):
    """A protocol is unknown or its specification is invalid."""


class ConfigError(SrfacebenchError):
    """A run configuration or command-line value that is missing or invalid."""
