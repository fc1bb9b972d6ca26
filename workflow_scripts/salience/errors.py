"""Errors the user can act on. Each message names the file and the fix."""


class SalienceError(Exception):
    """Base class of every error this package raises on bad input."""


class VideoError(SalienceError):
    """A video file cannot be used: missing, unreadable, empty or truncated."""


class WeightsError(SalienceError):
    """A checkpoint cannot be had: download failed, checksum mismatch, bad file."""


class ConfigError(SalienceError):
    """A configuration value is invalid."""
