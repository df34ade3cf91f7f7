"""The SQL subset drawdown prices: a billable metric's `sql`, and `evaluate`'s `filter`.

Orb defines a billable metric as SQL over the events table. drawdown prices one event name
at a time with a linear metric, so it accepts exactly (keywords in any case, any spacing,
an optional trailing `;`):

    SELECT COUNT(*)        FROM events WHERE event_name = 'NAME' [AND prop = value ...]
    SELECT SUM(prop)       FROM events WHERE event_name = 'NAME' [AND prop = value ...]

`name` may be written for `event_name`; the event-name condition may come anywhere among
the conditions, and must come exactly once. `prop` is an event property: a bare identifier,
or a double-quoted one (`"name"`), which always means a property, even one spelled like a
column. `value` is a single-quoted string (`''` for a quote), a decimal number, `TRUE` or
`FALSE`. An `evaluate` filter is the conditions alone: `prop = value [AND prop = value ...]`.

A strict tokenizer feeds a recursive-descent parser of that grammar; anything else (OR,
NOT, functions, other columns, other tables, GROUP BY, ...) is an `UnsupportedSql` naming
where it stopped and what is supported. Pure: standard library only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from drawdown.ledger.errors import LedgerError
from drawdown.ledger.usage import Filters, FilterValue, Metric, canonical_filters

SQL_LENGTH_MAX = 2000
FILTERS_MAX = 20
IDENTIFIER_LENGTH_MAX = 255
LITERAL_LENGTH_MAX = 1000
EVENT_NAME_COLUMNS = ("event_name", "name")
# Columns of Orb's events table that are not properties: not usable in the subset.
OTHER_COLUMNS = ("timestamp", "customer_id", "external_customer_id", "idempotency_key")
KEYWORDS = ("select", "count", "sum", "from", "where", "and", "true", "false")
SUPPORTED = (
    "drawdown supports SELECT COUNT(*) FROM events WHERE event_name = '<event name>' and "
    "SELECT SUM(<property>) FROM events WHERE event_name = '<event name>', each optionally "
    "with AND <property> = <'text' | number | TRUE | FALSE> conditions"
)
FILTER_SUPPORTED = "a filter is <property> = <'text' | number | TRUE | FALSE> joined by AND"
GROUPING_SUPPORTED = 'a grouping key is a property name, bare or double-quoted ("my-key")'


class UnsupportedSql(LedgerError):
    """SQL outside the subset drawdown can price (see the module docstring)."""


@dataclass(frozen=True)
class MetricDefinition:
    """What a metric's SQL means to pricing: the events it selects and how each counts."""

    event_name: str
    metric: Metric

    def sql(self) -> str:
        """The canonical SQL of this definition (it parses back to the same definition)."""
        aggregate = "COUNT(*)" if self.metric.kind == "count" else f"SUM({_ident(self.metric)})"
        conditions = [f"event_name = {_string(self.event_name)}"]
        conditions += [f"{_quoted(p)} = {_literal(v)}" for p, v in self.metric.filters]
        return f"SELECT {aggregate} FROM events WHERE {' AND '.join(conditions)}"


