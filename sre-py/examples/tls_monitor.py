#!/usr/bin/env python3
"""The reference team's TLS-certificate monitor, as a plain Python script.

    python tls_monitor.py api.example.com pay.example.com:8443     # the model the environment configures
    python tls_monitor.py --script monitor.yaml 127.0.0.1:8443     # offline: a ScriptedModel script

The agent checks each certificate with a Python tool and answers with a table sorted by
urgency. Reading a certificate's dates needs the PyPI package `cryptography`.
"""

from __future__ import annotations

import argparse
import datetime
import socket
import ssl
import sys
from typing import Any, Dict, List, Optional

import sre_harness as sh


@sh.tool(description="Days until the TLS certificate served by domain:port expires, and a risk level.", read_only=True)
def check_tls_certificate(domain: str, port: int = 443) -> Dict[str, Any]:
    from cryptography import x509

    ctx = ssl.create_default_context()
    # Read the certificate whatever its issuer (self-signed, expired): only its dates count.
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection((domain, port), timeout=5) as sock:
        with ctx.wrap_socket(sock, server_hostname=domain) as tls:
            der = tls.getpeercert(binary_form=True)
    if der is None:
        raise ValueError(f"{domain}:{port} sent no certificate")
    not_after = x509.load_der_x509_certificate(der).not_valid_after_utc
    days = (not_after - datetime.datetime.now(datetime.timezone.utc)).total_seconds() / 86400
    risk = "expired" if days < 0 else "critical" if days < 7 else "warning" if days < 30 else "ok"
    return {"domain": domain, "port": port, "not_after": not_after.isoformat(), "days_left": round(days, 1), "risk": risk}


SYSTEM_PROMPT = (
    "You audit TLS certificates. Check every domain you are given with check_tls_certificate, "
    "then answer with a Markdown table (domain, days left, expires, risk) sorted by urgency, "
    "and say which ones need action first."
)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("targets", nargs="+", help="domain or domain:port")
    parser.add_argument("--script", help="offline: a ScriptedModel script instead of a configured model")
    args = parser.parse_args(argv)
    agent = sh.Agent(
        model=None if args.script else "env",
        script_path=args.script,
        name="tls-monitor",
        system_prompt=SYSTEM_PROMPT,
        tools=[check_tls_certificate],
        workspace_tools=False,
    )
    outcome = agent.run_sync("Audit the certificates of: " + ", ".join(args.targets))
    print(outcome.answer or f"(no answer: {outcome.cause})")
    return 0 if outcome.cause == "completed" else 1


if __name__ == "__main__":
    sys.exit(main())
