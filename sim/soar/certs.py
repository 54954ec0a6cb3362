"""The emulator's certificate files: a throw-away CA and a server certificate from :mod:`sim.tls`.

The CA certificate is what an app.config ``cafile`` points at; the server certificate (signed by that CA)
names ``localhost``, ``127.0.0.1`` and ``::1`` plus the host the emulator binds, so both the REST client
(which verifies) and a STOMP client that verified would accept it.
"""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass

from sim.tls import generate as generate_material


@dataclass
class CertFiles:
    ca_path: str
    cert_path: str
    key_path: str

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(self.cert_path, self.key_path)
        return ctx

    def broker_context(self) -> ssl.SSLContext:
        """The STOMP listener's context: as :meth:`server_context`, but it issues no TLS 1.3 session
        tickets, so that the client has no post-handshake record to read while it writes ``CONNECT``
        (why that matters: :mod:`sim.soar.broker`)."""
        ctx = self.server_context()
        ctx.num_tickets = 0
        return ctx


def generate(directory: str, host: str = "127.0.0.1") -> CertFiles:
    """Write ``soar-emulator-ca.pem``, ``soar-emulator-cert.pem`` and ``soar-emulator-key.pem`` into
    ``directory`` and return their paths. The key file is created with mode 0600."""
    os.makedirs(directory, exist_ok=True)
    material = generate_material(host, authority="SOAR emulator test CA", days=30)
    files = CertFiles(ca_path=os.path.join(directory, "soar-emulator-ca.pem"),
                      cert_path=os.path.join(directory, "soar-emulator-cert.pem"),
                      key_path=os.path.join(directory, "soar-emulator-key.pem"))
    with open(files.ca_path, "wb") as fh:
        fh.write(material.ca_pem)
    with open(files.cert_path, "wb") as fh:
        fh.write(material.cert_pem)
    fd = os.open(files.key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(material.key_pem)
    return files
