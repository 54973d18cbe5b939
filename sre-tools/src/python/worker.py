# The persistent worker of an sre-tools Python tool (run as `python3 -I -c <this file>`).
#
# Protocol: JSON lines. The first line on stdin is the init message
#   {"name", "code", "entrypoint", "params", "max_result_bytes", "max_output_chars"}
# answered by {"ready": true, "python": "..."} or {"ready": false, "error", "traceback"};
# then each request {"id", "args"} is answered by
#   {"id", "ok": true, "result": <json>, "cpu": <seconds>}
#   {"id", "ok": false, "kind": "exception" | "result", "error", "traceback", "output", "cpu"}
#
# The protocol has its own descriptors: copies of the original stdin/stdout made before the
# tool's code runs (not inherited by subprocesses). fd 0 becomes /dev/null and fd 1 a copy of
# fd 2, so nothing the tool (or a program it starts) prints can reach the protocol; sys.stdout
# and sys.stderr are captured per call and shown with an error.
import sys
import os

_proto_in = os.fdopen(os.dup(0), "rb")
_proto_out = os.fdopen(os.dup(1), "wb")
_null = os.open(os.devnull, os.O_RDONLY)
os.dup2(_null, 0)
os.close(_null)
os.dup2(2, 1)

import inspect
import json
import linecache
import time
import traceback


def _send(obj):
    _proto_out.write(json.dumps(obj, ensure_ascii=False).encode("utf-8", "replace") + b"\n")
    _proto_out.flush()


class _Capture:
    """A text stream keeping the last `cap` characters written to it."""

    def __init__(self, cap):
        self.cap = cap
        self.parts = []
        self.size = 0
        self.total = 0

    def write(self, s):
        s = str(s)
        self.total += len(s)
        self.parts.append(s)
        self.size += len(s)
        if self.size > 2 * self.cap:
            text = "".join(self.parts)[-self.cap :]
            self.parts = [text]
            self.size = len(text)
        return len(s)

    def flush(self):
        pass

    def isatty(self):
        return False

    def writable(self):
        return True

    def text(self):
        text = "".join(self.parts)
        if len(text) > self.cap:
            text = text[-self.cap :]
        if self.total > len(text):
            return "[... %d characters omitted ...]\n%s" % (self.total - len(text), text)
        return text


def _tail(exc, skip):
    """The last lines of the traceback of `exc`, without the worker's own frames."""
    tb = exc.__traceback__
    for _ in range(skip):
        if tb is not None:
            tb = tb.tb_next
    lines = "".join(traceback.format_exception(type(exc), exc, tb)).rstrip("\n").split("\n")
    if len(lines) > 25:
        lines = lines[:1] + ["  ..."] + lines[-23:]
    text = "\n".join(lines)
    return text if len(text) <= 4000 else "...\n" + text[-4000:]


def _describe(exc):
    text = str(exc)
    return "%s: %s" % (type(exc).__name__, text) if text else type(exc).__name__


def _unserialisable(value, path="result", depth=0):
    """The path and type name of the first value json cannot encode, or None."""
    if depth > 100:
        return None
    if value is None or isinstance(value, (str, bool, int)):
        return None
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return path, "float %r" % value
        return None
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, (str, int, float, bool)) and k is not None:
                return "%s key %r" % (path, k), type(k).__name__
            found = _unserialisable(v, "%s[%r]" % (path, k), depth + 1)
            if found:
                return found
        return None
    if isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            found = _unserialisable(v, "%s[%d]" % (path, i), depth + 1)
            if found:
                return found
        return None
    return path, type(value).__name__


class _Tool:
    def __init__(self, init):
        self.name = init["name"]
        self.params = init["params"]
        self.max_result = init["max_result_bytes"]
        self.max_output = init["max_output_chars"]
        filename = "<python tool %s>" % self.name
        code = init["code"]
        linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
        self.module = {"__name__": "__sre_tool__", "__file__": filename, "__builtins__": __builtins__}
        exec(compile(code, filename, "exec"), self.module)
        fn = self.module.get(init["entrypoint"])
        if not callable(fn):
            raise NameError("the code defines no function `%s`" % init["entrypoint"])
        self.fn = fn
        try:
            self.signature = inspect.signature(fn)
        except (TypeError, ValueError):
            self.signature = None

    def kwargs(self, args):
        """Declared parameters the caller left out get None when the function gives them no
        default (and are left out, so the function's own default applies, when it does)."""
        kwargs = dict(args)
        if self.signature is None:
            return kwargs
        accepted = self.signature.parameters
        for name in self.params:
            p = accepted.get(name)
            if name not in kwargs and p is not None and p.default is inspect.Parameter.empty:
                kwargs[name] = None
        return kwargs

    def call(self, req):
        out = _Capture(self.max_output)
        old = sys.stdout, sys.stderr
        sys.stdout = sys.stderr = out
        try:
            result = self.fn(**self.kwargs(req["args"]))
            if inspect.iscoroutine(result):
                import asyncio

                result = asyncio.run(result)
        except BaseException as exc:  # SystemExit and KeyboardInterrupt are the tool's too
            sys.stdout, sys.stderr = old
            return {
                "id": req["id"],
                "ok": False,
                "kind": "exception",
                "error": _describe(exc),
                "traceback": _tail(exc, 1),
                "output": out.text(),
                "cpu": time.process_time(),
            }
        finally:
            sys.stdout, sys.stderr = old
        return self.encode(req["id"], result, out)

    def encode(self, rid, result, out):
        def fail(message):
            return {
                "id": rid,
                "ok": False,
                "kind": "result",
                "error": message,
                "traceback": "",
                "output": out.text(),
                "cpu": time.process_time(),
            }

        bad = _unserialisable(result)
        if bad:
            return fail(
                "the result is not JSON-serialisable: %s is a %s (return dicts, lists, str, "
                "int, float, bool or None)" % bad
            )
        try:
            body = json.dumps(result, ensure_ascii=False, allow_nan=False).encode("utf-8")
        except (TypeError, ValueError, RecursionError, UnicodeEncodeError) as exc:
            return fail("the result is not JSON-serialisable: %s" % _describe(exc))
        if len(body) > self.max_result:
            return fail(
                "the result is %d bytes of JSON, over the limit of %d bytes: return less"
                % (len(body), self.max_result)
            )
        # Spliced rather than encoded twice.
        cpu = repr(time.process_time()).encode()
        return b'{"id":%d,"ok":true,"cpu":%s,"result":' % (rid, cpu) + body + b"}"

def main():
    line = _proto_in.readline()
    if not line:
        return
    init = json.loads(line)
    out = _Capture(init.get("max_output_chars", 4000))
    old = sys.stdout, sys.stderr
    sys.stdout = sys.stderr = out
    try:
        tool = _Tool(init)
    except BaseException as exc:
        sys.stdout, sys.stderr = old
        _send(
            {
                "ready": False,
                "error": _describe(exc),
                "traceback": _tail(exc, 2),
                "output": out.text(),
            }
        )
        return
    sys.stdout, sys.stderr = old
    _send({"ready": True, "python": sys.version.split()[0]})
    while True:
        line = _proto_in.readline()
        if not line:
            return
        req = json.loads(line)
        resp = tool.call(req)
        if isinstance(resp, bytes):
            _proto_out.write(resp + b"\n")
            _proto_out.flush()
        else:
            _send(resp)


main()