# --- tokens -------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""(?P<space>\s+)
      | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
      | (?P<quoted>"(?:[^"]|"")*")
      | (?P<string>'(?:[^']|'')*')
      | (?P<number>-?[0-9]+(?:\.[0-9]+)?(?![A-Za-z0-9_.]))
      | (?P<punct>[()*=;])""",
    re.VERBOSE | re.ASCII,
)


@dataclass(frozen=True)
class _Token:
    kind: str  # word | quoted | string | number | punct | end
    text: str
    at: int  # 1-based character position, for messages

    def is_word(self, *words: str) -> bool:
        return self.kind == "word" and self.text.lower() in words

    def shown(self) -> str:
        return "the end" if self.kind == "end" else repr(self.text)


def _tokens(text: str, field: str, supported: str) -> list[_Token]:
    tokens, position = [], 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise UnsupportedSql(field, f"unexpected {text[position]!r} at position "
                                        f"{position + 1}; {supported}")  # fmt: skip
        kind = match.lastgroup
        assert kind is not None
        if kind != "space":
            tokens.append(_Token(kind, match.group(), position + 1))
        position = match.end()
    tokens.append(_Token("end", "", len(text) + 1))
    return tokens


# --- the parser -----------------------------------------------------------------------------


class _Parser:
    def __init__(self, text: str, field: str, supported: str) -> None:
        self.field, self.supported = field, supported
        self.tokens = _tokens(text, field, supported)
        self.index = 0

    @property
    def token(self) -> _Token:
        return self.tokens[self.index]

    def fail(self, expected: str) -> UnsupportedSql:
        token = self.token
        return UnsupportedSql(self.field, f"expected {expected} at position {token.at}, found "
                                          f"{token.shown()}; {self.supported}")  # fmt: skip

    def word(self, word: str) -> None:
        if not self.token.is_word(word):
            raise self.fail(word.upper())
        self.index += 1

    def punct(self, char: str) -> None:
        if self.token.kind != "punct" or self.token.text != char:
            raise self.fail(repr(char))
        self.index += 1

    def end(self) -> None:
        if self.token.kind == "punct" and self.token.text == ";":
            self.index += 1
        if self.token.kind != "end":
            raise self.fail("the end of the statement")

    def column(self) -> tuple[str, bool]:
        """(name, quoted): a column or property reference."""
        token = self.token
        if token.kind == "quoted":
            name = token.text[1:-1].replace('""', '"')
            quoted = True
        elif token.kind == "word" and token.text.lower() not in KEYWORDS:
            name, quoted = token.text, False
        else:
            raise self.fail("a property name")
        if not 1 <= len(name) <= IDENTIFIER_LENGTH_MAX:
            raise UnsupportedSql(self.field, f"property names are 1-{IDENTIFIER_LENGTH_MAX} "
                                             f"characters (position {token.at})")  # fmt: skip
        self.index += 1
        return name, quoted

    def literal(self) -> FilterValue:
        token = self.token
        value: FilterValue
        if token.kind == "string":
            value = token.text[1:-1].replace("''", "'")
            if len(value) > LITERAL_LENGTH_MAX:
                raise UnsupportedSql(self.field, f"text values are at most {LITERAL_LENGTH_MAX} "
                                                 f"characters (position {token.at})")  # fmt: skip
        elif token.kind == "number":
            value = Decimal(token.text)
        elif token.is_word("true", "false"):
            value = token.text.lower() == "true"
        else:
            raise self.fail("a value ('text', a number, TRUE or FALSE)")
        self.index += 1
        return value

    def conditions(self) -> list[tuple[str, bool, FilterValue, int]]:
        found = [self.condition()]
        while self.token.is_word("and"):
            self.index += 1
            found.append(self.condition())
        return found

    def condition(self) -> tuple[str, bool, FilterValue, int]:
        at = self.token.at
        name, quoted = self.column()
        self.punct("=")
        return name, quoted, self.literal(), at


def parse_metric_sql(text: str, field: str = "sql") -> MetricDefinition:
    """A metric's SQL as a definition pricing can apply, or `UnsupportedSql` naming why."""
    if not text.strip():
        raise UnsupportedSql(field, f"is required; {SUPPORTED}")
    if len(text) > SQL_LENGTH_MAX:
        raise UnsupportedSql(field, f"must be at most {SQL_LENGTH_MAX} characters")
    parser = _Parser(text, field, SUPPORTED)
    parser.word("select")
    kind, summed = _aggregate(parser)
    parser.word("from")
    parser.word("events")
    parser.word("where")
    conditions = parser.conditions()
    parser.end()
    event_name, filters = _split(conditions, field)
    return MetricDefinition(event_name, Metric(kind, summed, filters))


