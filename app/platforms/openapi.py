"""The platform enum in the OpenAPI document, read from the registry when the document is
built (so a platform added to the registry is listed without touching any router).

A schema or parameter that takes a platform id carries `json_schema_extra=PLATFORM_ENUM_MARK`;
`install_platform_enum(app)` replaces the mark with `enum: [ids...]`.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from app.platforms.base import PLATFORM_ENUM_MARK
from app.platforms.registry import registry

__all__ = ["PLATFORM_ENUM_MARK", "install_platform_enum", "with_platform_enum"]
MARK_KEY = next(iter(PLATFORM_ENUM_MARK))


def _fill(node: Any, ids: list[str]) -> None:
    if isinstance(node, dict):
        if node.pop(MARK_KEY, False):
            # The mark sits on the property or parameter schema; a nullable field is an
            # anyOf of the string and null, and the enum belongs on the string.
            target = node
            for option in node.get("anyOf", []):
                if isinstance(option, dict) and option.get("type") == "string":
                    target = option
            target["enum"] = list(ids)
        for value in node.values():
            _fill(value, ids)
    elif isinstance(node, list):
        for value in node:
            _fill(value, ids)


def with_platform_enum(schema: dict[str, Any]) -> dict[str, Any]:
    _fill(schema, registry.ids())
    return schema


def install_platform_enum(app: FastAPI) -> None:
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = with_platform_enum(build())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
