"""Python tools: from a function (decorator or `Tool.from_function`) or from source text."""

from __future__ import annotations

import inspect
import json
import re
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

from . import _native
from ._native import ConfigError
from ._runtime import run_awaitable
from ._schema import ArgumentError, Param, apply_overrides, bind, object_schema, params_from_function, to_text

_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

#: Default per-call time limit of a Python tool, in seconds.
DEFAULT_TIMEOUT = 120.0

ParameterSpec = Union[str, Dict[str, Any]]


class ToolResult:
    """What a direct call (`Tool.call`) returned: the text the model sees and whether it is an error."""

    __slots__ = ("content", "is_error")

    def __init__(self, content: str, is_error: bool) -> None:
        self.content = content
        self.is_error = is_error

    def json(self) -> Any:
        """The content parsed as JSON."""
        return json.loads(self.content)

    def __repr__(self) -> str:
        return f"ToolResult(is_error={self.is_error!r}, content={self.content!r})"


class Tool:
    """A tool backed by a Python callable (sync or ``async def``).

    Build one with :meth:`from_function`, :meth:`from_source` or the :func:`tool` decorator.
    """

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        name: str,
        description: str,
        params: List[Param],
        var_kw: bool = False,
        timeout: Optional[float] = DEFAULT_TIMEOUT,
        read_only: bool = False,
        destructive: bool = True,
        idempotent: bool = False,
        open_world: bool = True,
    ) -> None:
        if not _NAME_RE.match(name):
            raise ConfigError(f"tool name {name!r} is not 1-64 characters of [A-Za-z0-9_-]")
        if timeout is not None and not timeout > 0:
            raise ConfigError(f"tool `{name}`: timeout must be positive or None, got {timeout!r}")
        self.fn = fn
        self.name = name
        self.description = description
        self.params = params
        self.var_kw = var_kw
        self.timeout = None if timeout is None else float(timeout)
        # What the tool does to the world, as MCP's hints; the defaults are MCP's for a
        # tool that says nothing (it may write and destroy, is not idempotent, reaches out).
        self.read_only = bool(read_only)
        self.destructive = bool(destructive) and not self.read_only
        self.idempotent = bool(idempotent) or self.read_only
        self.open_world = bool(open_world)
        self.input_schema: Dict[str, Any] = object_schema(params, var_kw)
        self.schema_json = json.dumps(self.input_schema)

    # -- construction -------------------------------------------------------------------

    @classmethod
    def from_function(
        cls,
        fn: Callable[..., Any],
        *,
        name: Optional[str] = None,
        description: Optional[str] = None,
        parameters: Optional[Sequence[ParameterSpec]] = None,
        timeout: Optional[float] = DEFAULT_TIMEOUT,
        read_only: bool = False,
        destructive: bool = True,
        idempotent: bool = False,
        open_world: bool = True,
    ) -> "Tool":
        """A tool from a function: name, description and parameters come from the
        arguments, else from the function's name, docstring, signature, defaults and type
        hints. `parameters` (portal style: ``[{"name", "type", "description", "required",
        "default", "enum"}]``) refines or replaces what introspection found."""
        if not callable(fn):
            raise ConfigError(f"a tool needs a callable, got {fn!r}")
        try:
            params, var_kw, summary = params_from_function(fn)
            params = apply_overrides(params, list(parameters) if parameters is not None else None, known_only=not _has_var_kw(fn))
        except TypeError as e:
            raise ConfigError(f"tool {name or getattr(fn, '__name__', fn)!r}: {e}") from None
        tool_name = name or getattr(fn, "__name__", None) or "tool"
        if description is None:
            description = summary or f"Python function `{tool_name}`."
        return cls(fn, name=tool_name, description=description, params=params, var_kw=var_kw, timeout=timeout, read_only=read_only, destructive=destructive, idempotent=idempotent, open_world=open_world)

    @classmethod
    def from_source(
        cls,
        *,
        name: str,
        description: str,
        code: str,
        parameters: Optional[Sequence[ParameterSpec]] = None,
        entrypoint: str = "main",
        timeout: Optional[float] = DEFAULT_TIMEOUT,
        read_only: bool = False,
        destructive: bool = True,
        idempotent: bool = False,
        open_world: bool = True,
    ) -> "Tool":
        """A tool from source text defining `entrypoint` (default ``main``), the way a
        portal stores tools. The code runs once, now, in a fresh module namespace; a syntax
        error or a missing entry point is a ConfigError."""
        module_name = f"sre_harness_tool_{re.sub(r'[^A-Za-z0-9_]', '_', name)}"
        namespace: Dict[str, Any] = {"__name__": module_name, "__builtins__": __builtins__}
        try:
            compiled = compile(code, f"<tool {name}>", "exec")
        except SyntaxError as e:
            raise ConfigError(f"tool `{name}`: syntax error at line {e.lineno}: {e.msg}") from None
        try:
            exec(compiled, namespace)
        except Exception as e:
            raise ConfigError(f"tool `{name}`: loading the code raised {type(e).__name__}: {e}") from None
        fn = namespace.get(entrypoint)
        if not callable(fn):
            raise ConfigError(f"tool `{name}`: the code defines no function `{entrypoint}`")
        return cls.from_function(fn, name=name, description=description, parameters=parameters, timeout=timeout, read_only=read_only, destructive=destructive, idempotent=idempotent, open_world=open_world)

    # -- calling ------------------------------------------------------------------------

    def _invoke(self, args_json: str, session_id: Optional[str], timeout: Optional[float]) -> Tuple[bool, str]:
        """Called by the harness on a worker thread: ``(is_error, text for the model)``."""
        try:
            kwargs = bind(self.params, self.var_kw, json.loads(args_json))
        except ArgumentError as e:
            return True, f"ArgumentError: {e}"
        except ValueError as e:
            return True, f"ArgumentError: the arguments are not valid JSON: {e}"
        try:
            result = self.fn(**kwargs)
            if inspect.isawaitable(result):
                result = run_awaitable(result, session_id, timeout, f"tool `{self.name}`")
            return False, to_text(result)
        except Exception as e:
            return True, f"{type(e).__name__}: {e}"

    def call(self, arguments: Optional[Dict[str, Any]] = None, /, **kwargs: Any) -> ToolResult:
        """Call the tool as the agent would (through the harness: worker thread, timeout,
        conversion, error capture), outside any agent."""
        args = dict(arguments or {})
        args.update(kwargs)
        is_error, content = _native.call_tool(self, json.dumps(args))
        return ToolResult(content, is_error)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the underlying function directly (plain Python)."""
        return self.fn(*args, **kwargs)

    @property
    def spec(self) -> Dict[str, Any]:
        """``{"name", "description", "input_schema"}`` as offered to the model."""
        return {"name": self.name, "description": self.description, "input_schema": self.input_schema}

    def __repr__(self) -> str:
        return f"Tool(name={self.name!r}, params={[p.name for p in self.params]!r})"


def _has_var_kw(fn: Callable[..., Any]) -> bool:
    try:
        return any(p.kind is p.VAR_KEYWORD for p in inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return False


def tool(
    fn: Optional[Callable[..., Any]] = None,
    *,
    name: Optional[str] = None,
    description: Optional[str] = None,
    parameters: Optional[Sequence[ParameterSpec]] = None,
    timeout: Optional[float] = DEFAULT_TIMEOUT,
    read_only: bool = False,
    destructive: bool = True,
    idempotent: bool = False,
    open_world: bool = True,
) -> Any:
    """Decorator: ``@tool`` or ``@tool(name=..., description=..., timeout=...)`` turns a
    function into a :class:`Tool` (still callable as the plain function)."""

    def wrap(f: Callable[..., Any]) -> Tool:
        return Tool.from_function(f, name=name, description=description, parameters=parameters, timeout=timeout, read_only=read_only, destructive=destructive, idempotent=idempotent, open_world=open_world)

    if fn is not None:
        return wrap(fn)
    return wrap
