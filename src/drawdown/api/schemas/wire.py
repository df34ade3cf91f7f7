"""The wire vocabulary: response shapes are `TypedDict`s written in these types, once.

Each response object is declared once, as a `TypedDict` beside the function that builds it
(`class CustomerJson(TypedDict)` and `def customer_json(...) -> CustomerJson` in
`schemas/customers.py`). The two uses of the declaration:

- mypy (strict, in the suite) checks the builder against it: a dict literal returned as a
  `TypedDict` must have exactly its keys, each of its type, so a key added, dropped or
  misspelt in one place and not the other fails the build;
- `component_schemas` turns it into the OpenAPI component the reference serves
  (`api/openapi.py`), so the document describes what the builder writes.

At run time a shape is a plain dict, encoded by orjson as before: declaring costs nothing.

JSON has fewer types than the wire needs, so the vocabulary names them: `Number` (an exact
Decimal, written as a JSON number without exponent, docs/rules.md §1.6), `DecimalString`,
`Money` (a decimal string rounded to the currency's minor unit), `Instant` (an ISO 8601
date-time), `Metadata` (string to string), `Null` (a key Orb has that drawdown always sends
as null), `EmptyList`; `X | None` is nullable, `list[X]` an array, `Literal[...]` a
constant or an enumeration, a nested `TypedDict` an object (a `$ref` when it is a component
of its own), `Annotated[str, Enum(...)]` an enumeration whose values a record holds as
plain text, and `Annotated[T, Doc("…")]` a field's description. A class's docstring is its
component's description. `Discriminated` names a union of shapes told apart by a constant
key (ledger entries by `entry_type`).
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any, Literal, NotRequired, TypeAlias, Union, get_args, get_origin

Schema = dict[str, Any]


@dataclass(frozen=True, eq=False)  # hashed by identity: typing hashes Annotated metadata
class Wire:
    """A field type's schema, stated outright (what JSON Schema cannot infer from Python)."""

    schema: Mapping[str, Any]


@dataclass(frozen=True)
class Doc:
    """A field's description."""

    text: str


@dataclass(frozen=True)
class Enum:
    """The values a text field takes (records keep them as `str`)."""

    values: tuple[str, ...]

    def __init__(self, *values: str) -> None:
        object.__setattr__(self, "values", values)


@dataclass(frozen=True)
class Discriminated:
    """A union of shapes, each with its own constant value of `key`, under one component."""

    name: str
    key: str
    description: str


Number = Decimal  # an exact decimal written as a JSON number (jsonio.py)
Instant = Annotated[str, Wire({"type": "string", "format": "date-time"})]
DecimalString = Annotated[
    str, Wire({"type": "string", "description": "A decimal string (ASCII digits)."})
]
Money = Annotated[
    str, Wire({"type": "string", "description": "Money, rounded to the currency's minor unit."})
]
Metadata = dict[str, str]
Null: TypeAlias = None  # as a field's whole type: a key drawdown always sends as null
EmptyList = Annotated[
    list[typing.Never],
    Wire({"type": "array", "maxItems": 0, "description": "Always empty in drawdown."}),
]

_NUMBER: Schema = {"type": "number", "description": "An exact decimal, written without exponent."}
_NULL: Schema = {"type": "null", "description": "Always null in drawdown."}
_SCALARS: Mapping[Any, Schema] = {
    str: {"type": "string"}, bool: {"type": "boolean"}, int: {"type": "integer"},
    float: {"type": "number"}, Decimal: _NUMBER,
}  # fmt: skip


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


def component_name(shape: Any) -> str:
    """`CustomerJson` is the component `Customer`; a discriminated union names itself."""
    union = _discriminated(shape)
    if union is not None:
        return union.name
    name: str = shape.__name__
    return name.removesuffix("Json")


def component_schemas(shapes: Iterable[Any]) -> dict[str, Schema]:
    """The OpenAPI components of `shapes`; a shape nested in another is a `$ref` when it is
    one of `shapes` and written out in place otherwise."""
    shapes = list(shapes)
    names = {_identity(shape): component_name(shape) for shape in shapes}
    assert len(set(names.values())) == len(shapes), "two shapes with one component name"
    return {component_name(shape): _Writer(names).component(shape) for shape in shapes}


def variants(union: Any) -> dict[str, Any]:
    """A discriminated union's shapes by their value of its key."""
    found = _discriminated(union)
    assert found is not None, f"not a Discriminated union: {union!r}"
    result = {}
    for variant in get_args(get_args(union)[0]):
        value_type, _ = fields_of(variant)[found.key]
        [value] = get_args(value_type)
        result[value] = variant
    return result


