"""PostVault: a public-records retention archive for social media posts."""

__version__ = "0.1.0"
