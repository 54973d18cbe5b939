"""OpenTelemetry from Python: with OTEL_EXPORTER_OTLP_ENDPOINT set, a run exports GenAI spans
and metrics over OTLP/HTTP (protobuf) to a receiver, flushed at exit."""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Dict, List, Tuple


def test_a_run_exports_spans_and_metrics_when_the_environment_asks(tmp_path: Path) -> None:
    received: List[Tuple[str, str, bytes]] = []

    class Receiver(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            received.append((self.path, self.headers.get("Content-Type", ""), body))
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    code = textwrap.dedent(
        """
        import sre_harness as sh

        @sh.tool
        def lookup(step: int) -> str:
            \"\"\"Look one step up.\"\"\"
            return "secret-output-0042"

        script = "turns:\\n  - tool_calls:\\n      - tool: lookup\\n        args: {step: 1}\\n  - final: found it\\n"
        agent = sh.Agent(name="probe", script=script, tools=[lookup])
        print(agent.run_sync("why?").answer)
        """
    )
    env: Dict[str, str] = dict(os.environ)
    env["OTEL_EXPORTER_OTLP_ENDPOINT"] = f"http://127.0.0.1:{server.server_address[1]}"
    env["OTEL_SERVICE_NAME"] = "py-probe"
    try:
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             timeout=60, cwd=tmp_path, env=env)
    finally:
        server.shutdown()
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "found it"
    traces = b"".join(body for path, _, body in received if path == "/v1/traces")
    metrics = b"".join(body for path, _, body in received if path == "/v1/metrics")
    assert all(ctype == "application/x-protobuf" for _, ctype, _ in received), received
    # Protobuf keeps strings as they are: the span names and attributes are there.
    for name in (b"invoke_agent probe", b"execute_tool lookup", b"gen_ai.usage.input_tokens", b"py-probe"):
        assert name in traces, name
    assert b"gen_ai.client.token.usage" in metrics
    # No content by default.
    assert b"secret-output-0042" not in traces