def _aggregate(parser: _Parser) -> tuple[str, str | None]:
    if parser.token.is_word("count"):
        parser.index += 1
        parser.punct("(")
        if parser.token.kind != "punct" or parser.token.text != "*":
            raise parser.fail("'*' (COUNT counts events: COUNT(*))")
        parser.index += 1
        parser.punct(")")
        return "count", None
    if parser.token.is_word("sum"):
        parser.index += 1
        parser.punct("(")
        at = parser.token.at
        name, quoted = parser.column()
        _check_property(name, quoted, at, parser.field)
        parser.punct(")")
        return "sum", name
    raise parser.fail("COUNT(*) or SUM(<property>)")


def _split(conditions: list[tuple[str, bool, FilterValue, int]], field: str) -> tuple[str, Filters]:
    event_names = [c for c in conditions if not c[1] and c[0].lower() in EVENT_NAME_COLUMNS]
    if len(event_names) != 1:
        many = "exactly once" if event_names else "once"
        raise UnsupportedSql(field, f"must select one event name {many}: "
                                    f"WHERE event_name = '<event name>'; {SUPPORTED}")  # fmt: skip
    _, _, event_name, at = event_names[0]
    if not isinstance(event_name, str) or not 1 <= len(event_name.strip()) <= 255:
        raise UnsupportedSql(field, f"the event name (position {at}) must be a text value "
                                    "of 1-255 characters")  # fmt: skip
    rest = [c for c in conditions if c is not event_names[0]]
    return event_name, _filters(rest, field)


def _filters(conditions: Iterable[tuple[str, bool, FilterValue, int]], field: str) -> Filters:
    found: dict[str, FilterValue] = {}
    for name, quoted, value, at in conditions:
        _check_property(name, quoted, at, field)
        if name in found:
            raise UnsupportedSql(field, f"{name!r} is compared twice (position {at}); "
                                        "each property may be compared once")  # fmt: skip
        found[name] = value
    if len(found) > FILTERS_MAX:
        raise UnsupportedSql(field, f"at most {FILTERS_MAX} property conditions are supported")
    return canonical_filters(found.items())


def _check_property(name: str, quoted: bool, at: int, field: str) -> None:
    if quoted:
        return
    lowered = name.lower()
    if lowered in EVENT_NAME_COLUMNS or lowered in OTHER_COLUMNS:
        raise UnsupportedSql(field, f"{name!r} (position {at}) is a column of the events "
                                    "table, not a property; only the event name can be "
                                    f'compared with it (write "{name}" for a property of '
                                    "that name)")  # fmt: skip


def parse_filter(text: str, field: str = "filter") -> Filters:
    """An `evaluate` filter: property equalities joined by AND (the metric's WHERE form)."""
    if len(text) > SQL_LENGTH_MAX:
        raise UnsupportedSql(field, f"must be at most {SQL_LENGTH_MAX} characters")
    parser = _Parser(text, field, FILTER_SUPPORTED)
    conditions = parser.conditions()
    parser.end()
    return _filters(conditions, field)


def parse_property(text: str, field: str) -> str:
    """A grouping key: one property name, bare or double-quoted (computed properties are
    not supported)."""
    parser = _Parser(text, field, GROUPING_SUPPORTED)
    at = parser.token.at
    name, quoted = parser.column()
    if parser.token.kind != "end":
        raise parser.fail("the end of the property name")
    _check_property(name, quoted, at, field)
    return name


# --- rendering ------------------------------------------------------------------------------


def _ident(metric: Metric) -> str:
    assert metric.property is not None
    return _quoted(metric.property)


def _quoted(name: str) -> str:
    bare = re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name, re.ASCII) is not None
    reserved = name.lower() in KEYWORDS + EVENT_NAME_COLUMNS + OTHER_COLUMNS
    if bare and not reserved:
        return name
    return '"' + name.replace('"', '""') + '"'


def _string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _literal(value: FilterValue) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, Decimal):
        return format(value, "f")
    return _string(value)
