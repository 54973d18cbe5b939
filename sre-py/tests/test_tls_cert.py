"""A TLS certificate expiry tool, written the way a portal stores it (`def main(domain,
port="443")` as source text), run by an agent on a ScriptedModel against local TLS servers."""

from __future__ import annotations

import json

import sre_harness as sh

CERT_TOOL_CODE = '''
import datetime
import socket
import ssl


def main(domain, port="443"):
    """Days until the TLS certificate served by domain:port expires, and a risk level."""
    from cryptography import x509

    ctx = ssl.create_default_context()
    # Read the certificate whatever its issuer (self-signed, expired): we judge expiry only.
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection((domain, int(port)), timeout=5) as sock:
        with ctx.wrap_socket(sock, server_hostname=domain) as tls:
            der = tls.getpeercert(binary_form=True)
    cert = x509.load_der_x509_certificate(der)
    not_after = getattr(cert, "not_valid_after_utc", None)
    if not_after is None:
        not_after = cert.not_valid_after.replace(tzinfo=datetime.timezone.utc)
    now = datetime.datetime.now(datetime.timezone.utc)
    days = (not_after - now).total_seconds() / 86400
    if days < 0:
        risk = "EXPIRED"
    elif days <= 7:
        risk = "CRITICAL"
    elif days <= 30:
        risk = "WARNING"
    elif days <= 60:
        risk = "ATTENTION"
    else:
        risk = "HEALTHY"
    return {
        "domain": domain,
        "port": int(port),
        "not_after": not_after.isoformat(),
        "days_remaining": int(days // 1),
        "risk": risk,
    }
'''

PARAMETERS = [
    {"name": "domain", "type": "string", "description": "Host name or address to check."},
    {"name": "port", "type": "string", "description": "TCP port.", "default": "443"},
]


def cert_tool() -> sh.Tool:
    return sh.Tool.from_source(
        name="check_tls_cert",
        description="Check when the TLS certificate of a host expires.",
        parameters=PARAMETERS,
        code=CERT_TOOL_CODE,
        timeout=20,
    )


def test_schema_from_portal_definition() -> None:
    tool = cert_tool()
    assert tool.input_schema == {
        "type": "object",
        "properties": {
            "domain": {"type": "string", "description": "Host name or address to check."},
            "port": {"type": "string", "description": "TCP port.", "default": "443"},
        },
        "required": ["domain"],
        "additionalProperties": False,
    }


def test_agent_checks_certificates(tls_server_factory, closed_port, tmp_path) -> None:
    healthy = tls_server_factory(365, "healthy")
    soon = tls_server_factory(5, "soon")
    month = tls_server_factory(20, "month")
    expired = tls_server_factory(-3, "expired")
    script = f"""
name: cert-check
turns:
  - say: Checking the certificates.
    tool_calls:
      - tool: check_tls_cert
        args: {{domain: 127.0.0.1, port: "{healthy.port}"}}
      - tool: check_tls_cert
        args: {{domain: 127.0.0.1, port: {soon.port}}}
      - tool: check_tls_cert
        args: {{domain: 127.0.0.1, port: "{month.port}"}}
      - tool: check_tls_cert
        args: {{domain: 127.0.0.1, port: "{expired.port}"}}
      - tool: check_tls_cert
        args: {{domain: 127.0.0.1, port: "{closed_port}"}}
  - expect:
      last_message_contains: [HEALTHY, CRITICAL, WARNING, EXPIRED, ConnectionRefusedError]
    final: "One certificate expires within a week; one host refuses connections."
"""
    agent = sh.Agent(script=script, tools=[cert_tool()], session_dir=tmp_path / "sessions")
    events = []
    outcome = agent.run_sync("Check our certificates.", on_event=events.append)
    assert outcome.cause == "completed"
    assert outcome.answer == "One certificate expires within a week; one host refuses connections."
    assert outcome.transcript_path and outcome.transcript_path.startswith(str(tmp_path / "sessions"))

    finished = {e["kind"]["id"]: e["kind"] for e in events if e["kind"]["type"] == "tool_finished"}
    started = [e["kind"] for e in events if e["kind"]["type"] == "tool_started"]
    results = [finished[s["id"]] for s in started]
    assert len(results) == 5
    by_port = {}
    for s, r in zip(started, results):
        by_port[int(s["input"]["port"])] = r
    ok = json.loads(by_port[healthy.port]["output"])
    assert ok["risk"] == "HEALTHY" and 363 <= ok["days_remaining"] <= 365
    assert not by_port[healthy.port]["is_error"]
    assert json.loads(by_port[soon.port]["output"])["risk"] == "CRITICAL"
    assert json.loads(by_port[soon.port]["output"])["days_remaining"] == 4
    assert json.loads(by_port[month.port]["output"])["risk"] == "WARNING"
    assert json.loads(by_port[expired.port]["output"])["risk"] == "EXPIRED"
    refused = by_port[closed_port]
    assert refused["is_error"]
    assert refused["output"].startswith("ConnectionRefusedError:")
    assert healthy.handshakes >= 1 and soon.handshakes >= 1


def test_cert_tool_direct_call_attention(tls_server_factory) -> None:
    server = tls_server_factory(45, "attention")
    result = cert_tool().call(domain="127.0.0.1", port=str(server.port))
    assert not result.is_error, result.content
    assert result.json()["risk"] == "ATTENTION"
