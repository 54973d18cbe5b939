"""Signature introspection (JSON schema from a Python function) and argument conversion.

Kept in Python: ``inspect`` and ``typing`` do the work, and the rules stay readable.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import datetime
import enum
import inspect
import json
import re
import sys
import typing
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

try:  # Python >= 3.10: `int | None`
    from types import UnionType as _UnionType  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - Python 3.9
    _UnionType = None  # type: ignore[assignment,misc]

_NoneType = type(None)
_EMPTY = inspect.Parameter.empty


class ArgumentError(Exception):
    """An argument the model gave cannot be used (model-visible)."""


def _pydantic_base() -> Optional[type]:
    mod = sys.modules.get("pydantic")
    if mod is None:
        try:
            import pydantic as mod  # type: ignore[no-redef]
        except Exception:  # pydantic is optional
            return None
    return getattr(mod, "BaseModel", None)


def _is_pydantic(tp: Any) -> bool:
    base = _pydantic_base()
    return base is not None and isinstance(tp, type) and issubclass(tp, base)


# Names a portal (or `Tool.from_source(parameters=[...])`) may use for a parameter type.
TYPE_NAMES: Dict[str, Any] = {
    "string": str,
    "str": str,
    "integer": int,
    "int": int,
    "number": float,
    "float": float,
    "boolean": bool,
    "bool": bool,
    "array": list,
    "list": list,
    "object": dict,
    "dict": dict,
    "any": Any,
    "null": _NoneType,
}


def _is_union(origin: Any) -> bool:
    return origin is typing.Union or (_UnionType is not None and origin is _UnionType)


def schema_for(tp: Any) -> Dict[str, Any]:
    """The JSON schema of a type hint (``{}`` = anything)."""
    if tp is _EMPTY or tp is Any or tp is object:
        return {}
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    schema: Dict[str, Any]
    if origin is typing.Annotated:
        schema = dict(schema_for(args[0]))
        for meta in args[1:]:
            if isinstance(meta, str):
                schema["description"] = meta
                break
        return schema
    if _is_union(origin):
        members = [a for a in args if a is not _NoneType]
        if len(members) == 1:
            inner = schema_for(members[0])
            return {"anyOf": [inner, {"type": "null"}]} if inner else {}
        return {"anyOf": [schema_for(a) for a in args]}
    if origin is typing.Literal:
        schema = {"enum": list(args)}
        kinds = {type(a) for a in args}
        if len(kinds) == 1:
            only = kinds.pop()
            sub = schema_for(only)
            if "type" in sub:
                schema["type"] = sub["type"]
        return schema
    if tp is _NoneType:
        return {"type": "null"}
    if tp is bool:
        return {"type": "boolean"}
    if tp is int:
        return {"type": "integer"}
    if tp is float:
        return {"type": "number"}
    if tp is str:
        return {"type": "string"}
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return {"enum": [m.value for m in tp]}
    if _is_pydantic(tp):
        return tp.model_json_schema()  # type: ignore[attr-defined,no-any-return]
    seq = (list, tuple, set, frozenset, collections.abc.Sequence, collections.abc.Set)
    if tp in seq or origin in seq:
        schema = {"type": "array"}
        if args and not (origin is tuple and len(args) == 2 and args[1] is Ellipsis):
            if origin is tuple:
                schema["prefixItems"] = [schema_for(a) for a in args]
            else:
                items = schema_for(args[0])
                if items:
                    schema["items"] = items
        elif args:
            items = schema_for(args[0])
            if items:
                schema["items"] = items
        return schema
    maps = (dict, collections.abc.Mapping, collections.abc.MutableMapping)
    if tp in maps or origin in maps:
        schema = {"type": "object"}
        if len(args) == 2:
            values = schema_for(args[1])
            if values:
                schema["additionalProperties"] = values
        return schema
    if dataclasses.is_dataclass(tp):
        return {"type": "object"}
    return {}


def describe(tp: Any) -> str:
    """A short human name of a type hint, for error messages."""
    if tp is _EMPTY:
        return "any value"
    if isinstance(tp, type) and typing.get_origin(tp) is None:
        return tp.__name__
    return str(tp).replace("typing.", "")


_TRUE = {"true", "yes", "y", "1", "on"}
_FALSE = {"false", "no", "n", "0", "off"}


def _shown(value: Any) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def coerce(value: Any, tp: Any, where: str) -> Any:
    """Convert a JSON value to the type hint `tp`, or raise ArgumentError."""
    if tp is _EMPTY or tp is Any or tp is object:
        return value
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)

    def fail() -> ArgumentError:
        return ArgumentError(
            f"`{where}` must be {describe(tp)}, got {_kind(value)} {_shown(value)}"
        )

    if origin is typing.Annotated:
        return coerce(value, args[0], where)
    if _is_union(origin):
        if value is None and _NoneType in args:
            return None
        members = [a for a in args if a is not _NoneType]
        # An exact type match first (so `int | str` keeps "42" a string), then conversions.
        for member in members:
            if isinstance(member, type) and type(value) is member:
                return value
        for member in members:
            try:
                return coerce(value, member, where)
            except ArgumentError:
                continue
        raise fail()
    if origin is typing.Literal:
        for option in args:
            if value == option and type(value) is type(option):
                return option
        for option in args:
            if str(option) == str(value):
                return option
        raise ArgumentError(
            f"`{where}` must be one of {', '.join(_shown(a) for a in args)}, got {_shown(value)}"
        )
    if tp is _NoneType:
        if value is None:
            return None
        raise fail()
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        raise fail()
    if tp is int:
        if isinstance(value, bool):
            raise fail()
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                try:
                    f = float(value.strip())
                except ValueError:
                    raise fail() from None
                if f.is_integer():
                    return int(f)
        raise fail()
    if tp is float:
        if isinstance(value, bool):
            raise fail()
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value.strip())
            except ValueError:
                raise fail() from None
        raise fail()
    if tp is str:
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        raise fail()
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        for member in tp:
            if member.value == value or str(member.value) == str(value) or member.name == value:
                return member
        raise ArgumentError(
            f"`{where}` must be one of {', '.join(_shown(m.value) for m in tp)}, got {_shown(value)}"
        )
    if _is_pydantic(tp):
        try:
            if isinstance(value, str):
                return tp.model_validate_json(value)  # type: ignore[attr-defined]
            return tp.model_validate(value)  # type: ignore[attr-defined]
        except Exception as e:  # pydantic.ValidationError
            raise ArgumentError(f"`{where}`: {e}") from None
    seq = (list, tuple, set, frozenset, collections.abc.Sequence, collections.abc.Set)
    if tp in seq or origin in seq:
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                raise fail() from None
        if not isinstance(value, list):
            raise fail()
        kind = origin or tp
        if origin is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
            if len(args) != len(value):
                raise ArgumentError(f"`{where}` must have {len(args)} items, got {len(value)}")
            return tuple(coerce(v, a, f"{where}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
        items = [coerce(v, args[0], f"{where}[{i}]") for i, v in enumerate(value)] if args else value
        if kind in (tuple,):
            return tuple(items)
        if kind in (set, frozenset, collections.abc.Set):
            return set(items) if kind is not frozenset else frozenset(items)
        return list(items)
    maps = (dict, collections.abc.Mapping, collections.abc.MutableMapping)
    if tp in maps or origin in maps:
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                raise fail() from None
        if not isinstance(value, dict):
            raise fail()
        if len(args) == 2:
            return {k: coerce(v, args[1], f"{where}.{k}") for k, v in value.items()}
        return value
    return value


@dataclasses.dataclass
class Param:
    """One parameter of a tool."""

    name: str
    annotation: Any = _EMPTY
    schema: Dict[str, Any] = dataclasses.field(default_factory=dict)
    required: bool = True
    default: Any = _EMPTY
    description: Optional[str] = None


def _doc_parts(doc: Optional[str]) -> Tuple[str, Dict[str, str]]:
    """Summary (the text before the first section) and per-parameter descriptions.

    Understands Google style (an ``Args:`` / ``Parameters:`` section of
    ``name (type): text`` lines) and reST (``:param name: text``).
    """
    if not doc:
        return "", {}
    text = inspect.cleandoc(doc)
    params: Dict[str, str] = {}
    for found in re.finditer(r"^\s*:param\s+(?:[^:\s]+\s+)?(\w+):\s*(.*)$", text, re.M):
        params[found.group(1)] = found.group(2).strip()
    sections = {"args", "arguments", "parameters", "params", "returns", "return", "raises",
                "yields", "examples", "example", "notes", "note", "see also"}
    summary: List[str] = []
    section: Optional[str] = None
    current: Optional[str] = None
    base_indent: Optional[int] = None
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.endswith(":") and stripped[:-1].strip().lower() in sections:
            section = stripped[:-1].strip().lower()
            current, base_indent = None, None
            continue
        if section is None:
            if stripped.startswith(":"):
                section = "rest"
            else:
                summary.append(line)
            continue
        if section not in {"args", "arguments", "parameters", "params"} or not stripped:
            continue
        indent = len(line) - len(line.lstrip())
        m = re.match(r"^\*{0,2}(\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$", stripped)
        if m and (base_indent is None or indent <= base_indent):
            base_indent = indent
            current = m.group(1)
            params.setdefault(current, m.group(2).strip())
        elif current is not None:
            params[current] = (params.get(current, "") + " " + stripped).strip()
    return "\n".join(summary).strip(), params


def _default_type(default: Any) -> Any:
    if default is _EMPTY or default is None:
        return _EMPTY
    for t in (bool, int, float, str, list, dict):
        if type(default) is t:
            return t
    return _EMPTY


def _json_default(value: Any) -> Tuple[bool, Any]:
    try:
        json.dumps(value)
        return True, value
    except (TypeError, ValueError):
        if isinstance(value, enum.Enum):
            return True, value.value
        return False, None


def params_from_function(fn: Callable[..., Any]) -> Tuple[List[Param], bool, str]:
    """Parameters, whether extra keyword arguments are accepted, and the docstring summary."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError) as e:
        raise TypeError(f"cannot read the signature of {fn!r}: {e}") from None
    try:
        hints = typing.get_type_hints(fn, include_extras=True)
    except Exception:  # an unresolvable forward reference: resolve parameter by parameter
        hints = {}
        globalns = getattr(fn, "__globals__", {})
        for pname, ann in getattr(fn, "__annotations__", {}).items():
            if isinstance(ann, str):
                try:
                    ann = eval(ann, globalns, {})  # noqa: S307 - the function's own annotation
                except Exception:
                    continue
            hints[pname] = ann
    summary, docs = _doc_parts(inspect.getdoc(fn))
    params: List[Param] = []
    var_kw = False
    for p in sig.parameters.values():
        if p.kind is p.VAR_KEYWORD:
            var_kw = True
            continue
        if p.kind is p.VAR_POSITIONAL or p.kind is p.POSITIONAL_ONLY:
            if p.kind is p.POSITIONAL_ONLY and p.default is _EMPTY:
                raise TypeError(
                    f"parameter `{p.name}` of {getattr(fn, '__name__', fn)!r} is positional-only; tools take keyword arguments"
                )
            continue
        ann = hints.get(p.name, p.annotation)
        if isinstance(ann, str):  # unresolved string annotation
            ann = TYPE_NAMES.get(ann, _EMPTY)
        if ann is _EMPTY:
            ann = _default_type(p.default)
        schema = dict(schema_for(ann))
        desc = docs.get(p.name) or schema.get("description")
        if desc:
            schema["description"] = desc
        if p.default is not _EMPTY:
            ok, jd = _json_default(p.default)
            if ok and jd is not None:
                schema["default"] = jd
        params.append(
            Param(
                name=p.name,
                annotation=ann,
                schema=schema,
                required=p.default is _EMPTY,
                default=p.default,
                description=desc or None,
            )
        )
    return params, var_kw, summary


