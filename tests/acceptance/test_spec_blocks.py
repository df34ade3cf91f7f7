"""Black-box acceptance tests: credit blocks (§2.2 E8, §3.2): shape, listing rules and order,
fetch by id (E20), metadata (E21) and a block's invoices (E23).

Written from the rules alone (docs/rules.md); every test names the rule it checks, against a
running drawdown server (both backends) over raw HTTP. Shared helpers: spec_support.py.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
from spec_support import (
    NOT_FOUND,
    VALIDATION,
    block,
    blocks,
    customer,
    decr,
    entry,
    err,
    http_fixture,  # noqa: F401 (a fixture)
    incr,
    ledger,
    mark_paid,
    ok,
    purchase,
    the_invoice,
    top_up,
    top_up_increments,
)

from conftest import Server

# ============================================================== §2.2 E8 / §3.2 blocks


def test_s3_2_block_shape(http: httpx.Client) -> None:
    cus = customer(http)
    e = incr(
        http,
        cus["id"],
        100,
        per_unit_cost_basis="0.20",
        effective_date="2024-03-01T00:00:00Z",
        expiry_date="2030-01-01T00:00:00Z",
        metadata={"k": "v"},
        filters=[{"field": "item_id", "operator": "includes", "values": ["i1"]}],
    )
    b = block(http, e["credit_block"]["id"])
    expected = {
        "id": e["credit_block"]["id"],
        "balance": 100,
        "maximum_initial_balance": 100,
        "effective_date": "2024-03-01T00:00:00Z",
        "expiry_date": "2030-01-01T00:00:00Z",
        "per_unit_cost_basis": "0.20",
        "filters": [{"field": "item_id", "operator": "includes", "values": ["i1"]}],
        "metadata": {"k": "v"},
        "status": "active",
        "credit_block_source": "manual",
        "credit_allocation": None,
        "credit_commitment": None,
    }
    for k, v in expected.items():
        assert k in b and b[k] == v, (k, b.get(k))


def test_s3_2_block_defaults(http: httpx.Client) -> None:
    cus = customer(http)
    e = incr(http, cus["id"], 7)
    b = block(http, e["credit_block"]["id"])
    assert b["expiry_date"] is None
    assert b["per_unit_cost_basis"] is None
    assert b["filters"] == [] and b["metadata"] == {}
    assert b["effective_date"] is not None


def test_e20_list_item_equals_fetch(http: httpx.Client) -> None:
    cus = customer(http)
    e = incr(http, cus["id"], 10, per_unit_cost_basis="1.5")
    (listed,) = blocks(http, cus["id"])
    assert listed == block(http, e["credit_block"]["id"])


def test_e20_unknown_block_404(http: httpx.Client) -> None:
    err(http.get("/credit_blocks/NoSuchBlock00000"), 404, NOT_FOUND)


def test_e20_strict_sdk(server: Server, http: httpx.Client) -> None:
    cus = customer(http)
    e = incr(http, cus["id"], 10, per_unit_cost_basis="1.5")
    sdk = server.client(_strict_response_validation=True)
    b = sdk.credit_blocks.retrieve(e["credit_block"]["id"])
    assert b.balance == 10 and b.per_unit_cost_basis == "1.5"
    page = sdk.customers.credits.list(cus["id"])
    assert [x.id for x in page.data] == [b.id]


def test_e8_default_currency_is_credits(http: httpx.Client) -> None:
    cus = customer(http)
    a = incr(http, cus["id"], 10)
    incr(http, cus["id"], 20, currency="tokens")
    assert [b["id"] for b in blocks(http, cus["id"])] == [a["credit_block"]["id"]]
    assert [b["balance"] for b in blocks(http, cus["id"], currency="tokens")] == [20]


def test_e8_mismatching_real_currency_is_empty_page(http: httpx.Client) -> None:
    cus = customer(http, currency="USD")
    incr(http, cus["id"], 10, currency="USD")
    assert blocks(http, cus["id"], currency="EUR") == []
    assert [b["balance"] for b in blocks(http, cus["id"], currency="usd")] == [10]


def test_r_cus_4_new_customer_empty(http: httpx.Client) -> None:
    cus = customer(http)
    page = ok(http.get(f"/customers/{cus['id']}/credits"), 200)
    assert page == {"data": [], "pagination_metadata": {"has_more": False, "next_cursor": None}}


def test_r_list_1_depleted_block_only_with_include_all(http: httpx.Client) -> None:
    cus = customer(http)
    a = incr(http, cus["id"], 10, expiry_date="2030-01-01T00:00:00Z")["credit_block"]["id"]
    b = incr(http, cus["id"], 50)["credit_block"]["id"]
    decr(http, cus["id"], 10)
    assert [x["id"] for x in blocks(http, cus["id"])] == [b]
    assert [x["id"] for x in blocks(http, cus["id"], include_all_blocks="true")] == [a, b]
    assert [x["id"] for x in blocks(http, cus["id"], include_all_blocks="false")] == [b]


def test_r_list_1_expired_block_only_with_include_all(http: httpx.Client) -> None:
    cus = customer(http)
    a = incr(
        http,
        cus["id"],
        10,
        effective_date="2024-01-01T00:00:00Z",
        expiry_date="2024-02-01T00:00:00Z",
    )["credit_block"]["id"]
    assert blocks(http, cus["id"]) == []
    all_ = blocks(http, cus["id"], include_all_blocks="true")
    assert [x["id"] for x in all_] == [a] and all_[0]["balance"] == 0


def test_r_list_1_fully_voided_block_only_with_include_all(http: httpx.Client) -> None:
    cus = customer(http)
    a = incr(http, cus["id"], 10)["credit_block"]["id"]
    ok(entry(http, cus["id"], entry_type="void", block_id=a, amount=10), 201)
    assert blocks(http, cus["id"]) == []
    assert [x["id"] for x in blocks(http, cus["id"], include_all_blocks="true")] == [a]


def test_r_list_1_negative_block_listed_by_default(http: httpx.Client) -> None:
    cus = customer(http)
    a = incr(http, cus["id"], 10)["credit_block"]["id"]
    decr(http, cus["id"], 25)
    (x,) = blocks(http, cus["id"])
    assert x["id"] == a and x["balance"] == -15


def test_r_list_1_future_block_listed_by_default(http: httpx.Client) -> None:
    cus = customer(http)
    a = incr(http, cus["id"], 10, effective_date="2031-01-01T00:00:00Z")["credit_block"]["id"]
    assert [x["id"] for x in blocks(http, cus["id"])] == [a]


def test_e8_order_is_drawdown_order(http: httpx.Client) -> None:
    cus = customer(http)
    c = cus["id"]

    def mk(**kw: Any) -> str:
        return incr(http, c, 10, **kw)["credit_block"]["id"]

    b1 = mk(per_unit_cost_basis="0.10")  # never expires → last
    b2 = mk(
        per_unit_cost_basis="0.10",
        expiry_date="2030-04-01T00:00:00Z",
        effective_date="2025-01-01T00:00:00Z",
    )
    b3 = mk(per_unit_cost_basis="0.00", expiry_date="2030-04-01T00:00:00Z")
    b4 = mk(per_unit_cost_basis="5", expiry_date="2030-01-01T00:00:00Z")
    b5 = mk(
        per_unit_cost_basis="0.10",
        expiry_date="2030-04-01T00:00:00Z",
        effective_date="2024-01-01T00:00:00Z",
    )
    b6 = mk(
        per_unit_cost_basis="0.10",
        expiry_date="2030-04-01T00:00:00Z",
        effective_date="2025-01-01T00:00:00Z",
    )
    b7 = mk(
        expiry_date="2030-04-01T00:00:00Z", effective_date="2024-06-01T00:00:00Z"
    )  # null cost = 0
    b8 = mk(per_unit_cost_basis="0.9")  # never expires, costlier than b1
    expected = [b4, b7, b3, b5, b2, b6, b1, b8]
    assert [x["id"] for x in blocks(http, c)] == expected
    # page through with limit 3: same order
    got: list[str] = []
    params: dict[str, Any] = {"limit": 3}
    while True:
        page = ok(http.get(f"/customers/{c}/credits", params=params), 200)
        got += [x["id"] for x in page["data"]]
        if not page["pagination_metadata"]["has_more"]:
            assert page["pagination_metadata"]["next_cursor"] is None
            break
        params["cursor"] = page["pagination_metadata"]["next_cursor"]
    assert got == expected


def test_e8_cost_basis_order_is_numeric_not_lexical(http: httpx.Client) -> None:
    cus = customer(http)
    a = incr(http, cus["id"], 1, per_unit_cost_basis="10")["credit_block"]["id"]
    b = incr(http, cus["id"], 1, per_unit_cost_basis="9")["credit_block"]["id"]
    assert [x["id"] for x in blocks(http, cus["id"])] == [b, a]


def test_e8_effective_date_filters(http: httpx.Client) -> None:
    cus = customer(http)
    c = cus["id"]
    a = incr(http, c, 1, effective_date="2024-01-01T00:00:00Z")["credit_block"]["id"]
    b = incr(http, c, 1, effective_date="2024-02-01T00:00:00Z")["credit_block"]["id"]
    d = incr(http, c, 1, effective_date="2024-03-01T00:00:00Z")["credit_block"]["id"]

    def ids(**p: Any) -> set[str]:
        return {x["id"] for x in blocks(http, c, **p)}

    assert ids(**{"effective_date[gte]": "2024-02-01T00:00:00Z"}) == {b, d}
    assert ids(**{"effective_date[gt]": "2024-02-01T00:00:00Z"}) == {d}
    assert ids(**{"effective_date[lte]": "2024-02-01T00:00:00Z"}) == {a, b}
    assert ids(**{"effective_date[lt]": "2024-02-01T00:00:00Z"}) == {a}
    assert ids(
        **{
            "effective_date[gt]": "2024-01-01T00:00:00Z",
            "effective_date[lt]": "2024-03-01T00:00:00Z",
        }
    ) == {b}
    assert ids(**{"effective_date[gte]": "2024-02-01T01:00:00+01:00"}) == {b, d}


def test_e8_bad_limit_400(http: httpx.Client) -> None:
    cus = customer(http)
    err(http.get(f"/customers/{cus['id']}/credits", params={"limit": 0}), 400, VALIDATION)
    err(http.get(f"/customers/{cus['id']}/credits", params={"limit": 101}), 400, VALIDATION)


def test_e9_by_external_id(http: httpx.Client) -> None:
    cus = customer(http)
    a = incr(http, cus["id"], 10)["credit_block"]["id"]
    page = ok(
        http.get(f"/customers/external_customer_id/{cus['external_customer_id']}/credits"), 200
    )
    assert [x["id"] for x in page["data"]] == [a]


def test_e8_unknown_customer_404(http: httpx.Client) -> None:
    err(http.get("/customers/NoSuchCustomer00/credits"), 404, NOT_FOUND)


def test_r_bal_5_default_list_sum_equals_ledger_balance(http: httpx.Client) -> None:
    cus = customer(http)
    c = cus["id"]
    incr(http, c, 10, expiry_date="2030-01-01T00:00:00Z")
    incr(http, c, 40)
    incr(http, c, 5, effective_date="2031-01-01T00:00:00Z")
    incr(http, c, 7, effective_date="2024-01-01T00:00:00Z", expiry_date="2024-02-01T00:00:00Z")
    decr(http, c, 25)
    last = ledger(http, c)[-1]
    assert (
        sum(Decimal(str(b["balance"])) for b in blocks(http, c))
        == Decimal(str(last["ending_balance"]))
        == 30
    )


# ============================================================== E21 metadata


def test_e21_metadata_merge(http: httpx.Client) -> None:
    cus = customer(http)
    bid = incr(http, cus["id"], 10, metadata={"a": "1", "b": "2"})["credit_block"]["id"]
    r = http.put(f"/credit_blocks/{bid}", json={"metadata": {"b": "20", "c": "3"}})
    b = ok(r, 200)
    assert b["metadata"] == {"a": "1", "b": "20", "c": "3"}
    assert block(http, bid)["metadata"] == {"a": "1", "b": "20", "c": "3"}


def test_e21_metadata_remove_key(http: httpx.Client) -> None:
    cus = customer(http)
    bid = incr(http, cus["id"], 10, metadata={"a": "1", "b": "2"})["credit_block"]["id"]
    b = ok(http.put(f"/credit_blocks/{bid}", json={"metadata": {"a": None, "zz": None}}), 200)
    assert b["metadata"] == {"b": "2"}


def test_e21_metadata_null_clears(http: httpx.Client) -> None:
    cus = customer(http)
    bid = incr(http, cus["id"], 10, metadata={"a": "1", "b": "2"})["credit_block"]["id"]
    b = ok(http.put(f"/credit_blocks/{bid}", json={"metadata": None}), 200)
    assert b["metadata"] == {}
    assert block(http, bid)["metadata"] == {}


def test_e21_body_without_metadata_is_noop(http: httpx.Client) -> None:
    cus = customer(http)
    bid = incr(http, cus["id"], 10, metadata={"a": "1"})["credit_block"]["id"]
    before = block(http, bid)
    b = ok(http.put(f"/credit_blocks/{bid}", json={"other": "x"}), 200)
    assert b == before


def test_e21_full_block_returned(http: httpx.Client) -> None:
    cus = customer(http)
    bid = incr(http, cus["id"], 10, per_unit_cost_basis="0.5")["credit_block"]["id"]
    b = ok(http.put(f"/credit_blocks/{bid}", json={"metadata": {"x": "y"}}), 200)
    assert b == block(http, bid)
    assert b["balance"] == 10 and b["per_unit_cost_basis"] == "0.5"


def test_r_meta_2_increment_entry_reports_live_block_metadata(http: httpx.Client) -> None:
    cus = customer(http)
    bid = incr(http, cus["id"], 10, metadata={"a": "1"})["credit_block"]["id"]
    ok(http.put(f"/credit_blocks/{bid}", json={"metadata": {"b": "2"}}), 200)
    (inc,) = ledger(http, cus["id"], entry_type="increment")
    assert inc["metadata"] == {"a": "1", "b": "2"}


def test_e21_metadata_limits(http: httpx.Client) -> None:
    cus = customer(http)
    bid = incr(http, cus["id"], 10)["credit_block"]["id"]
    err(http.put(f"/credit_blocks/{bid}", json={"metadata": {"k" * 41: "v"}}), 400)
    err(http.put(f"/credit_blocks/{bid}", json={"metadata": {"k": "v" * 501}}), 400)
    assert block(http, bid)["metadata"] == {}


def test_e21_unknown_block_404(http: httpx.Client) -> None:
    err(http.put("/credit_blocks/NoSuchBlock00000", json={"metadata": {"a": "b"}}), 404, NOT_FOUND)


def test_e21_sdk_update(server: Server, http: httpx.Client) -> None:
    cus = customer(http)
    bid = incr(http, cus["id"], 10, metadata={"a": "1"})["credit_block"]["id"]
    sdk = server.client(_strict_response_validation=True)
    b = sdk.credit_blocks.update(bid, metadata={"c": "3"})
    assert b.metadata == {"a": "1", "c": "3"}


# ============================================================== E23


def test_e23_manual_block_has_no_invoices(http: httpx.Client) -> None:
    cus = customer(http)
    bid = incr(http, cus["id"], 10)["credit_block"]["id"]
    r = ok(http.get(f"/credit_blocks/{bid}/invoices"), 200)
    assert r["invoices"] == []
    assert r["block"] == block(http, bid)


def test_e23_purchased_block_lists_its_invoice(http: httpx.Client) -> None:
    cus = customer(http)
    e = purchase(http, cus["id"])
    inv = the_invoice(e)
    r = ok(http.get(f"/credit_blocks/{e['credit_block']['id']}/invoices"), 200)
    assert r["block"] == block(http, e["credit_block"]["id"])
    (x,) = r["invoices"]
    assert x["id"] == inv["id"]
    assert x["invoice_number"] == inv["invoice_number"]
    assert x["status"] == "issued"
    assert x["customer"] == {"id": cus["id"], "external_customer_id": cus["external_customer_id"]}
    assert "subscription" in x and x["subscription"] is None


def test_e23_reflects_current_invoice_status(http: httpx.Client) -> None:
    cus = customer(http)
    e = purchase(http, cus["id"])
    ok(mark_paid(http, the_invoice(e)["id"]), 200)
    r = ok(http.get(f"/credit_blocks/{e['credit_block']['id']}/invoices"), 200)
    assert r["invoices"][0]["status"] == "paid"


def test_e23_strict_sdk(server: Server, http: httpx.Client) -> None:
    cus = customer(http)
    e = purchase(http, cus["id"])
    sdk = server.client(_strict_response_validation=True)
    r = sdk.credit_blocks.list_invoices(e["credit_block"]["id"])
    assert r.block.id == e["credit_block"]["id"]
    assert [i.id for i in r.invoices] == [the_invoice(e)["id"]]


# ============================================================== more edges


def test_r_cus_3_block_of_deleted_customer_404(http: httpx.Client) -> None:
    cus = customer(http)
    bid = incr(http, cus["id"], 10)["credit_block"]["id"]
    assert http.delete(f"/customers/{cus['id']}").status_code == 204
    err(http.get(f"/credit_blocks/{bid}"), 404, NOT_FOUND)
    err(http.put(f"/credit_blocks/{bid}", json={"metadata": {"a": "b"}}), 404, NOT_FOUND)
    err(http.delete(f"/credit_blocks/{bid}"), 404, NOT_FOUND)
    err(http.get(f"/credit_blocks/{bid}/invoices"), 404, NOT_FOUND)


def test_e23_top_up_block_lists_its_invoice(http: httpx.Client) -> None:
    cus = customer(http)
    ok(top_up(http, cus["id"], threshold="10"), 201)
    (t,) = top_up_increments(http, cus["id"])
    r = ok(http.get(f"/credit_blocks/{t['credit_block']['id']}/invoices"), 200)
    assert [i["id"] for i in r["invoices"]] == [the_invoice(t)["id"]]
    assert r["block"]["credit_block_source"] == "top_up"


def test_r_meta_1_null_values_dropped_on_create(http: httpx.Client) -> None:
    cus = customer(http)
    bid = incr(http, cus["id"], 1, metadata={"a": None, "b": "x"})["credit_block"]["id"]
    assert block(http, bid)["metadata"] == {"b": "x"}


def test_e21_more_than_50_keys_rejected(http: httpx.Client) -> None:
    cus = customer(http)
    bid = incr(http, cus["id"], 1)["credit_block"]["id"]
    err(
        http.put(f"/credit_blocks/{bid}", json={"metadata": {f"k{i}": "v" for i in range(51)}}), 400
    )


def test_e8_invalid_query_values_400(http: httpx.Client) -> None:
    cus = customer(http)
    err(
        http.get(f"/customers/{cus['id']}/credits", params={"include_all_blocks": "maybe"}),
        400,
        VALIDATION,
    )
    err(
        http.get(f"/customers/{cus['id']}/credits", params={"effective_date[gt]": "yesterday"}),
        400,
        VALIDATION,
    )


def test_r_cur_3_custom_unit_case_sensitive_listing(http: httpx.Client) -> None:
    cus = customer(http)
    incr(http, cus["id"], 1, currency="tokens")
    assert blocks(http, cus["id"], currency="Tokens") == []


def test_e23_top_level_shape(http: httpx.Client) -> None:
    cus = customer(http)
    bid = incr(http, cus["id"], 1)["credit_block"]["id"]
    r = ok(http.get(f"/credit_blocks/{bid}/invoices"), 200)
    assert set(r) >= {"block", "invoices"}
