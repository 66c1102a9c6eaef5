"""Typed, validated view of params.yaml.

`params.yaml` is the single source of truth for every hyperparameter. It is parsed once, at stage
start, into frozen dataclasses. Unknown keys and wrong types are errors that name the offending key
and the allowed ones: `dvc exp run -S lora.rr=64` would otherwise silently add a param nobody reads.

Each section's dataclass documents its fields; `__post_init__` checks value ranges.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml

T = TypeVar("T")


class ParamsError(ValueError):
    """A params.yaml entry is unknown, missing or of the wrong type or range."""


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _coerce(value: Any, tp: Any, where: str) -> Any:
    """Check `value` against the annotation `tp`, converting lists to tuples for frozen fields."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        errors = []
        for option in args:
            try:
                return _coerce(value, option, where)
            except ParamsError as error:
                errors.append(str(error))
        allowed = " | ".join(_type_name(a) for a in args)
        raise ParamsError(f"{where}: expected {allowed}, got {value!r}")
    if origin is Literal:
        if value not in args:
            raise ParamsError(f"{where}: {value!r} is not one of {list(args)}")
        return value
    if tp is type(None):
        if value is not None:
            raise ParamsError(f"{where}: expected null, got {value!r}")
        return None
    if dataclasses.is_dataclass(tp):
        return parse_section(tp, value, where)
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise ParamsError(f"{where}: expected a list, got {value!r}")
        item_type = args[0] if args else Any
        return tuple(_coerce(v, item_type, f"{where}[{i}]") for i, v in enumerate(value))
    if origin in (dict, Mapping) or tp is dict:
        if not isinstance(value, Mapping):
            raise ParamsError(f"{where}: expected a mapping, got {value!r}")
        key_type, value_type = args if args else (Any, Any)
        return types.MappingProxyType(
            {
                _coerce(k, key_type, where): _coerce(v, value_type, f"{where}.{k}")
                for k, v in value.items()
            }
        )
    if tp is float:
        # YAML reads 1e-4 as a string and 3 as an int; both are fine where a float is expected.
        if isinstance(value, bool):
            raise ParamsError(f"{where}: expected a number, got {value!r}")
        if isinstance(value, int | float):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise ParamsError(f"{where}: expected a number, got {value!r}")
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ParamsError(f"{where}: expected an integer, got {value!r}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ParamsError(f"{where}: expected true or false, got {value!r}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ParamsError(f"{where}: expected a string, got {value!r}")
        return value
    raise TypeError(f"{where}: unsupported annotation {tp!r}")


def parse_section(cls: type[T], data: Any, where: str) -> T:
    """Build dataclass `cls` from a params mapping, rejecting unknown keys and wrong types.

    `where` is the dotted params path used in error messages (e.g. ``"lora"``).
    """
    if data is None:
        data = {}
    label = where or "params.yaml"
    if not isinstance(data, Mapping):
        raise ParamsError(f"{label}: expected a mapping of keys, got {data!r}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ParamsError(
            f"{label}: unknown key(s) {', '.join(map(repr, unknown))}; "
            f"allowed keys are: {', '.join(sorted(fields))}"
        )
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for name, field in fields.items():
        key = f"{where}.{name}" if where else name
        if name in data:
            kwargs[name] = _coerce(data[name], hints[name], key)
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise ParamsError(f"{key}: missing required key")
    try:
        return cls(**kwargs)
    except ParamsError:
        raise
    except (ValueError, TypeError) as error:
        raise ParamsError(f"{label}: {error}") from error


def check(condition: bool, field: str, message: str) -> None:
    """Raise a ParamsError naming `field` unless `condition` holds (for __post_init__ checks)."""
    if not condition:
        raise ParamsError(f"{field}: {message}")


def check_known(
    values: Iterable[str], allowed: Sequence[str], field: str, *, what: str = ""
) -> None:
    """Raise a ParamsError naming `field`, the `values` (`what` they are, e.g. "field(s)") that
    `allowed` lacks, and the allowed ones, unless there are none."""
    unknown = sorted(set(values) - set(allowed))
    named = f"{what} {unknown}" if what else str(unknown)
    check(not unknown, field, f"unknown {named}; allowed: {list(allowed)}")


def load_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        with path.open(encoding="utf-8") as handle:
            data = yaml.safe_load(handle) or {}
    except yaml.YAMLError as error:
        raise ParamsError(f"{path}: not valid YAML: {error}") from error
    except FileNotFoundError as error:
        raise ParamsError(f"{path}: no such file") from error
    except IsADirectoryError as error:
        raise ParamsError(f"{path}: is a folder, not a params file") from error
    except UnicodeDecodeError as error:
        raise ParamsError(f"{path}: not UTF-8 text ({error.reason})") from error
    if not isinstance(data, dict):
        raise ParamsError(f"{path}: expected a mapping at the top level")
    return data
