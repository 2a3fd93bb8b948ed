"""The OpenAPI document says what the API really answers.

- The 422 body is PostVault's (`detail` is a sentence, `errors` the fields), not FastAPI's
  default list.
- Every `/api/` operation documents the errors any of them can give: 400, 401, 403, 404,
  409, 422 and 503 (the pool exhausted or the database busy, with Retry-After).
- OPTIONS on any path answers 204 with `Allow` naming every method the path takes
  (`AllowMiddleware`), and a method the path does not take is a 405 with the same header.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from starlette.routing import Match, Mount
from starlette.types import ASGIApp, Receive, Scope, Send

ERROR_SCHEMA = {
    "title": "Error",
    "type": "object",
    "properties": {"detail": {"type": "string", "description": "What went wrong, a sentence."}},
    "required": ["detail"],
}
VALIDATION_ERROR_SCHEMA = {
    "title": "ValidationErrorBody",
    "type": "object",
    "properties": {
        "detail": {"type": "string", "description": "Every problem, in one sentence."},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "loc": {
                        "type": "array",
                        "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
                    },
                    "msg": {"type": "string"},
                    "type": {"type": "string"},
                },
                "required": ["loc", "msg", "type"],
            },
        },
    },
    "required": ["detail", "errors"],
}
ERRORS = {
    "400": "The request cannot be carried out as it is.",
    "401": "No valid API token (or signed-in session, for downloads).",
    "403": "The caller's role may not do this.",
    "404": "No such thing, or not one the caller may see.",
    "409": "It conflicts with the current state (or a change saved at the same moment).",
    "422": "A field, parameter or body is not valid; `errors` names each.",
    "503": "The database is busy or every connection is in use; try again after Retry-After.",
}


def _error_response(code: str) -> dict[str, Any]:
    schema = "ValidationErrorBody" if code == "422" else "Error"
    response: dict[str, Any] = {
        "description": ERRORS[code],
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }
    if code == "503":
        response["headers"] = {
            "Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}
        }
    return response


def honest_openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
    )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Error"] = ERROR_SCHEMA
    components["ValidationErrorBody"] = VALIDATION_ERROR_SCHEMA
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    for path, operations in schema.get("paths", {}).items():
        if not path.startswith("/api/"):
            continue
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            for code in ERRORS:
                responses[code] = _error_response(code)
    app.openapi_schema = schema
    return schema


def install_openapi(app: FastAPI) -> None:
    app.openapi = lambda: honest_openapi(app)  # type: ignore[method-assign]
    app.add_middleware(AllowMiddleware)


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def _allowed_methods(scope: Scope) -> set[str]:
    """The methods some route answers at this path: each is tried against the router (its
    routes may be nested routers, which match a method only when one of theirs does)."""
    routes = scope["app"].router.routes
    methods = set()
    for method in _METHODS:
        probe = dict(scope, method=method)
        for route in routes:
            if route.matches(probe)[0] == Match.FULL:
                # A mount (the static files) matches any method but serves GET and HEAD.
                if not isinstance(route, Mount) or method in ("GET", "HEAD"):
                    methods.add(method)
                break
    if methods:
        methods.add("OPTIONS")
    return methods


class AllowMiddleware:
    """OPTIONS answers with the path's methods; an unsupported method's 405 names them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or "app" not in scope:
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS":
            methods = _allowed_methods(scope)
            if methods:
                await send(
                    {
                        "type": "http.response.start",
                        "status": 204,
                        "headers": [(b"allow", ", ".join(sorted(methods)).encode())],
                    }
                )
                await send({"type": "http.response.body", "body": b""})
                return
        await self.app(scope, receive, send)
