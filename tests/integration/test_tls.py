"""TLS: `berth serve` with a certificate and key (rustls) answers HTTPS only, names an https token
realm in its challenge, and real clients push and pull through it (skopeo with verification
off, since the certificate is self-signed for this test)."""

import base64
import http.client
import json
import ssl
import subprocess
import time
import unittest
import urllib.error
import urllib.request

from harness import (
    BERTH_BIN,
    Berth,
    Clients,
    ServerError,
    free_port,
    temp_dir,
    write_oci_layout,
)


class Tls(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        certs = temp_dir("tls-certs")
        cls.cert, cls.key = certs / "cert.pem", certs / "key.pem"
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
             "-keyout", str(cls.key), "-out", str(cls.cert)],
            check=True, capture_output=True,
        )
        cls.berth = Berth("tls", env={"BERTH_TLS_CERT": str(cls.cert), "BERTH_TLS_KEY": str(cls.key)})
        cls.addClassCleanup(cls.berth.stop)
        cls.start_https(cls.berth)
        cls.context = ssl.create_default_context(cafile=str(cls.cert))
        cls.clients = Clients(cls.berth.host)

    @classmethod
    def start_https(cls, berth: Berth, timeout: float = 60.0):
        """Like Berth.start, but readiness is asked over HTTPS."""
        berth.port = free_port()
        log = open(berth.log_path, "ab")
        berth.proc = subprocess.Popen(
            [str(BERTH_BIN), "serve", "--data-dir", str(berth.data_dir), "--listen", berth.host],
            env=berth.env, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
        )
        log.close()
        context = ssl.create_default_context(cafile=str(cls.cert))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if berth.proc.poll() is not None:
                break
            try:
                with urllib.request.urlopen(f"https://{berth.host}/readyz", context=context) as r:
                    if r.status == 200:
                        return
            except (OSError, urllib.error.URLError):
                time.sleep(0.1)
        raise ServerError(f"berth with TLS did not become ready\n{berth.log_tail()}")

    def get(self, path: str, headers: dict | None = None):
        request = urllib.request.Request(f"https://{self.berth.host}{path}", headers=headers or {})
        try:
            with urllib.request.urlopen(request, context=self.context) as r:
                return r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read()

    def test_the_certificate_is_served_and_the_realm_is_https(self):
        status, headers, _ = self.get("/v2/")
        self.assertEqual(status, 401)
        self.assertIn(f'realm="https://{self.berth.host}/token"', headers["WWW-Authenticate"])
        # The certificate verifies against itself: it is the one configured.
        status, _, body = self.get("/healthz")
        self.assertEqual((status, body), (200, b"ok\n"))

    def test_plain_http_gets_no_registry(self):
        with self.assertRaises((OSError, urllib.error.URLError, http.client.HTTPException)):
            urllib.request.urlopen(f"http://{self.berth.host}/v2/", timeout=5).read()

    def test_skopeo_pushes_and_pulls_over_tls(self):
        self.berth.create_repository("secure")
        user = self.berth.create_user("tlsuser", {"secure": "push_pull"})
        creds = (user["name"], user["secret"])
        layout = write_oci_layout(temp_dir("tls-src"), "v1")
        self.clients.copy_in(layout.ref, "secure/app:v1", creds)
        raw = self.clients.inspect_raw("secure/app:v1", creds).stdout_bytes
        self.assertEqual(raw, layout.manifest)
        basic = base64.b64encode(f"{creds[0]}:{creds[1]}".encode()).decode()
        status, headers, body = self.get(
            "/v2/secure/app/manifests/v1",
            {"Authorization": "Basic " + basic, "Accept": json.loads(raw)["mediaType"]},
        )
        self.assertEqual((status, body), (200, layout.manifest))
