"""The OpenAPI document is honest (issue 13, item 12); the schemathesis run over every
operation is tests/test_schemathesis.py."""

from __future__ import annotations

import jsonschema
from fastapi.testclient import TestClient

from tests.conftest import MakePerson


def test_options_lists_every_method_of_the_path(client: TestClient) -> None:
    for path, methods in (
        ("/api/v1/posts", {"GET", "POST", "OPTIONS"}),
        ("/api/v1/requests/1", {"GET", "PATCH", "OPTIONS"}),
        ("/api/v1/accounts/1", {"DELETE", "OPTIONS"}),
        ("/static/style.css", {"GET", "HEAD", "OPTIONS"}),
    ):
        response = client.options(path)
        assert response.status_code == 204, path
        assert set(response.headers["allow"].split(", ")) == methods, path
    assert client.options("/api/v1/no-such-thing").status_code == 404
    wrong = client.patch("/api/v1/posts")
    assert wrong.status_code == 405
    assert "allow" in wrong.headers


def test_error_answers_match_the_documented_schemas(
    client: TestClient, make_person: MakePerson
) -> None:
    document = client.get("/openapi.json").json()
    components = document["components"]["schemas"]
    operation = document["paths"]["/api/v1/posts/{post_id}"]["get"]
    for code in ("400", "401", "403", "404", "409", "422", "503"):
        assert code in operation["responses"], code
    assert "Retry-After" in operation["responses"]["503"]["headers"]

    def validate(body: object, name: str) -> None:
        jsonschema.validate(body, components[name])

    person = make_person()
    invalid = client.get("/api/v1/posts/abc", headers=person.headers)  # by FastAPI
    assert invalid.status_code == 422
    validate(invalid.json(), "ValidationErrorBody")
    refused = client.post(  # by a service
        "/api/v1/posts", headers=person.headers, json={"url": "https://example.org/not-a-post"}
    )
    assert refused.status_code == 422
    validate(refused.json(), "ValidationErrorBody")
    missing = client.get("/api/v1/posts/12345", headers=person.headers)
    assert missing.status_code == 404
    validate(missing.json(), "Error")
    anonymous = client.get("/api/v1/posts")
    assert anonymous.status_code == 401
    validate(anonymous.json(), "Error")
