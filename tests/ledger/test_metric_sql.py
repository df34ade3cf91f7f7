"""The SQL subset of billable metrics (ledger/metric_sql.py): what is accepted means exactly
what it says, everything else is an `UnsupportedSql` on the field (never another error),
and the canonical SQL of any definition parses back to it (hypothesis)."""

from __future__ import annotations

import contextlib
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drawdown.ledger.metric_sql import (
    MetricDefinition,
    UnsupportedSql,
    parse_filter,
    parse_metric_sql,
    parse_property,
)
from drawdown.ledger.usage import Metric, canonical_filters

ACCEPTED = [
    ("SELECT COUNT(*) FROM events WHERE event_name = 'api_call'",
     MetricDefinition("api_call", Metric("count"))),
    ("select count( * ) from EVENTS where name='api_call';",
     MetricDefinition("api_call", Metric("count"))),
    ("SELECT SUM(seconds) FROM events WHERE region = 'eu' AND event_name = 'gpu' AND tier = 2 "
     "AND beta = TRUE",
     MetricDefinition("gpu", Metric("sum", "seconds", (("beta", True), ("region", "eu"),
                                                       ("tier", Decimal(2)))))),
    ('SELECT SUM("name") FROM events WHERE "name" = \'x\' AND event_name = \'e\'',
     MetricDefinition("e", Metric("sum", "name", (("name", "x"),)))),
    ("SELECT COUNT(*) FROM events WHERE event_name = 'it''s' AND note = 'a''b' AND n = -1.50",
     MetricDefinition("it's", Metric("count", None, (("n", Decimal("-1.50")),
                                                     ("note", "a'b"))))),
    ('SELECT\n\tSUM("bytes sent")\nFROM events\nWHERE event_name = \'up\' AND "my-key" = false',
     MetricDefinition("up", Metric("sum", "bytes sent", (("my-key", False),)))),
]  # fmt: skip


@pytest.mark.parametrize(("sql", "expected"), ACCEPTED)
def test_the_subset_means_what_it_says(sql: str, expected: MetricDefinition) -> None:
    assert parse_metric_sql(sql) == expected


REFUSED = [
    ("", "is required"),
    ("   ", "is required"),
    ("SELECT MAX(x) FROM events WHERE event_name = 'a'", "expected COUNT(*) or SUM"),
    ("SELECT COUNT(x) FROM events WHERE event_name = 'a'", "COUNT(*)"),
    ("SELECT COUNT(DISTINCT x) FROM events WHERE event_name = 'a'", "COUNT(*)"),
    ("SELECT SUM(x * 2) FROM events WHERE event_name = 'a'", "expected ')'"),
    ("SELECT COUNT(*) FROM events", "expected WHERE"),
    ("SELECT COUNT(*) FROM other WHERE event_name = 'a'", "expected EVENTS"),
    ("SELECT COUNT(*) FROM events WHERE event_name = 'a' OR event_name = 'b'", "end of the"),
    ("SELECT COUNT(*) FROM events WHERE region = 'eu'", "one event name once"),
    ("SELECT COUNT(*) FROM events WHERE event_name = 'a' AND name = 'b'", "exactly once"),
    (
        "SELECT COUNT(*) FROM events WHERE event_name = 'a' AND r = 'x' AND r = 'y'",
        "compared twice",
    ),
    ("SELECT COUNT(*) FROM events WHERE event_name = 'a' AND timestamp = '2020'", "not a property"),
    ("SELECT SUM(timestamp) FROM events WHERE event_name = 'a'", "not a property"),
    ("SELECT SUM(event_name) FROM events WHERE event_name = 'a'", "not a property"),
    ("SELECT COUNT(*) FROM events WHERE event_name = 'a' GROUP BY region", "end of the"),
    ("SELECT COUNT(*) FROM events WHERE event_name = 1", "text value"),
    ("SELECT COUNT(*) FROM events WHERE event_name = ''", "text value"),
    ("SELECT COUNT(*) FROM events WHERE event_name = 'a' AND x != 'b'", "unexpected '!'"),
    ("SELECT COUNT(*) FROM events WHERE event_name = 'a' AND x = NULL", "expected a value"),
    ("SELECT COUNT(*) FROM events WHERE event_name = 'a'; DROP TABLE events", "end of the"),
    ("SELECT COUNT(*) FROM events WHERE event_name = 'a", "unexpected"),
    ("SELECT COUNT(*) FROM events WHERE event_name = 'a' AND (x = 'b')", "property name"),
    ("SELECT COUNT(*) FROM events WHERE event_name = 'a' AND x = 1.2.3", "unexpected"),
    ("SELECT COUNT(*) FROM events WHERE event_name = 'a' AND x IN ('b')", "expected '='"),
    ("SELECT COUNT(*) FROM events WHERE event_name = 'a' AND x LIKE 'b%'", "expected '='"),
    ("SELECT COUNT(*) FROM events WHERE event_name = 'a' AND \"\" = 'b'", "1-255"),
    ("SELECT COUNT(*) FROM events WHERE event_name = 'a' " + "AND x = 'b' " * 300, "at most 2000"),
]


