"""A server with TLS: an untrusted (self-signed) certificate is a clear TLS error; once
the certificate is trusted, the window logs in and streams over https/wss."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from studio.ui.demo import ServerProcess
from studio.ui.server.link import LinkState

pytest_plugins = ("test_server_support",)

from test_server_support import ADMIN_PASSWORD, log_in, make_window, wait  # noqa: E402


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, Path]]:
    # The openssl command ships with Debian's base system on every machine of this project.
    assert shutil.which("openssl"), "the TLS tests need the openssl command to make a certificate"
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    proc = ServerProcess(folder / "data", ADMIN_PASSWORD, "--cert", str(cert), "--key",
                         str(key), "--scrypt-n", "1024")
    proc.start()
    yield proc, cert
    proc.stop()


def test_untrusted_certificate_then_trusted(qtbot: Any, qloop: Any, tmp_path: Path,
                                           tls_server: tuple[ServerProcess, Path],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    proc, cert = tls_server
    url = proc.url.replace("http://", "https://")
    window = make_window(qtbot, url, tmp_path)
    assert not log_in(qtbot, window, url)
    text = window.login_form.error_text
    assert "TLS" in text and "certificate" in text.lower(), text
    # Trust it (OpenSSL reads SSL_CERT_FILE for its default trust store): https and wss.
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    assert log_in(qtbot, window, url), window.login_form.error_text
    wait(qtbot, lambda: window.state is LinkState.CONNECTED)
    wait(qtbot, lambda: window.dashboard.counters_seen >= 1)