def apply_overrides(
    params: List[Param], overrides: Optional[Sequence[Union[str, Dict[str, Any]]]], known_only: bool
) -> List[Param]:
    """Merge a portal-style parameter list into (or in place of) introspected parameters.

    Each entry: ``{"name", "type", "description", "required", "default", "enum", "items"}``;
    ``type`` is a JSON-schema or Python type name, or a Python type.
    """
    if overrides is None:
        return params
    by_name = {p.name: p for p in params}
    out: List[Param] = []
    seen = set()
    for entry in overrides:
        if isinstance(entry, str):
            entry = {"name": entry}
        if not isinstance(entry, dict) or "name" not in entry:
            raise TypeError(f"a parameter must be a dict with a `name`, got {entry!r}")
        name = str(entry["name"])
        seen.add(name)
        base = by_name.get(name)
        if base is None:
            if known_only:
                raise TypeError(f"parameter `{name}` is not a parameter of the function")
            base = Param(name=name)
        p = dataclasses.replace(base, schema=dict(base.schema))
        if "type" in entry and entry["type"] is not None:
            t = entry["type"]
            if isinstance(t, str):
                if t.lower() not in TYPE_NAMES:
                    raise TypeError(f"parameter `{name}`: unknown type {t!r} (one of {', '.join(sorted(TYPE_NAMES))})")
                t = TYPE_NAMES[t.lower()]
            p.annotation = t
            keep = {k: v for k, v in p.schema.items() if k in ("description", "default")}
            p.schema = {**schema_for(t), **keep}
        if "enum" in entry and entry["enum"] is not None:
            options = tuple(entry["enum"])
            p.annotation = typing.Literal[options]  # type: ignore[valid-type]
            p.schema["enum"] = list(options)
        if "items" in entry and isinstance(entry["items"], dict):
            p.schema["items"] = entry["items"]
        if entry.get("description"):
            p.description = str(entry["description"])
            p.schema["description"] = p.description
        if "default" in entry:
            p.default = entry["default"]
            p.required = False
            if entry["default"] is not None:
                p.schema["default"] = entry["default"]
        if "required" in entry:
            p.required = bool(entry["required"])
        out.append(p)
    # Function parameters the list does not name keep their introspected form.
    out.extend(p for p in params if p.name not in seen)
    return out


