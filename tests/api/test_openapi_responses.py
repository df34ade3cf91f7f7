"""The served document and the answers agree, route by route (issue 22): every operation of
`/v1/openapi.json`, as the running server serves it, is called for real (the SDK surface of
`surface_calls.py`, then the drawdown extensions, the reference and every kind of ledger
entry over raw HTTP), and each answer's body is checked against the schema the document
gives for its status, strictly: keys the document does not declare are refused
(`additionalProperties: false` is added to every object), and instants must be drawdown's
own RFC 3339 UTC form. The document's routes are exactly the app's, both ways.

Schemathesis (tests/reliability/test_fuzz.py) checks the same agreement on random input;
this one on answers that are known to cover every operation and every entry type.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator, FormatChecker
from surface_calls import Recording, call_every_served_method
from test_openapi import documented, served_routes

from conftest import Server, unique

# Operations that always refuse (drawdown has no plans or subscriptions): their answer is
# checked against the 400 they document.
REFUSING = {("post", "/alerts/plan_id/{plan_id}"),
            ("post", "/alerts/subscription_id/{subscription_id}")}  # fmt: skip
INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{6})?Z$")


@dataclass(frozen=True)
class Answer:
    method: str
    path: str  # percent-encoded, without /v1 and the query
    status: int
    content_type: str
    body: bytes


class Recorder:
    """An httpx response hook keeping every answer the server gave."""

    def __init__(self) -> None:
        self.answers: list[Answer] = []

    def __call__(self, response: httpx.Response) -> None:
        response.read()
        raw = response.request.url.raw_path.split(b"?", 1)[0].decode()
        assert raw.startswith("/v1/"), raw
        self.answers.append(Answer(response.request.method.lower(), raw[3:],
                                   response.status_code,
                                   response.headers.get("content-type", ""),
                                   response.content))  # fmt: skip


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def raw(drafting_server: Server, recorder: Recorder) -> Iterator[httpx.Client]:
    with drafting_server.http() as client:
        client.event_hooks["response"] = [recorder]
        yield client


def _templates(document: dict[str, Any]) -> list[tuple[str, str, re.Pattern[str]]]:
    """(method, document path, pattern) with literal segments before parameters, so
    `/prices/evaluate` is not taken for `/prices/{price_id}`."""
    found = []
    for path, operations in document["paths"].items():
        pattern = re.compile("^" + re.sub(r"\{[^/]+\}", "[^/]+", path) + "$")
        literal = sum(1 for part in path.split("/") if part and not part.startswith("{"))
        for method in operations:
            found.append((literal, method, path, pattern))
    found.sort(key=lambda t: -t[0])
    return [(method, path, pattern) for _, method, path, pattern in found]


def _strict(schema: Any) -> Any:
    """The schema with `additionalProperties: false` on every object that lists its keys."""
    if isinstance(schema, dict):
        result = {key: _strict(value) for key, value in schema.items()}
        if "properties" in result and "additionalProperties" not in result:
            result["additionalProperties"] = False
        return result
    if isinstance(schema, list):
        return [_strict(item) for item in schema]
    return schema


def _formats() -> FormatChecker:
    checker = FormatChecker(())

    @checker.checks("date-time")
    def instant(value: object) -> bool:
        return not isinstance(value, str) or INSTANT.match(value) is not None

    return checker


def _response(document: dict[str, Any], method: str, path: str, status: int) -> dict[str, Any]:
    responses = document["paths"][path][method]["responses"]
    assert str(status) in responses, f"{method} {path} answered {status}, not documented"
    response = responses[str(status)]
    if "$ref" in response:
        response = document["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    result: dict[str, Any] = response
    return result


def _check(document: dict[str, Any], method: str, path: str, answer: Answer) -> None:
    response = _response(document, method, path, answer.status)
    where = f"{method} {answer.path} ({answer.status})"
    content = response.get("content")
    if content is None:
        assert answer.body == b"", where
        return
    [(media, spec)] = content.items()
    assert answer.content_type.split(";")[0] == media, where
    if media != "application/json":
        return
    schema = {**_strict(spec["schema"]),
              "components": {"schemas": _strict(document["components"]["schemas"])}}  # fmt: skip
    body = json.loads(answer.body, parse_float=Decimal)
    errors = sorted(Draft202012Validator(schema, format_checker=_formats()).iter_errors(body),
                    key=lambda e: list(e.absolute_path))  # fmt: skip
    assert not errors, f"{where}: " + "; ".join(
        f"{'/'.join(map(str, e.absolute_path))}: {e.message[:300]}" for e in errors[:5]
    )


def _every_entry_type(raw: httpx.Client) -> None:
    """A ledger with an entry of every type, listed (the surface writes two types)."""
    customer = raw.post(
        "/customers",
        json={"name": "Kinds", "email": "k@example.com", "external_customer_id": unique("kinds")},
    ).json()
    entry = f"/customers/{customer['id']}/credits/ledger_entry"

    def write(**body: Any) -> Any:
        answer = raw.post(entry, json=body)
        assert answer.status_code == 201, answer.text
        return answer.json()

    block = write(entry_type="increment", amount=10)["credit_block"]["id"]
    write(entry_type="decrement", amount=8, description="used")
    write(entry_type="amendment", amount=1, block_id=block)
    write(entry_type="void", amount=5, block_id=block, void_reason="refund")  # void_initiated
    other = write(entry_type="increment", amount=20, expiry_date="2099-01-01",
                  metadata={"po": "7"})["credit_block"]["id"]  # fmt: skip
    write(entry_type="void", amount=1, block_id=other)
    write(entry_type="expiration_change", amount=5, block_id=other,
          target_expiry_date="2098-01-01")  # fmt: skip
    write(
        entry_type="increment", amount=3, effective_date="2020-01-01", expiry_date="2020-06-01"
    )  # expires at once: credit_block_expiry
    listed = raw.get(f"/customers/{customer['id']}/credits/ledger", params={"limit": 100})
    kinds = {e["entry_type"] for e in listed.json()["data"]}
    assert kinds == {"increment", "decrement", "amendment", "void", "void_initiated",
                     "expiration_change", "credit_block_expiry"}  # fmt: skip


def _extensions(raw: httpx.Client) -> None:
    """The drawdown extensions, the reference, and the operations that always refuse."""
    external = unique("ext")
    customer = raw.post(
        "/customers",
        json={"name": "Ext", "email": "e@example.com", "external_customer_id": external},
    ).json()
    for base in (f"/customers/{customer['id']}",
                 f"/customers/external_customer_id/{external}"):  # fmt: skip
        raw.post(base + "/credits/ledger_entry", json={"entry_type": "increment", "amount": 5})
        assert raw.get(base + "/credits/summary").status_code == 200
        preview = raw.post(base + "/credits/ledger_entry/preview",
                           json={"entry_type": "decrement", "amount": 2})  # fmt: skip
        assert preview.status_code == 200, preview.text
        assert raw.get(base + "/credits/settings").status_code == 200
        updated = raw.put(base + "/credits/settings", json={"overdraft": "refuse"})
        assert updated.status_code == 200, updated.text
    drafted = raw.post(
        "/customers",
        json={"name": "Draft", "email": "d@example.com", "currency": "USD", "auto_issuance": False},
    ).json()
    bought = raw.post(f"/customers/{drafted['id']}/credits/ledger_entry", json={
        "entry_type": "increment", "amount": 10, "per_unit_cost_basis": "1",
        "invoice_settings": {"auto_collection": False, "net_terms": 0}}).json()  # fmt: skip
    [invoice] = bought["created_invoices"]
    assert raw.post(f"/invoices/{invoice['id']}/issue", json={}).status_code == 200
    assert raw.get("/openapi.json").status_code == 200
    assert raw.get("/docs").status_code == 200
    assert raw.post("/alerts/plan_id/p", json={"type": "usage_exceeded"}).status_code == 400
    assert raw.post("/alerts/subscription_id/s", json={"type": "usage_exceeded"}).status_code == 400


def test_every_route_answers_what_the_served_document_says(
    drafting_server: Server, recorder: Recorder, raw: httpx.Client, tmp_path: Path
) -> None:
    """On a server that makes drafts (for customers with `auto_issuance: false`), so that
    issuing one answers too."""
    document = raw.get("/openapi.json").json()
    assert documented(document) == served_routes(tmp_path)  # the app's routes, both ways
    with httpx.Client(event_hooks={"response": [recorder]}) as http:
        sdk = drafting_server.client(_strict_response_validation=True, http_client=http)
        call_every_served_method(Recording(sdk))
    _every_entry_type(raw)
    _extensions(raw)

    templates = _templates(document)
    answered: dict[tuple[str, str], set[int]] = {}
    for answer in recorder.answers:
        method, path = next((m, p) for m, p, pattern in templates
                            if m == answer.method and pattern.match(answer.path))  # fmt: skip
        _check(document, method, path, answer)
        answered.setdefault((method, path), set()).add(answer.status)

    missing = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            wanted = 400 if (method, path) in REFUSING else min(map(int, operation["responses"]))
            if wanted not in answered.get((method, path), set()):
                missing.append(f"{method} {path} ({wanted})")
    assert not missing, f"never answered with its documented status: {missing}"


def test_the_check_is_strict() -> None:
    """A key the document does not declare, or an instant in another form, is refused."""
    document = {
        "paths": {"/x": {"get": {"responses": {"200": {"content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/X"}}}}}}}},
        "components": {"schemas": {"X": {
            "type": "object", "properties": {"at": {"type": "string", "format": "date-time"}},
            "required": ["at"]}}},
    }  # fmt: skip
    good = Answer("get", "/x", 200, "application/json", b'{"at": "2026-01-02T03:04:05Z"}')
    _check(document, "get", "/x", good)
    for body in (b'{"at": "2026-01-02T03:04:05Z", "extra": 1}', b'{"at": "2026-01-02 03:04"}',
                 b"{}"):  # fmt: skip
        with pytest.raises(AssertionError):
            _check(document, "get", "/x", Answer("get", "/x", 200, "application/json", body))
    with pytest.raises(AssertionError, match="not documented"):
        _check(copy.deepcopy(document), "get", "/x", Answer("get", "/x", 201, "", b""))
