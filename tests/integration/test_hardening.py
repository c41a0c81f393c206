"""The server against hostile clients over real sockets: bodies held by callers who may not send
them, trickled and silent request heads, idle and stalled connections, the per-source connection
cap, a one-request upload over the quota, revocation of console credentials from the CLI, and the
data directory's permissions. The server runs with short timeouts so the tests stay quick.
"""

import base64
import json
import os
import socket
import stat
import time

from harness import Berth, BerthCase, Http, sha256_digest

HEAD_TIMEOUT = 2
IDLE_TIMEOUT = 3
BODY_TIMEOUT = 2
PER_SOURCE = 8


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def connect(port: int, source: str = "127.0.0.1") -> socket.socket:
    s = socket.socket()
    s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    return s


def closed_within(s: socket.socket, seconds: float) -> float | None:
    """Seconds until the server closed `s` (read EOF or reset), or None if still open."""
    start = time.monotonic()
    s.settimeout(0.2)
    while time.monotonic() - start < seconds:
        try:
            if s.recv(65536) == b"":
                return time.monotonic() - start
        except socket.timeout:
            continue
        except OSError:
            return time.monotonic() - start
    return None


class Hardening(BerthCase):
    @classmethod
    def setUpClass(cls):
        cls.berth = Berth(
            cls.__name__,
            env={
                "BERTH_LIMITS_HEAD_TIMEOUT": f"{HEAD_TIMEOUT}s",
                "BERTH_LIMITS_IDLE_TIMEOUT": f"{IDLE_TIMEOUT}s",
                "BERTH_LIMITS_BODY_TIMEOUT": f"{BODY_TIMEOUT}s",
                "BERTH_LIMITS_MAX_CONNECTIONS_PER_SOURCE": str(PER_SOURCE),
            },
        )
        cls.addClassCleanup(cls.berth.stop)
        cls.berth.start()
        cls.port = cls.berth.port
        cls.berth.create_repository("small", quota="1MiB")
        user = cls.berth.create_user("pusher", {"small": "push_pull"})
        cls.creds = (user["name"], user["secret"])

    def healthy(self):
        r = Http(self.berth.host).send("GET", "/healthz")
        self.assertEqual(r.status, 200, r)

    def metric(self, name: str) -> float:
        body = Http(self.berth.host).send("GET", "/metrics").body.decode()
        for line in body.splitlines():
            if line.split(" ")[0] == name:
                return float(line.rsplit(" ", 1)[1])
        raise AssertionError(f"no metric {name} in {body}")

    def test_held_anonymous_bodies_are_answered_before_they_end_and_cost_no_memory(self):
        pid = self.berth.proc.pid
        before = rss_kib(pid)
        head = (
            b"PUT /v2/small/app/manifests/latest HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/vnd.oci.image.manifest.v1+json\r\n"
            b"Content-Length: 4194304\r\n\r\n"
        )
        held = []
        for _ in range(100):
            # From other loopback addresses, so the per-source cap is not what answers.
            s = connect(self.port, f"127.0.{len(held) // PER_SOURCE + 1}.{len(held) % PER_SOURCE + 2}")
            s.sendall(head)
            s.setblocking(False)
            try:
                s.send(b" " * (4 * 1024 * 1024 - 1))
            except BlockingIOError:
                pass
            held.append(s)
        answers = []
        for s in held:
            s.setblocking(True)
            s.settimeout(10)
            answers.append(s.recv(200).split(b"\r\n", 1)[0])
        peak = rss_kib(pid)
        for s in held:
            s.close()
        self.assertEqual(set(answers), {b"HTTP/1.1 401 Unauthorized"})
        self.assertLessEqual((peak - before) / 1024, 16, f"RSS {before} -> {peak} KiB")
        self.healthy()

    def test_a_trickled_head_is_closed_after_the_head_timeout(self):
        s = connect(self.port, "127.0.9.1")
        start = time.monotonic()
        closed = None
        for byte in b"GET /healthz HTTP/1.1\r\nHost: x\r\n":
            try:
                s.send(bytes([byte]))
            except OSError:
                closed = time.monotonic() - start
                break
            waited = closed_within(s, 0.5)
            if waited is not None:
                closed = time.monotonic() - start
                break
            self.healthy()
        s.close()
        self.assertIsNotNone(closed, "the trickled head was never closed")
        self.assertGreaterEqual(closed, HEAD_TIMEOUT - 0.5)
        self.assertGreaterEqual(self.metric('berth_connections_timed_out_total{timeout="head_timeout"}'), 1)

    def test_silent_and_idle_connections_are_closed(self):
        silent = connect(self.port, "127.0.9.2")
        idle = connect(self.port, "127.0.9.3")
        idle.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        idle.settimeout(5)
        self.assertTrue(idle.recv(100).startswith(b"HTTP/1.1 200"))
        self.assertIsNotNone(closed_within(silent, HEAD_TIMEOUT + 3), "a silent connection stayed open")
        self.assertIsNotNone(closed_within(idle, IDLE_TIMEOUT + 3), "an idle keep-alive stayed open")
        self.healthy()

    def test_a_stalled_body_ends_and_a_slow_one_goes_through(self):
        http = Http(self.berth.host, self.creds)
        start = http.request("POST", "/v2/small/app/blobs/uploads/")
        self.assertEqual(start.status, 202, start)
        location = start.header("Location")
        auth = "Basic " + base64.b64encode(f"{self.creds[0]}:{self.creds[1]}".encode()).decode()
        # Slow but moving: a byte every half second, under the body timeout between bytes.
        s = connect(self.port, "127.0.9.4")
        s.sendall(
            f"PATCH {location} HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\n"
            f"Content-Length: 6\r\nContent-Range: 0-5\r\n\r\n".encode()
        )
        for byte in b"slowly":
            time.sleep(0.5)
            s.send(bytes([byte]))
        s.settimeout(10)
        self.assertTrue(s.recv(200).startswith(b"HTTP/1.1 202"), "a slow upload works")
        s.close()
        # Stalled: half the body, then nothing.
        s = connect(self.port, "127.0.9.5")
        s.sendall(
            f"PATCH {location} HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\n"
            f"Content-Length: 100\r\n\r\n".encode() + b"x" * 50
        )
        s.settimeout(BODY_TIMEOUT + 5)
        status = s.recv(200).split(b"\r\n", 1)[0]
        self.assertTrue(status.startswith(b"HTTP/1.1 4"), status)
        self.assertIsNotNone(closed_within(s, 5))
        s.close()
        self.assertGreaterEqual(self.metric('berth_connections_timed_out_total{timeout="body_timeout"}'), 1)
        # The stalled chunk kept nothing: the session is where the slow one left it.
        status = http.request("GET", location)
        self.assertEqual((status.status, status.header("Range")), (204, "0-5"), status)
        self.healthy()

    def test_one_source_cannot_take_every_connection(self):
        mine = [connect(self.port, "127.0.8.1") for _ in range(PER_SOURCE)]
        time.sleep(0.2)
        extra = connect(self.port, "127.0.8.1")
        extra.settimeout(5)
        try:
            answer = extra.recv(200)
        except OSError:
            answer = b""
        self.assertTrue(answer == b"" or answer.startswith(b"HTTP/1.1 503"), answer)
        self.healthy()  # another source is not held back
        self.assertGreaterEqual(
            self.metric('berth_connections_refused_total{cap="max_connections_per_source"}'), 1
        )
        for s in mine + [extra]:
            s.close()

    def test_a_one_request_upload_over_the_quota_stores_nothing(self):
        blob = os.urandom(3 * 1024 * 1024)
        digest = sha256_digest(blob)
        http = Http(self.berth.host, self.creds)
        r = http.request("POST", f"/v2/small/app/blobs/uploads/?digest={digest}", blob,
                         headers={"Content-Type": "application/octet-stream"})
        self.assertEqual(r.status, 403, r)
        self.assertIn("DENIED", r.error_codes(), r)
        self.assertIn("over the limit of 1.0 MiB", r.body.decode(), r)
        head = http.request("HEAD", f"/v2/small/app/blobs/{digest}")
        self.assertEqual(head.status, 404, head)
        blobs = self.berth.data_dir / "blobs"
        stored = [p for p in blobs.rglob("*") if p.is_file() and digest.split(":")[1] in p.name]
        self.assertEqual(stored, [], "no bytes of the refused blob were kept")

    def test_the_cli_ends_a_console_users_sessions(self):
        import subprocess

        from harness import BERTH_BIN

        def set_password(name: str, password: str):
            proc = subprocess.run(
                [str(BERTH_BIN), "admin", "console-user", "set-password", name],
                env=self.berth.env, input=password + "\n", capture_output=True, text=True, timeout=60,
            )
            self.assertEqual(proc.returncode, 0, proc.stderr)
            self.assertIn("sessions and API tokens have ended", proc.stdout)

        http = Http(self.berth.host)
        login = http.send("POST", "/api/v1/session",
                          json.dumps({"username": "admin", "password": self.berth.admin_password}).encode(),
                          {"Content-Type": "application/json"})
        self.assertEqual(login.status, 200, login)
        cookie = login.header("Set-Cookie").split(";", 1)[0]
        self.assertEqual(http.send("GET", "/api/v1/session", headers={"Cookie": cookie}).status, 200)
        new_password = "recovered-" + os.urandom(6).hex()
        set_password("admin", new_password)
        self.addCleanup(set_password, "admin", self.berth.admin_password)
        self.assertEqual(http.send("GET", "/api/v1/session", headers={"Cookie": cookie}).status, 401)
        again = http.send("POST", "/api/v1/session",
                          json.dumps({"username": "admin", "password": new_password}).encode(),
                          {"Content-Type": "application/json"})
        self.assertEqual(again.status, 200, again)
        out = http.send("DELETE", "/api/v1/session",
                        headers={"Cookie": again.header("Set-Cookie").split(";", 1)[0]})
        self.assertEqual(out.status, 204)

    def test_the_data_directory_is_private(self):
        data = self.berth.data_dir
        self.assertEqual(stat.S_IMODE(data.stat().st_mode), 0o700)
        self.assertEqual(stat.S_IMODE((data / "berth.db").stat().st_mode), 0o600)
        self.assertEqual(stat.S_IMODE((data / "blobs").stat().st_mode), 0o700)
