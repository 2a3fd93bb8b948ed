"""Platforms: one package per platform (app/platforms/<id>/), listed in registry.py.

See docs/platforms.md for where a platform's facts live and how to add one.
"""