@pytest.mark.parametrize(("sql", "message"), REFUSED)
def test_anything_else_is_refused_on_the_field(sql: str, message: str) -> None:
    with pytest.raises(UnsupportedSql) as info:
        parse_metric_sql(sql)
    assert info.value.field == "sql"
    assert message in info.value.message


def test_a_refusal_says_what_is_supported() -> None:
    with pytest.raises(UnsupportedSql) as info:
        parse_metric_sql("SELECT AVG(x) FROM events WHERE event_name = 'a'")
    assert "position 8" in info.value.message
    assert "SELECT COUNT(*) FROM events WHERE event_name" in info.value.message
    assert "SELECT SUM(<property>)" in info.value.message


def test_filters_and_grouping_keys() -> None:
    assert parse_filter("region = 'eu' AND tier = 2") == (("region", "eu"), ("tier", Decimal(2)))
    assert parse_filter('"user id" = true') == (("user id", True),)
    for bad in ("region = 'eu' OR tier = 2", "event_name = 'x'", "", "f(x) = 1"):
        with pytest.raises(UnsupportedSql) as info:
            parse_filter(bad, "price_evaluations.0.filter")
        assert info.value.field == "price_evaluations.0.filter"
    assert parse_property("region", "grouping_keys.0") == "region"
    assert parse_property('"my-key"', "grouping_keys.0") == "my-key"
    for bad in ("hour_floor_timestamp_millis(timestamp_millis)", "a b", "timestamp", "'x'", ""):
        with pytest.raises(UnsupportedSql):
            parse_property(bad, "grouping_keys.0")


# --- properties -------------------------------------------------------------------------------

texts = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
                min_size=1, max_size=20).filter(lambda s: s.strip() != "")  # fmt: skip
values = st.one_of(
    texts,
    st.booleans(),
    st.builds(lambda n, scale: Decimal(n).scaleb(-scale), st.integers(-(10**12), 10**12),
              st.integers(0, 6)),
)  # fmt: skip
definitions = st.builds(
    lambda name, kind, prop, filters: MetricDefinition(
        name, Metric(kind, prop if kind == "sum" else None, canonical_filters(filters.items()))
    ),
    texts, st.sampled_from(["count", "sum"]), texts,
    st.dictionaries(texts, values, max_size=4),
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(definitions)
def test_canonical_sql_parses_back_to_its_definition(definition: MetricDefinition) -> None:
    assert parse_metric_sql(definition.sql()) == definition


VOCABULARY = ["SELECT", "COUNT", "SUM", "(", ")", "*", "FROM", "events", "WHERE", "event_name",
              "name", "=", "AND", "OR", "'a'", "'b''c'", "1", "-2.5", "TRUE", "x", '"y"', ";",
              "timestamp", "NULL", "!", ",", "'"]  # fmt: skip


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(VOCABULARY), max_size=16))
def test_token_soup_is_parsed_or_refused_never_crashes(tokens: list[str]) -> None:
    try:
        parse_metric_sql(" ".join(tokens))
    except UnsupportedSql as exc:
        assert exc.field == "sql" and exc.message


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_any_text_is_parsed_or_refused_never_crashes(text: str) -> None:
    for parse in (parse_metric_sql, parse_filter):
        with contextlib.suppress(UnsupportedSql):
            parse(text)
