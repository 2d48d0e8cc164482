"""Andon: quality and patient-safety management for hospitals."""

__version__ = "0.1.0"
