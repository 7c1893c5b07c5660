"""The package version, in one place.  Rule: import nothing."""

__version__ = "0.1.0"
