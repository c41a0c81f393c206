"""Helpers for berth's real-client integration tests.

One module, six parts:

- `Berth`: one `berth serve` process on a free loopback port with a fresh data directory (or a
  shared PostgreSQL + S3 store), its log in a file, the admin CLI against the same store, and a
  SIGTERM stop. `Reference` is Debian's `docker-registry` (htpasswd Basic auth or the token
  flow), used only by the harness self-check (`selfcheck_reference.py`).
- `Http`: a raw OCI client on `http.client` that answers the registry's challenge the way the
  real clients do (Docker token flow for `Bearer`, credentials on every request for `Basic`).
- OCI layouts: `random_layer` and `write_oci_layout` make images of fresh random layers declared
  `tar+gzip` (skopeo gzips layers declared uncompressed and remembers where blobs were, so a
  test that must upload bytes needs bytes no registry has seen).
- `Clients`: skopeo, podman, buildah with private state (registries.conf listing the registry
  as insecure, an auth file, storage roots), and an oras-py client.
- `Containerd`: a private containerd daemon (its own config, root, state and socket under the
  run's directory, never the system service) and `ctr images pull|push|tag|ls|rm` against it.
- `PostgresServer` and `S3Server`: the throwaway servers of `scripts/pg-server.sh` and
  `scripts/s3-server.sh`.

Everything lives under one temporary directory per run (`BERTH_IT_KEEP=1` keeps it). The
servers alive when a test fails are listed in `LIVE`, so the runner can print their logs.
"""

from __future__ import annotations

import base64
import copy
import gzip
import hashlib
import http.client
import io
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tarfile
import tempfile
import time
import unittest
import urllib.parse
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
BERTH_BIN = Path(os.environ.get("BERTH_BIN", REPO_ROOT / "target" / "debug" / "berth"))
SCRIPTS = REPO_ROOT / "scripts"

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MANIFEST_ACCEPT = ", ".join(
    [
        OCI_MANIFEST,
        OCI_INDEX,
        DOCKER_MANIFEST,
        "application/vnd.docker.distribution.manifest.list.v2+json",
    ]
)

ANSI = re.compile(r"\x1b\[[0-9;]*m")

# The servers started and not yet stopped, for the runner's log dump on failure.
LIVE: list = []

_run_dir: Path | None = None


def run_dir() -> Path:
    """The run's temporary directory (removed at exit by the runner unless BERTH_IT_KEEP=1)."""
    global _run_dir
    if _run_dir is None:
        _run_dir = Path(tempfile.mkdtemp(prefix="berth-it."))
        # oras-py reads the default Docker config: keep it empty and private.
        docker_config = _run_dir / "docker-config"
        docker_config.mkdir()
        (docker_config / "config.json").write_text("{}")
        os.environ["DOCKER_CONFIG"] = str(docker_config)
    return _run_dir


def cleanup_run_dir() -> None:
    if _run_dir is not None and not os.environ.get("BERTH_IT_KEEP"):
        shutil.rmtree(_run_dir, ignore_errors=True)


def temp_dir(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix + ".", dir=run_dir()))


def free_port() -> int:
    """A port the kernel just gave out for 127.0.0.1:0 (someone else may take it before us)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def random_token(n: int = 8) -> str:
    return os.urandom(n).hex()


def eventually(check, timeout: float = 5.0, interval: float = 0.2):
    """Calls `check` until it returns a true value or `timeout` passes; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


# ---------------------------------------------------------------------------------------------
# Servers
# ---------------------------------------------------------------------------------------------


