"""The package version, in one place (the package, run records and study fingerprints read it)."""

__version__ = "0.1.0"
