"""Trusted timestamps (RFC 3161) of stored objects."""
