"""The harness checked against Debian's reference registry (distribution 2.8.2): the client
checks of test_clients.py, unchanged, once with htpasswd Basic auth and once with the Docker
token flow (a small token server here signs the JWTs distribution verifies), so that a failure
against berth is berth's and not the harness's. Not part of the berth suite; run it with
`scripts/integration.sh --reference` (it needs `docker-registry`, `htpasswd` and `openssl`).
"""

import base64
import json
import subprocess
import threading
import time
import unittest
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from harness import Clients, Http, Reference, random_layer, random_token, sha256_digest, temp_dir
from test_clients import BuildahChecks, OrasChecks, PodmanChecks, SkopeoChecks


class RawChecks:
    def test_raw_client_push_and_pull(self):
        http = self.http(self.creds)
        layers = [random_layer(100_000)]
        manifest, r = http.push_image(f"{self.repo}/raw/app", "v1", layers)
        self.assertEqual(r.status, 201, r)
        got = http.get_manifest(f"{self.repo}/raw/app", "v1")
        self.assertEqual(got.body, manifest)
        blob = http.get_blob(f"{self.repo}/raw/app", sha256_digest(layers[0]))
        self.assertEqual(blob.body, layers[0])

    def test_raw_client_without_credentials_is_refused(self):
        r = self.http(None).get_manifest(f"{self.repo}/raw/app", "v1")
        self.assertEqual(r.status, 401, r)


class ReferenceBasic(SkopeoChecks, PodmanChecks, BuildahChecks, OrasChecks, RawChecks,
                     unittest.TestCase):
    oras_backend = "basic"

    @classmethod
    def setUpClass(cls):
        cls.reference = Reference()
        cls.addClassCleanup(cls.reference.stop)
        cls.reference.start()
        cls.clients = Clients(cls.reference.host)
        cls.creds = (cls.reference.user, cls.reference.password)
        cls.repo = "ref"

    def http(self, creds=None):
        return Http(self.reference.host, creds)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenServer:
    """A Docker token endpoint for distribution's `auth: token`: RS256 JWTs with the signing
    certificate in `x5c`, every requested action granted to the one user, none to anonymous."""

    def __init__(self, user: str, password: str):
        self.dir = temp_dir("token")
        self.user, self.password = user, password
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-subj", "/CN=berth-it-token", "-keyout", str(self.dir / "key.pem"),
             "-out", str(self.dir / "cert.pem")],
            check=True, capture_output=True,
        )
        der = subprocess.run(
            ["openssl", "x509", "-in", str(self.dir / "cert.pem"), "-outform", "DER"],
            check=True, capture_output=True,
        ).stdout
        self.x5c = base64.b64encode(der).decode()
        self.requests = []

    def sign(self, claims: dict) -> str:
        header = {"typ": "JWT", "alg": "RS256", "x5c": [self.x5c]}
        signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        signature = subprocess.run(
            ["openssl", "dgst", "-sha256", "-sign", str(self.dir / "key.pem")],
            input=signing_input.encode(), check=True, capture_output=True,
        ).stdout
        return f"{signing_input}.{_b64url(signature)}"

    def start(self) -> "TokenServer":
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                url = urllib.parse.urlsplit(self.path)
                params = urllib.parse.parse_qs(url.query)
                auth = self.headers.get("Authorization", "")
                user = None
                if auth.startswith("Basic "):
                    name, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
                    if (name, secret) != (server.user, server.password):
                        self.send_response(401)
                        self.end_headers()
                        return
                    user = name
                access = []
                for scope in params.get("scope", []):
                    kind, _, rest = scope.partition(":")
                    name, _, actions = rest.rpartition(":")
                    if user:
                        access.append({"type": kind, "name": name, "actions": actions.split(",")})
                server.requests.append((user, params.get("scope", [])))
                now = int(time.time())
                token = server.sign({
                    "iss": "berth-it", "sub": user or "", "aud": params.get("service", [""])[0],
                    "exp": now + 300, "nbf": now - 10, "iat": now, "jti": random_token(),
                    "access": access,
                })
                body = json.dumps({"token": token, "access_token": token, "expires_in": 300}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class ReferenceToken(SkopeoChecks, PodmanChecks, BuildahChecks, OrasChecks, RawChecks,
                     unittest.TestCase):
    oras_backend = "token"

    @classmethod
    def setUpClass(cls):
        cls.creds = ("ref", "ref-" + random_token())
        cls.tokens = TokenServer(*cls.creds).start()
        cls.addClassCleanup(cls.tokens.stop)
        cls.reference = Reference(token_auth=(
            f"realm: http://127.0.0.1:{cls.tokens.port}/token\n"
            "service: reference\n"
            "issuer: berth-it\n"
            f"rootcertbundle: {cls.tokens.dir / 'cert.pem'}"
        ))
        cls.addClassCleanup(cls.reference.stop)
        cls.reference.start()
        cls.clients = Clients(cls.reference.host)
        cls.repo = "ref"

    def http(self, creds=None):
        return Http(self.reference.host, creds)
