import datetime
import socket
import ssl


def main(domain, port="443"):
    """Days until the TLS certificate served by domain:port expires, and a risk level."""
    from cryptography import x509

    ctx = ssl.create_default_context()
    # Read the certificate whatever its issuer (self-signed, expired): only expiry is judged.
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
        "not_after": not_after.date().isoformat(),
        "days_remaining": int(days // 1),
        "risk": risk,
    }