def _base_env() -> dict:
    """The caller's environment without any BERTH_ variable (a test sets exactly what it means)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("BERTH_")}


class ServerError(Exception):
    pass


class Berth:
    """One `berth serve` process. `env` adds BERTH_* variables (a shared store, the auth mode)."""

    def __init__(self, name: str = "berth", auth_mode: str = "token", env: dict | None = None):
        self.name = name
        self.dir = temp_dir(name)
        self.data_dir = self.dir / "data"
        self.log_path = self.dir / "server.log"
        self.admin_password = "admin-" + random_token()
        self.env = _base_env()
        self.env.update(
            {
                "BERTH_ADMIN_PASSWORD": self.admin_password,
                "BERTH_AUTH_MODE": auth_mode,
                "BERTH_TOKEN_KEY": "berth-it-token-key-" + random_token(16),
                # Every request at debug (one line each), dependencies at info.
                "BERTH_LOG": "info,berth=debug",
                # The admin commands find the store through the environment, serve through flags.
                "BERTH_DATA_DIR": str(self.data_dir),
            }
        )
        self.env.update(env or {})
        self.auth_mode = auth_mode
        self.port: int | None = None
        self.proc: subprocess.Popen | None = None
        self.returncode: int | None = None

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def start(self, timeout: float = 60.0) -> "Berth":
        if not BERTH_BIN.exists():
            raise ServerError(f"no berth binary at {BERTH_BIN} (cargo build -p berth)")
        for _attempt in range(3):
            self.port = free_port()
            log = open(self.log_path, "ab")
            log.write(f"--- {self.name}: berth serve on {self.host}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                [str(BERTH_BIN), "serve", "--data-dir", str(self.data_dir), "--listen", self.host],
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
            log.close()
            LIVE.append(self)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                try:
                    if Http(self.host).request("GET", "/readyz").status == 200:
                        return self
                except OSError:
                    pass
                time.sleep(0.1)
            exited = self.proc.poll() is not None
            self._kill()
            if not exited:
                raise ServerError(f"{self.name} not ready within {timeout}s\n{self.log_tail()}")
            if "in use" not in self.log_text().lower():
                raise ServerError(f"{self.name} exited at start\n{self.log_tail()}")
        raise ServerError(f"{self.name}: no free port after 3 attempts\n{self.log_tail()}")

    def stop(self, timeout: float = 20.0) -> int | None:
        """SIGTERM, then wait; returns the exit code (SIGKILL and None after `timeout`)."""
        if self.proc is None:
            return self.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.returncode = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self._kill()
            self.returncode = None
        self.proc = None
        if self in LIVE:
            LIVE.remove(self)
        return self.returncode

    def _kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
        if self.proc is not None:
            self.proc.wait()
        self.proc = None
        if self in LIVE:
            LIVE.remove(self)

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = 60) -> str:
        text = ANSI.sub("", self.log_text()).splitlines()[-lines:]
        return f"--- last {len(text)} lines of {self.log_path}\n" + "\n".join(text)

    # -- admin CLI ----------------------------------------------------------------------------

    def admin_run(self, *args: str) -> subprocess.CompletedProcess:
        """`berth admin ARGS` against this server's store, whatever its exit code."""
        return subprocess.run(
            [str(BERTH_BIN), "admin", *args],
            env=self.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def admin(self, *args: str):
        """`berth admin ARGS --json`, parsed; raises with stderr when it fails."""
        proc = self.admin_run(*args, "--json")
        if proc.returncode != 0:
            raise ServerError(
                f"berth admin {' '.join(args)} exited {proc.returncode}\n"
                f"stdout: {proc.stdout}\nstderr: {proc.stderr}"
            )
        try:
            return json.loads(proc.stdout)
        except json.JSONDecodeError as e:
            raise ServerError(f"berth admin {' '.join(args)}: not JSON ({e}): {proc.stdout!r}")

    def gc(self) -> dict:
        """`berth gc --json` against this server's store, parsed."""
        proc = subprocess.run(
            [str(BERTH_BIN), "gc", "--json"], env=self.env, stdin=subprocess.DEVNULL,
            capture_output=True, text=True, timeout=120,
        )
        if proc.returncode != 0:
            raise ServerError(f"berth gc exited {proc.returncode}\nstderr: {proc.stderr}")
        return json.loads(proc.stdout)

    def create_repository(self, name: str, access: str = "private", quota: str | None = None):
        args = ["repository", "create", name, "--access", access]
        if quota is not None:
            args += ["--quota", quota]
        return self.admin(*args)

    def repository(self, name: str) -> dict:
        for repo in self.admin("repository", "list"):
            if repo["name"] == name:
                return repo
        raise ServerError(f"repository {name} not in `berth admin repository list`")

    def create_user(self, name: str, repositories: dict, expires: str | None = None) -> dict:
        args = ["user", "create", "--name", name]
        for repo, perm in repositories.items():
            args += ["--repository", f"{repo}={perm}"]
        if expires is not None:
            args += ["--expires", expires]
        return self.admin(*args)


class Reference:
    """Debian's reference registry (distribution 2.8.2) for the harness self-check: htpasswd
    Basic auth, or, given `token_auth` (the YAML under `auth: token:`), the token flow."""

    def __init__(self, token_auth: str | None = None):
        self.dir = temp_dir("reference")
        self.port: int | None = None
        self.proc: subprocess.Popen | None = None
        self.user = "ref"
        self.password = "ref-" + random_token()
        self.token_auth = token_auth

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> "Reference":
        self.port = free_port()
        if self.token_auth:
            auth = "auth:\n  token:\n" + "".join(f"    {line}\n" for line in self.token_auth.splitlines())
        else:
            htpasswd = subprocess.run(
                ["htpasswd", "-Bbn", self.user, self.password], capture_output=True, text=True,
                check=True,
            ).stdout
            (self.dir / "htpasswd").write_text(htpasswd)
            auth = f"auth:\n  htpasswd:\n    realm: reference\n    path: {self.dir}/htpasswd\n"
        (self.dir / "config.yml").write_text(
            "version: 0.1\n"
            "log:\n  level: info\n"
            f"storage:\n  filesystem:\n    rootdirectory: {self.dir}/storage\n"
            "  delete:\n    enabled: true\n"
            f"http:\n  addr: {self.host}\n" + auth
        )
        self.log_path = self.dir / "registry.log"
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                ["docker-registry", "serve", str(self.dir / "config.yml")],
                env={k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")},
                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            )
        LIVE.append(self)
        if not eventually(self._answers, timeout=15):
            raise ServerError(f"reference registry did not start\n{self.log_tail()}")
        return self

    def _answers(self) -> bool:
        try:
            return Http(self.host).send("GET", "/v2/").status == 401
        except OSError:
            return False

    def stop(self):
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(20)
            self.proc = None
        if self in LIVE:
            LIVE.remove(self)

    def log_tail(self, lines: int = 60) -> str:
        text = self.log_path.read_text(errors="replace").splitlines()[-lines:]
        return f"--- last {len(text)} lines of {self.log_path}\n" + "\n".join(text)


def _run_script(*argv: str) -> dict:
    """Runs a scripts/*.sh that prints `export K=V` lines; returns them as a dict."""
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        raise ServerError(f"{' '.join(argv)} exited {proc.returncode}\n{proc.stderr}")
    values = {}
    for line in proc.stdout.splitlines():
        m = re.match(r"export (\w+)=(.*)$", line.strip())
        if m:
            values[m.group(1)] = m.group(2)
    return values


class PostgresServer:
    """A throwaway PostgreSQL 15 cluster from scripts/pg-server.sh."""

    def start(self) -> "PostgresServer":
        values = _run_script(str(SCRIPTS / "pg-server.sh"))
        self.url = values["BERTH_TEST_PG_URL"]
        self.dir = values["BERTH_TEST_PG_DIR"]
        return self

    def stop(self):
        subprocess.run(
            [str(SCRIPTS / "pg-server.sh"), "--stop", self.dir], capture_output=True, timeout=120
        )

    def _pg_ctl(self, *args: str) -> None:
        as_postgres = ["runuser", "-u", "postgres", "--"] if os.getuid() == 0 else []
        pg_bin = os.environ.get("BERTH_TEST_PG_BIN", "/usr/lib/postgresql/15/bin")
        subprocess.run([*as_postgres, f"{pg_bin}/pg_ctl", "-D", f"{self.dir}/data", *args],
                       check=True, capture_output=True, timeout=120, stdin=subprocess.DEVNULL)

    def halt(self) -> None:
        """Stops the server (fast shutdown: clients are disconnected), keeping its data."""
        self._pg_ctl("-m", "fast", "-w", "stop")

    def resume(self) -> None:
        """Starts the halted server again on the same port with the same data."""
        port = urllib.parse.urlsplit(self.url).port
        self._pg_ctl("-l", f"{self.dir}/server.log", "-w", "-t", "60", "start", "-o",
                     f"-c listen_addresses=127.0.0.1 -p {port} -k {self.dir} -c fsync=off "
                     "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")


class S3Server:
    """s3s-fs from scripts/s3-server.sh, with its bucket created."""

    def start(self) -> "S3Server":
        values = _run_script(str(SCRIPTS / "s3-server.sh"))
        self.endpoint = values["BERTH_TEST_S3_ENDPOINT"]
        self.access_key = values["BERTH_TEST_S3_ACCESS_KEY"]
        self.secret_key = values["BERTH_TEST_S3_SECRET_KEY"]
        self.bucket = values["BERTH_TEST_S3_BUCKET"]
        self.pid = int(values["BERTH_TEST_S3_PID"])
        self.dir = values["BERTH_TEST_S3_DIR"]
        return self

    def berth_env(self) -> dict:
        return {
            "BERTH_S3_ENDPOINT": self.endpoint,
            "BERTH_S3_BUCKET": self.bucket,
            "BERTH_S3_ACCESS_KEY": self.access_key,
            "BERTH_S3_SECRET_KEY": self.secret_key,
            "BERTH_S3_REGION": "us-east-1",
        }

    def _end(self, sig: int) -> None:
        try:
            os.kill(self.pid, sig)
        except ProcessLookupError:
            return
        if getattr(self, "_proc", None) is not None:  # started by resume(): reap it
            self._proc.wait(timeout=5)
            self._proc = None
            return
        for _ in range(100):
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)

    def stop(self):
        self._end(signal.SIGTERM)
        shutil.rmtree(self.dir, ignore_errors=True)

    def halt(self) -> None:
        """Kills the server (SIGKILL: connections drop), keeping its data."""
        self._end(signal.SIGKILL)

    def resume(self, timeout: float = 20.0) -> None:
        """Starts the halted server again on the same port, keys and data."""
        tools = Path(os.environ.get("BERTH_TOOLS", Path.home() / ".cache" / "berth-tools"))
        port = urllib.parse.urlsplit(self.endpoint).port
        log = open(Path(self.dir) / "s3s-fs.log", "ab")
        proc = subprocess.Popen(
            [str(tools / "bin" / "s3s-fs"), "--host", "127.0.0.1", "--port", str(port),
             "--access-key", self.access_key, "--secret-key", self.secret_key,
             f"{self.dir}/data"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        log.close()
        self.pid, self._proc = proc.pid, proc
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise ServerError(f"s3s-fs did not start again on port {port}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise ServerError(f"s3s-fs did not answer on port {port} within {timeout} s")


# ---------------------------------------------------------------------------------------------
# Raw HTTP
# ---------------------------------------------------------------------------------------------


class Response:
    def __init__(self, status: int, headers: list, body: bytes, method: str, url: str):
        self.status = status
        self._headers = headers
        self.body = body
        self.method = method
        self.url = url
        # When a token request failed, the token endpoint's answer (the registry's 401 is `self`).
        self.token_response: Response | None = None

    def header(self, name: str) -> str | None:
        for k, v in self._headers:
            if k.lower() == name.lower():
                return v
        return None

    def json(self):
        return json.loads(self.body)

    def error_codes(self) -> list:
        try:
            return [e.get("code") for e in self.json().get("errors", [])]
        except (ValueError, AttributeError):
            return []

    def __repr__(self) -> str:
        body = self.body[:400].decode(errors="replace")
        token = f" after the token endpoint answered {self.token_response!r}" if self.token_response else ""
        return f"<{self.method} {self.url} -> {self.status} {dict(self._headers)} {body!r}{token}>"


def parse_challenge(value: str) -> tuple:
    """`Bearer realm="..",service="..",scope=".."` -> ("bearer", {realm, service, scope})."""
    scheme, _, rest = value.strip().partition(" ")
    params = dict(re.findall(r'(\w+)="([^"]*)"', rest))
    return scheme.lower(), params


class Http:
    """A raw registry client on one host.

    `creds` is (user, secret) or None (anonymous). Every request is first sent as it is (or with
    `bearer`, a token the caller already holds); a 401 is answered like a real client: with
    Basic credentials, or with a token from the challenge's realm (Basic credentials on the
    token request, none when anonymous), then sent once more. Nothing is cached, so every
    request shows the credentials' current standing.
    """

    def __init__(self, host: str, creds: tuple | None = None, bearer: str | None = None):
        self.host = host
        self.creds = creds
        self.bearer = bearer

    def _basic(self, creds=None) -> str:
        user, secret = creds or self.creds
        return "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()

    def send(self, method: str, url: str, body: bytes = b"", headers: dict | None = None):
        """One request, no auth handling. `url` is a path on this host or an absolute URL."""
        parsed = urllib.parse.urlsplit(url)
        host = parsed.netloc or self.host
        path = urllib.parse.urlunsplit(("", "", parsed.path or "/", parsed.query, ""))
        conn = http.client.HTTPConnection(host, timeout=120)
        try:
            headers = dict(headers or {})
            if body or method in ("PUT", "POST", "PATCH"):
                headers.setdefault("Content-Length", str(len(body)))
            conn.request(method, path, body=body or None, headers=headers)
            r = conn.getresponse()
            data = r.read()
            return Response(r.status, r.getheaders(), data, method, f"http://{host}{path}")
        finally:
            conn.close()

    def token(self, challenge: dict, scope: str | None = None, creds="default") -> Response:
        """The token endpoint's answer for `challenge` (optionally another scope)."""
        creds = self.creds if creds == "default" else creds
        params = {"service": challenge.get("service", "")}
        scope = scope or challenge.get("scope")
        if scope:
            params["scope"] = scope
        url = challenge["realm"] + "?" + urllib.parse.urlencode(params)
        headers = {"Authorization": self._basic(creds)} if creds else {}
        return self.send("GET", url, headers=headers)

    def challenge(self, path: str = "/v2/") -> tuple:
        r = self.send("GET", path)
        value = r.header("WWW-Authenticate")
        if r.status != 401 or not value:
            raise AssertionError(f"expected a 401 challenge, got {r!r}")
        return parse_challenge(value)

    def request(self, method: str, url: str, body: bytes = b"", headers: dict | None = None,
                follow: bool = True) -> Response:
        headers = dict(headers or {})
        if self.bearer:
            headers["Authorization"] = "Bearer " + self.bearer
        r = self.send(method, url, body, headers)
        if r.status == 401 and not self.bearer and r.header("WWW-Authenticate"):
            scheme, params = parse_challenge(r.header("WWW-Authenticate"))
            if scheme == "basic":
                if not self.creds:
                    return r
                headers["Authorization"] = self._basic()
            elif scheme == "bearer":
                t = self.token(params)
                if t.status != 200:
                    r.token_response = t
                    return r
                headers["Authorization"] = "Bearer " + (t.json().get("token") or t.json()["access_token"])
            else:
                return r
            r = self.send(method, url, body, headers)
        # Blob reads may redirect (to another node or to storage): follow like a client would.
        hops = 0
        while follow and method in ("GET", "HEAD") and r.status in (301, 302, 303, 307, 308) and hops < 3:
            target = urllib.parse.urljoin(r.url, r.header("Location"))
            same_host = urllib.parse.urlsplit(target).netloc == urllib.parse.urlsplit(r.url).netloc
            r = self.send(method, target, headers=headers if same_host else {})
            hops += 1
        return r

    # -- registry operations ----------------------------------------------------------------------

    def get_manifest(self, name: str, ref: str, method: str = "GET") -> Response:
        return self.request(method, f"/v2/{name}/manifests/{ref}", headers={"Accept": MANIFEST_ACCEPT})

    def put_manifest(self, name: str, ref: str, body: bytes, media_type: str) -> Response:
        return self.request("PUT", f"/v2/{name}/manifests/{ref}", body,
                            headers={"Content-Type": media_type})

    def get_blob(self, name: str, digest: str) -> Response:
        return self.request("GET", f"/v2/{name}/blobs/{digest}")

    def tags(self, name: str) -> Response:
        return self.request("GET", f"/v2/{name}/tags/list")

    def start_upload(self, name: str) -> Response:
        return self.request("POST", f"/v2/{name}/blobs/uploads/")

    def push_blob(self, name: str, data: bytes) -> str:
        """POST then PUT ?digest= with the whole body; returns the digest (raises on failure)."""
        digest = sha256_digest(data)
        r = self.start_upload(name)
        if r.status != 202:
            raise AssertionError(f"upload start refused: {r!r}")
        location = _with_query(urllib.parse.urljoin(r.url, r.header("Location")), digest=digest)
        r = self.request("PUT", location, data, headers={"Content-Type": "application/octet-stream"})
        if r.status != 201:
            raise AssertionError(f"blob PUT refused: {r!r}")
        return digest

    def push_image(self, name: str, ref: str, layers: list, config: bytes | None = None,
                   extra: dict | None = None) -> tuple:
        """Pushes blobs and an OCI image manifest; returns (manifest bytes, manifest response)."""
        config = config if config is not None else image_config(layers)
        self.push_blob(name, config)
        for layer in layers:
            self.push_blob(name, layer)
        manifest = oci_manifest(config, layers, extra)
        return manifest, self.put_manifest(name, ref, manifest, OCI_MANIFEST)


def _with_query(url: str, **params) -> str:
    parts = urllib.parse.urlsplit(url)
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


def upload_url(response: Response, **params) -> str:
    """The absolute upload URL from a 202's Location, with extra query parameters."""
    return _with_query(urllib.parse.urljoin(response.url, response.header("Location")), **params)


# ---------------------------------------------------------------------------------------------
# OCI images
# ---------------------------------------------------------------------------------------------


def layer_tar(files: dict) -> bytes:
    """An uncompressed tar of {path: bytes} (directories implied)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        dirs = set()
        for path in files:
            parent = os.path.dirname(path)
            while parent and parent not in dirs:
                dirs.add(parent)
                parent = os.path.dirname(parent)
        for d in sorted(dirs):
            info = tarfile.TarInfo(d)
            info.type = tarfile.DIRTYPE
            info.mode = 0o755
            tar.addfile(info)
        for path, data in files.items():
            info = tarfile.TarInfo(path)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def random_layer(size: int = 256 * 1024, name: str | None = None) -> bytes:
    """A gzipped tar holding one file of `size` fresh random bytes (incompressible)."""
    name = name or f"data/{random_token()}.bin"
    return gzip.compress(layer_tar({name: os.urandom(size)}), mtime=0)


def diff_id(layer_gz: bytes) -> str:
    return sha256_digest(gzip.decompress(layer_gz))


def image_config(layers: list) -> bytes:
    config = {
        "architecture": "amd64",
        "os": "linux",
        "created": "2024-01-01T00:00:00Z",
        "config": {"Labels": {"berth.test": random_token()}},
        "rootfs": {"type": "layers", "diff_ids": [diff_id(layer) for layer in layers]},
        "history": [{"created": "2024-01-01T00:00:00Z", "created_by": "berth-it"} for _ in layers],
    }
    return json.dumps(config, indent=2).encode()


def descriptor(media_type: str, data: bytes) -> dict:
    return {"mediaType": media_type, "digest": sha256_digest(data), "size": len(data)}


def oci_manifest(config: bytes, layers: list, extra: dict | None = None) -> bytes:
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": descriptor(OCI_CONFIG, config),
        "layers": [descriptor(OCI_LAYER_GZIP, layer) for layer in layers],
    }
    manifest.update(extra or {})
    return json.dumps(manifest, indent=2).encode()


class Layout:
    """An OCI image layout written by `write_oci_layout`."""

    def __init__(self, path: Path, tag: str, layers: list, config: bytes, manifest: bytes):
        self.path = path
        self.tag = tag
        self.layers = layers
        self.config = config
        self.manifest = manifest

    @property
    def ref(self) -> str:
        return f"oci:{self.path}:{self.tag}"

    @property
    def digest(self) -> str:
        return sha256_digest(self.manifest)


def write_oci_layout(path: Path, tag: str = "latest", layers: list | None = None) -> Layout:
    """An OCI image layout at `path` with one tagged image of `layers` (3 random ones by default)."""
    layers = layers if layers is not None else [random_layer(s) for s in (300_000, 150_000, 60_000)]
    config = image_config(layers)
    manifest = oci_manifest(config, layers)
    blobs = path / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)
    for data in [config, manifest, *layers]:
        (blobs / sha256_digest(data).split(":")[1]).write_bytes(data)
    (path / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
    index = {
        "schemaVersion": 2,
        "manifests": [
            dict(descriptor(OCI_MANIFEST, manifest),
                 annotations={"org.opencontainers.image.ref.name": tag})
        ],
    }
    (path / "index.json").write_text(json.dumps(index))
    return Layout(path, tag, layers, config, manifest)


def read_oci_layout(path: Path, tag: str) -> tuple:
    """(manifest bytes, {digest: blob bytes}) of the image tagged `tag` in an OCI layout."""
    index = json.loads((path / "index.json").read_text())
    for m in index["manifests"]:
        if (m.get("annotations") or {}).get("org.opencontainers.image.ref.name") == tag:
            blob = lambda d: (path / "blobs" / "sha256" / d.split(":")[1]).read_bytes()  # noqa: E731
            manifest = blob(m["digest"])
            parsed = json.loads(manifest)
            blobs = {d["digest"]: blob(d["digest"]) for d in [parsed["config"], *parsed["layers"]]}
            return manifest, blobs
    raise AssertionError(f"no tag {tag} in {path}/index.json: {index}")


# ---------------------------------------------------------------------------------------------
# Clients
# ---------------------------------------------------------------------------------------------


class _NoSleep:
    @staticmethod
    def sleep(_seconds):
        time.sleep(0.1)


class ClientError(AssertionError):
    pass


class Clients:
    """skopeo, podman and buildah with state private to one test class, for one registry host."""

    def __init__(self, host: str):
        self.host = host
        self.dir = temp_dir("clients")
        self.auth_file = self.dir / "auth.json"
        self.auth_file.write_text("{}")
        conf = self.dir / "registries.conf"
        conf.write_text(
            'unqualified-search-registries = []\n\n'
            f'[[registry]]\nlocation = "{host}"\ninsecure = true\n'
        )
        self.root = self.dir / "storage"
        self.runroot = self.dir / "run"
        self.env = {
            k: v for k, v in os.environ.items()
            if not k.startswith(("BERTH_", "REGISTRY_", "CONTAINERS_"))
        }
        self.env.update(
            {
                "CONTAINERS_REGISTRIES_CONF": str(conf),
                "REGISTRY_AUTH_FILE": str(self.auth_file),
                "TMPDIR": str(self.dir),
                # No credentials or configuration from the caller's home (~/.docker, ~/.config).
                "HOME": str(self.dir),
                "XDG_CONFIG_HOME": str(self.dir / "config"),
            }
        )

    def run(self, *argv: str, ok: bool = True, timeout: float = 300) -> subprocess.CompletedProcess:
        """Runs a client; with ok=True a non-zero exit raises with its stderr. Output is text,
        except `stdout_bytes` on the result (raw manifests must be hashed as sent)."""
        proc = subprocess.run(
            list(argv), env=self.env, stdin=subprocess.DEVNULL, capture_output=True,
            timeout=timeout,
        )
        proc.stdout_bytes = proc.stdout
        proc.stdout = proc.stdout.decode(errors="replace")
        proc.stderr = proc.stderr.decode(errors="replace")
        if ok and proc.returncode != 0:
            raise ClientError(
                f"`{' '.join(argv)}` exited {proc.returncode}\nstdout: {proc.stdout}\nstderr: {proc.stderr}"
            )
        return proc

    def skopeo(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess:
        return self.run("skopeo", *args, ok=ok)

    def _storage(self) -> list:
        return ["--root", str(self.root), "--runroot", str(self.runroot), "--storage-driver", "vfs"]

    def podman(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess:
        return self.run("podman", *self._storage(), "--cgroup-manager", "cgroupfs",
                        "--events-backend", "none", *args, ok=ok)

    def buildah(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess:
        return self.run("buildah", *self._storage(), *args, ok=ok)

    def docker_ref(self, name: str) -> str:
        return f"docker://{self.host}/{name}"

    def copy_in(self, src: str, name: str, creds: tuple | None, fmt: str | None = None,
                ok: bool = True) -> subprocess.CompletedProcess:
        """`skopeo copy SRC docker://HOST/NAME` (NAME with :tag)."""
        args = ["copy", "--dest-tls-verify=false"]
        if creds:
            args += ["--dest-creds", f"{creds[0]}:{creds[1]}"]
        if fmt:
            args += ["--format", fmt]
        return self.skopeo(*args, src, self.docker_ref(name), ok=ok)

    def copy_out(self, name: str, dest: str, creds: tuple | None,
                 ok: bool = True) -> subprocess.CompletedProcess:
        args = ["copy", "--src-tls-verify=false"]
        if creds:
            args += ["--src-creds", f"{creds[0]}:{creds[1]}"]
        return self.skopeo(*args, self.docker_ref(name), dest, ok=ok)

    def inspect_raw(self, name: str, creds: tuple | None, ok: bool = True) -> subprocess.CompletedProcess:
        args = ["inspect", "--raw", "--tls-verify=false"]
        if creds:
            args += ["--creds", f"{creds[0]}:{creds[1]}"]
        return self.skopeo(*args, self.docker_ref(name), ok=ok)

    def oras(self, creds: tuple | None, auth_backend: str = "token", scope: str | None = None):
        """An oras-py client for this host (imported lazily: only the venv has it).

        With the token backend and a `scope`, the client starts with a token for that scope
        from the Docker token flow. oras-py 0.2.43 cannot push otherwise: once it holds the
        pull token its first request (a blob HEAD) earned, it answers the 401 of the upload
        POST by resending that same token (seen against the reference registry too:
        `scripts/integration.sh --reference`).
        """
        import oras.client
        import oras.decorator

        # oras-py retries a failed request 5 times, sleeping 2 + 3**n s (about 2 minutes in all):
        # keep the retries but not the waits, so a refusal fails the test in seconds.
        oras.decorator.time = _NoSleep
        client = oras.client.OrasClient(hostname=self.host, insecure=True, auth_backend=auth_backend)
        if creds:
            client.auth.set_basic_auth(*creds)
        if auth_backend == "token" and scope:
            http = Http(self.host, creds)
            _, challenge = http.challenge()
            t = http.token(challenge, scope)
            if t.status != 200:
                raise ClientError(f"token for oras-py: {t!r}")
            client.auth.set_token_auth(t.json().get("token") or t.json()["access_token"])
        return client


class Containerd:
    """A private containerd daemon (Debian's 1.6, run as root) and `ctr` against it.

    Its own config (`root`, `state` and the socket under one temporary directory, the CRI plugin
    off), never the system service or /etc/containerd; stopped by its PID. Pulls unpack with the
    `native` snapshotter (plain directory copies, no overlayfs), whatever the filesystem.
    """

    def __init__(self, name: str = "containerd"):
        self.name = name
        self.dir = temp_dir(name)
        self.socket = self.dir / "containerd.sock"
        self.config = self.dir / "config.toml"
        self.log_path = self.dir / "containerd.log"
        self.proc: subprocess.Popen | None = None
        self.namespace = "default"
        # An empty hosts directory: no registry configuration but what a command line says.
        self.hosts_dir = self.dir / "certs.d"
        self.hosts_dir.mkdir()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("CONTAINERD_")}
        self.env.update(
            {
                "CONTAINERD_SNAPSHOTTER": "native",
                "TMPDIR": str(self.dir),
                "HOME": str(self.dir),
                "XDG_CONFIG_HOME": str(self.dir / "config"),
            }
        )

    def start(self, timeout: float = 30.0) -> "Containerd":
        self.config.write_text(
            "version = 2\n"
            f'root = "{self.dir}/root"\n'
            f'state = "{self.dir}/state"\n'
            'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n\n'
            f'[grpc]\n  address = "{self.socket}"\n'
        )
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                ["containerd", "--config", str(self.config)], env=self.env,
                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            )
        LIVE.append(self)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self._kill()
                raise ServerError(f"{self.name} exited at start\n{self.log_tail()}")
            if self.socket.exists() and self.ctr("version", ok=False, timeout=10).returncode == 0:
                return self
            time.sleep(0.1)
        self._kill()
        raise ServerError(f"{self.name} not answering `ctr version` within {timeout}s\n{self.log_tail()}")

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM to its PID, then wait (SIGKILL after `timeout`)."""
        if self.proc is not None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        self._kill()

    def _kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
        if self.proc is not None:
            self.proc.wait()
        self.proc = None
        if self in LIVE:
            LIVE.remove(self)

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()[-lines:]
        except FileNotFoundError:
            text = []
        return f"--- last {len(text)} lines of {self.log_path}\n" + "\n".join(text)

    # -- ctr ----------------------------------------------------------------------------------

    def in_namespace(self, namespace: str) -> "Containerd":
        """The same daemon seen through another containerd namespace (its own images and
        content: what one namespace pulled, another does not have)."""
        view = copy.copy(self)
        view.namespace = namespace
        return view

    def ctr(self, *args: str, ok: bool = True, timeout: float = 300) -> subprocess.CompletedProcess:
        """`ctr --address SOCK ARGS`; with ok=True a non-zero exit raises with its output."""
        argv = ["ctr", "--address", str(self.socket), "--namespace", self.namespace, *args]
        proc = subprocess.run(argv, env=self.env, stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=timeout)
        proc.stdout_bytes = proc.stdout
        proc.stdout = ANSI.sub("", proc.stdout.decode(errors="replace"))
        proc.stderr = ANSI.sub("", proc.stderr.decode(errors="replace"))
        if ok and proc.returncode != 0:
            raise ClientError(
                f"`{' '.join(argv)}` exited {proc.returncode}\nstdout: {proc.stdout}\nstderr: {proc.stderr}"
            )
        return proc

    def _remote(self, creds: tuple | None) -> list:
        args = ["--plain-http", "--hosts-dir", str(self.hosts_dir)]
        if creds:
            args += ["--user", f"{creds[0]}:{creds[1]}"]
        return args

    def pull(self, ref: str, creds: tuple | None, platform: str | None = None,
             all_platforms: bool = False, debug: bool = False,
             ok: bool = True) -> subprocess.CompletedProcess:
        """`ctr images pull --plain-http [--user U:S] [--platform P | --all-platforms] REF`
        (with `debug`, `ctr --debug`: see `registry_errors`)."""
        args = [*(["--debug"] if debug else []), "images", "pull", *self._remote(creds)]
        if platform:
            args += ["--platform", platform]
        if all_platforms:
            args.append("--all-platforms")
        return self.ctr(*args, ref, ok=ok)

    def push(self, ref: str, creds: tuple | None, local: str | None = None,
             platform: str | None = None, debug: bool = False,
             ok: bool = True) -> subprocess.CompletedProcess:
        """`ctr images push --plain-http [--user U:S] REF [LOCAL]` (`debug` as for `pull`)."""
        args = [*(["--debug"] if debug else []), "images", "push", *self._remote(creds)]
        if platform:
            args += ["--platform", platform]
        return self.ctr(*args, ref, *([local] if local else []), ok=ok)

    @staticmethod
    def registry_errors(stderr: str) -> list:
        """The OCI errors ({code, message, detail}) of the registry's answers that `ctr --debug`
        logged. containerd 1.6 prints only the status of a refused request (`ctr: unexpected
        status: 403 Forbidden`); the body it read is in its debug log (`unexpected response`)."""
        errors = []
        for m in re.finditer(r'msg="unexpected response" body="((?:[^"\\]|\\.)*)"', stderr):
            try:
                errors += json.loads(json.loads(f'"{m.group(1)}"')).get("errors", [])
            except (ValueError, AttributeError):
                pass
        return errors

    def tag(self, src: str, *targets: str) -> subprocess.CompletedProcess:
        return self.ctr("images", "tag", "--force", src, *targets)

    def rm(self, *refs: str, ok: bool = True) -> subprocess.CompletedProcess:
        """`ctr images rm --sync REFS` (the content goes with the last image holding it)."""
        return self.ctr("images", "rm", "--sync", *refs, ok=ok)

    def images(self) -> dict:
        """`ctr images ls` as {ref: {"type", "digest", "platforms"}}."""
        lines = self.ctr("images", "ls").stdout.splitlines()
        images = {}
        for line in lines[1:]:
            parts = line.split()
            if len(parts) >= 6:
                images[parts[0]] = {"type": parts[1], "digest": parts[2],
                                    "platforms": parts[-2].split(",")}
        return images

    def content(self, digest: str) -> bytes:
        """The bytes containerd holds under `digest` (`ctr content get`)."""
        return self.ctr("content", "get", digest).stdout_bytes

    def has_content(self, digest: str) -> bool:
        return self.ctr("content", "get", digest, ok=False).returncode == 0

    def import_layout(self, layout: "Layout", base_name: str) -> str:
        """Imports an OCI layout (as a tar stream) under BASE_NAME:TAG; returns that name."""
        archive = self.dir / f"import-{random_token()}.tar"
        with tarfile.open(archive, "w") as tar:
            for item in sorted(layout.path.iterdir()):
                tar.add(item, arcname=item.name)
        try:
            self.ctr("images", "import", "--base-name", base_name, str(archive))
        finally:
            archive.unlink()
        return f"{base_name}:{layout.tag}"


# ---------------------------------------------------------------------------------------------
# Test base
# ---------------------------------------------------------------------------------------------


class BerthCase(unittest.TestCase):
    """A test class with its own `berth serve` (`cls.berth`) and private clients (`cls.clients`).

    `auth_mode` picks BERTH_AUTH_MODE; `setUpServer` (a classmethod) creates what the class needs
    through the admin CLI once the server answers.
    """

    auth_mode = "token"

    @classmethod
    def setUpClass(cls):
        cls.berth = Berth(cls.__name__, auth_mode=cls.auth_mode)
        cls.addClassCleanup(cls.berth.stop)
        cls.berth.start()
        cls.clients = Clients(cls.berth.host)
        cls.setUpServer()

    @classmethod
    def setUpServer(cls):
        pass

    @classmethod
    def new_user(cls, repositories: dict, expires: str | None = None, prefix: str = "u") -> tuple:
        """A repository user with a fresh name; returns (name, secret) as the admin CLI printed."""
        user = cls.berth.create_user(f"{prefix}{random_token(3)}", repositories, expires)
        return user["name"], user["secret"]

    def http(self, creds: tuple | None = None, host: str | None = None) -> Http:
        return Http(host or self.berth.host, creds)