def object_schema(params: List[Param], var_kw: bool) -> Dict[str, Any]:
    schema: Dict[str, Any] = {
        "type": "object",
        "properties": {p.name: p.schema for p in params},
    }
    required = [p.name for p in params if p.required]
    if required:
        schema["required"] = required
    if not var_kw:
        schema["additionalProperties"] = False
    return schema


def bind(params: List[Param], var_kw: bool, args: Any) -> Dict[str, Any]:
    """Keyword arguments for the function from the model's JSON arguments."""
    if args is None:
        args = {}
    if not isinstance(args, dict):
        raise ArgumentError(f"the arguments must be a JSON object, got {_kind(args)}")
    known = {p.name: p for p in params}
    extra = sorted(k for k in args if k not in known)
    if extra and not var_kw:
        allowed = ", ".join(f"`{p.name}`" for p in params) or "none"
        raise ArgumentError(
            f"unexpected argument{'s' if len(extra) > 1 else ''} {', '.join(f'`{k}`' for k in extra)} (parameters: {allowed})"
        )
    missing = [p.name for p in params if p.required and p.name not in args]
    if missing:
        raise ArgumentError(
            f"missing required argument{'s' if len(missing) > 1 else ''} {', '.join(f'`{k}`' for k in missing)}"
        )
    kwargs: Dict[str, Any] = {}
    for name, value in args.items():
        p = known.get(name)
        kwargs[name] = coerce(value, p.annotation, name) if p is not None else value
    for p in params:
        if p.name not in kwargs and not p.required and p.default is not _EMPTY:
            kwargs[p.name] = p.default
    return kwargs


def _json_fallback(o: Any) -> Any:
    dump = getattr(o, "model_dump", None)
    if callable(dump):
        return dump(mode="json")
    if dataclasses.is_dataclass(o) and not isinstance(o, type):
        return dataclasses.asdict(o)
    if isinstance(o, (set, frozenset, tuple)):
        return list(o)
    if isinstance(o, bytes):
        return o.decode("utf-8", "replace")
    if isinstance(o, (datetime.datetime, datetime.date, datetime.time)):
        return o.isoformat()
    if isinstance(o, enum.Enum):
        return o.value
    return str(o)


def to_text(value: Any) -> str:
    """What the model sees: a string as is, anything else as JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=_json_fallback)
