"""Security as a user relies on it: TLS verification stays on against the vendors, and a
credential a vendor echoes back ends up in no output, event log or table."""

from __future__ import annotations

import datetime as dt
import http.server
import ipaddress
import json
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import Engine, text

from pipelines.defs.resources import _http_client
from pipelines.simulator import NIXFLEX_DEMO_KEY, SMSFACTOR_DEMO_TOKEN, Fault
from pipelines.vendors.errors import VendorUnavailable
from pipelines.vendors.nixflex_client import NixflexClient
from pipelines.vendors.transport import RetryPolicy
from pipelines.warehouse.bodies import read_back
from tests.conftest import SimulatorHandle
from tests.sync_helpers import checks_by_name, run_full_sync


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture
def impostor(tmp_path: Path) -> Iterator[str]:
    """An HTTPS server with a certificate no authority signed, answering 200 to anything."""

    class Answer(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b'{"campaign_id": "x", "recipients": []}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Answer)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*_self_signed(tmp_path))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_vendor_with_an_unverifiable_certificate_is_refused(impostor: str) -> None:
    # The client the resources give the assets, as they give it.
    with _http_client() as http:
        client = NixflexClient(
            http, api_key="nxf_id:nxfs_secret", base_url=impostor, policy=RetryPolicy(attempts=1)
        )
        with pytest.raises(VendorUnavailable) as caught:
            client.get_campaign("x")
    assert "CERTIFICATE_VERIFY_FAILED" in str(caught.value)


@pytest.mark.slow
def test_a_failing_run_whose_vendors_echo_the_credentials_leaks_them_nowhere(
    engine: Engine, simulator: SimulatorHandle, capfd: pytest.CaptureFixture[str]
) -> None:
    key_id, key_secret = NIXFLEX_DEMO_KEY.split(":")
    message = f"API key {NIXFLEX_DEMO_KEY} ({key_secret}) is not valid"
    echo = {"error": {"type": "authentication_error", "code": "invalid_key", "message": message}}
    refused = {"status": -1, "message": f"Token {SMSFACTOR_DEMO_TOKEN} refused"}
    simulator.sim.inject(
        Fault("nixflex", "replace", status=401, body=json.dumps(echo).encode(), times=50),
        Fault("smsfactor", "replace", body=json.dumps(refused).encode(), times=50),
    )
    result = run_full_sync()
    checks = checks_by_name(result)
    assert not checks["nixflex_api_answered"].passed
    assert not checks["smsfactor_api_answered"].passed

    out, err = capfd.readouterr()
    said = [out, err]
    for event in result.all_events:  # what the UI and the event log keep
        said += [event.message or "", repr(event.event_specific_data)]
    with engine.connect() as conn:
        tables = conn.execute(
            text(
                "select table_schema || '.' || table_name from information_schema.tables "
                "where table_schema in ('raw', 'sms', 'meta')"
            )
        ).scalars()
        for table in tables:
            said += [
                str(row)
                for row in conn.execute(text(f"select row_to_json(t)::text from {table} t"))
            ]
        for response_id in conn.execute(
            text("select response_id from raw.vendor_response")
        ).scalars():
            _, body = read_back(conn, response_id)
            said.append((body or b"").decode(errors="replace"))
    everything = "\n".join(said)
    assert "[redacted]" in everything  # the echo was seen, and replaced
    for secret in (key_id, key_secret, SMSFACTOR_DEMO_TOKEN):
        assert secret not in everything