def is_shape(value: Any) -> bool:
    return typing.is_typeddict(value) or _discriminated(value) is not None


def fields_of(shape: Any) -> dict[str, tuple[Any, bool]]:
    """A TypedDict's keys in declaration order: (type, required)."""
    fields = {}
    for key, hint in typing.get_type_hints(shape, include_extras=True).items():
        required = get_origin(hint) is not NotRequired
        fields[key] = (hint if required else get_args(hint)[0], required)
    return fields


def _identity(shape: Any) -> Any:
    union = _discriminated(shape)
    return ("union", union.name) if union is not None else shape


def _discriminated(tp: Any) -> Discriminated | None:
    if get_origin(tp) is Annotated:
        for meta in tp.__metadata__:
            if isinstance(meta, Discriminated):
                return meta
    return None


def _description(shape: Any) -> str | None:
    doc = shape.__doc__
    if not doc:
        return None
    paragraphs = inspect.cleandoc(doc).split("\n\n")
    return "\n\n".join(" ".join(p.split("\n")) for p in paragraphs)


@dataclass(frozen=True)
class _Writer:
    names: Mapping[Any, str]

    def component(self, shape: Any) -> Schema:
        union = _discriminated(shape)
        if union is not None:
            return self._union(union, variants(shape))
        return self._object(shape, _description(shape))

    def schema(self, tp: Any) -> Schema:
        name = self.names.get(_identity(tp)) if is_shape(tp) else None
        if name is not None:
            return ref(name)
        origin, args = get_origin(tp), get_args(tp)
        if origin is Annotated:
            return self._annotated(tp)
        if tp is None or tp is type(None):
            return dict(_NULL)
        if tp in _SCALARS:
            return dict(_SCALARS[tp])
        if tp is Any:
            return {}
        if typing.is_typeddict(tp):
            return self._object(tp, None)
        if origin is Literal:
            return _literal(args)
        if origin in (Union, types.UnionType):
            return self._union_of(args)
        if origin is list:
            return {"type": "array", "items": self.schema(args[0])}
        if origin is dict:
            assert args[0] is str, f"object keys are strings: {tp}"
            if args[1] is Any:
                return {"type": "object"}
            return {"type": "object", "additionalProperties": self.schema(args[1])}
        raise TypeError(f"not in the wire vocabulary: {tp!r}")

    def _annotated(self, tp: Any) -> Schema:
        base, metadata = get_args(tp)[0], tp.__metadata__
        union = _discriminated(tp)
        if union is not None:
            return self._union(union, variants(tp))
        override = next((m for m in metadata if isinstance(m, Wire)), None)
        schema = dict(override.schema) if override is not None else self.schema(base)
        for meta in metadata:
            if isinstance(meta, Enum):
                assert base is str, f"an Enum is text: {tp!r}"
                schema = {"type": "string", "enum": list(meta.values)}
            elif isinstance(meta, Doc):
                schema["description"] = meta.text
        return schema

    def _union_of(self, args: tuple[Any, ...]) -> Schema:
        present = [arg for arg in args if arg is not type(None)]
        schema = (self.schema(present[0]) if len(present) == 1
                  else {"anyOf": [self.schema(arg) for arg in present]})  # fmt: skip
        return nullable(schema) if len(present) < len(args) else schema

    def _union(self, union: Discriminated, shapes: Mapping[str, Any]) -> Schema:
        mapping = {value: self.schema(variant) for value, variant in shapes.items()}
        schema: Schema = {"oneOf": list(mapping.values())}
        if all("$ref" in s for s in mapping.values()):
            schema["discriminator"] = {
                "propertyName": union.key,
                "mapping": {value: s["$ref"] for value, s in mapping.items()},
            }
        schema["description"] = union.description
        return schema

    def _object(self, shape: Any, description: str | None) -> Schema:
        fields = fields_of(shape)
        schema: Schema = {
            "type": "object",
            "properties": {key: self.schema(tp) for key, (tp, _) in fields.items()},
            "required": [key for key, (_, required) in fields.items() if required],
        }
        if description:
            schema["description"] = description
        return schema


def _literal(values: tuple[Any, ...]) -> Schema:
    kinds = {type(value) for value in values}
    assert kinds == {str}, f"literals on the wire are strings: {values}"
    if len(values) == 1:
        return {"type": "string", "const": values[0]}
    return {"type": "string", "enum": list(values)}
