"""Metadata semantics of every resource (docs/rules.md §1.6): merge, remove, clear, limits."""

from __future__ import annotations

from collections.abc import Mapping

from drawdown.services.errors import InvalidField
from drawdown.settings import Settings

MetadataPatch = Mapping[str, str | None] | None


def validate(patch: MetadataPatch, settings: Settings, field: str = "metadata") -> None:
    if patch is None:
        return
    if len(patch) > settings.metadata_keys_max:
        raise InvalidField(field, f"at most {settings.metadata_keys_max} keys are allowed")
    for key, value in patch.items():
        if not 1 <= len(key) <= settings.metadata_key_length_max:
            raise InvalidField(
                f"{field}.{key}",
                f"keys must be 1-{settings.metadata_key_length_max} characters",
            )
        if value is not None and len(value) > settings.metadata_value_length_max:
            raise InvalidField(
                f"{field}.{key}",
                f"values must be at most {settings.metadata_value_length_max} characters",
            )


def on_create(patch: MetadataPatch) -> dict[str, str]:
    """Creation: `null` means `{}` and keys with null values are dropped."""
    return {k: v for k, v in (patch or {}).items() if v is not None}


def updated(
    current: Mapping[str, str], patch: MetadataPatch, settings: Settings, field: str = "metadata"
) -> dict[str, str]:
    """The checked result of an update: the key limit bounds what is stored, not the patch."""
    validate(patch, settings, field)
    result = merged(current, patch)
    if len(result) > settings.metadata_keys_max:
        raise InvalidField(field, f"at most {settings.metadata_keys_max} keys are allowed")
    return result


def merged(current: Mapping[str, str], patch: MetadataPatch) -> dict[str, str]:
    """Update: `null` clears everything; a null value removes its key; others are merged."""
    if patch is None:
        return {}
    result = dict(current)
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = value
    return result
