#!/usr/bin/env python3
"""Hostile anonymous clients against a live `berth serve` on loopback, with numbers.

    scripts/attack.py --url http://127.0.0.1:PORT [--pid PID] [--source 127.0.0.2]
                      [--scenario all|bodies|heads|idle|guess] [--json] [options]

Start a server first, for example

    BERTH_ADMIN_PASSWORD=admin-password-1 target/debug/berth serve \\
        --data-dir /tmp/atk-data --listen 127.0.0.1:5055 &
    scripts/attack.py --url http://127.0.0.1:5055 --pid $! --source 127.0.0.2 \\
        --good-user admin --good-password admin-password-1

Scenarios (`--scenario all` runs them in this order):

  bodies  N connections (default 100) each send `PUT /v2/REPO/IMAGE/manifests/latest` with
          `Content-Length: 4194304` and one byte less of body, then hold; the same with
          `POST /api/v1/repositories` (`Content-Length: 1048576`, one byte less sent), which
          runs first (freed heap the server keeps after the 4 MiB bodies would hide its
          growth). Reports the answers that came before the body was complete (a hardened
          server answers 401 early), the connections the server closed, and the server's RSS
          growth over the scenario's baseline (`--pid`).
  heads   N connections (default 50) trickle a request head one byte every 2 s and never end it.
          Reports how long the server took to close each (min/median/max), and how many were
          still open at the end of `--duration`.
  idle    N silent connections and N that make one keep-alive request and then go idle (both
          groups at once). Reports time to close, counted from connect (silent) or from the end of
          the response (keep-alive).
  guess   up to `--attempts` Basic logins against `GET /v2/` (and `GET /token` in token mode)
          with a wrong password, alternating `--user` (a known name) and `--unknown-user`, with a
          good login of `--good-user`/`--good-password` every `--good-every` attempts when given,
          all from `--source`. Reports the 401s before the first 429, Retry-After, and the
          response times of wrong guesses for the known and the unknown name.

Throughout every scenario a probe asks `GET /healthz` from 127.0.0.1 (::1 for an IPv6 target)
every 0.5 s with a 2 s timeout. `--source` binds the attacking sockets to another loopback
address (Linux routes all of 127/8 to lo), so per-source connection caps can tell the attacker
from the probe. Without `--pid` the script looks for the process listening on the port (RSS is
read from /proc/PID/status, VmRSS).

Safety: only http:// targets whose every address is loopback (127.0.0.0/8, ::1), a loopback
`--source`; connections per group <= 500, `--duration` <= 300 s, `--hold` <= 60 s, `--attempts`
<= 1000; every scenario ends within about `--duration` + `--hold` + 5 s whatever the server does,
and closes every socket it opened.

Output: progress on stderr; a readable summary on stdout ending in one VERDICT line per scenario
(thresholds: RSS growth under the held bodies <= 16 MiB; slow heads closed within
`--head-timeout` (default 10 s) + 2 s; every health probe answered), or with `--json` one JSON
object on stdout. The exit code is 0 whatever the numbers say: 1 when the script itself failed
(the server unreachable at the start, a scenario crashed), 2 for a usage error or a refused
target, 130 on Ctrl-C.
"""

from __future__ import annotations

import argparse
import base64
import collections
import errno
import ipaddress
import json
import os
import resource
import selectors
import socket
import statistics
import sys
import threading
import time
import urllib.parse

MIB = 1 << 20

# Hard maximums: whatever the flags say, no run goes past these.
MAX_CONNECTIONS = 500
MAX_DURATION = 300.0
MAX_HOLD = 60.0
MAX_ATTEMPTS = 1000
MAX_REQUEST_TIMEOUT = 30.0

PROBE_INTERVAL = 0.5
PROBE_TIMEOUT = 2.0
RSS_INTERVAL = 0.1
RSS_LIMIT_MIB = 16.0
HEAD_SLACK = 2.0
CONNECT_TIMEOUT = 5.0
SETTLE = 1.0

MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
MANIFEST_LENGTH = 4 * MIB
API_LENGTH = 1 * MIB


class UsageError(Exception):
    pass


def log(message: str) -> None:
    print(f"[attack {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# Target, source, server process
# ---------------------------------------------------------------------------------------------


def loopback(ip: ipaddress._BaseAddress) -> bool:
    # IPv4-mapped IPv6 (::ffff:127.0.0.1) is refused: is_loopback is false for it.
    return ip.is_loopback


class Target:
    """The server: an http:// URL whose every address is loopback."""

    def __init__(self, url: str):
        parts = urllib.parse.urlsplit(url)
        if parts.scheme != "http":
            raise UsageError(f"--url {url!r}: only http:// targets (plain TCP on loopback)")
        if not parts.hostname:
            raise UsageError(f"--url {url!r}: no host")
        try:
            self.port = parts.port or 80
        except ValueError as e:
            raise UsageError(f"--url {url!r}: {e}")
        host = parts.hostname
        try:
            infos = socket.getaddrinfo(host, self.port, type=socket.SOCK_STREAM)
        except socket.gaierror as e:
            raise UsageError(f"--url {url!r}: cannot resolve {host!r}: {e}")
        addresses = []
        for family, _, _, _, sockaddr in infos:
            ip = ipaddress.ip_address(sockaddr[0].split("%")[0])
            if not loopback(ip):
                what = f"{host} is" if host == str(ip) else f"{host} resolves to {ip}, which is"
                raise UsageError(
                    f"refusing target {url!r}: {what} not loopback (127.0.0.0/8 or ::1)"
                )
            addresses.append((family, ip))
        if not addresses:
            raise UsageError(f"--url {url!r}: {host} resolves to nothing")
        self.family, ip = addresses[0]
        self.ip = str(ip)
        self.url = url.rstrip("/")
        self.host_header = parts.netloc
        # The probe's address: the one a health checker on the same host would use.
        self.probe_source = "127.0.0.1" if self.family == socket.AF_INET else "::1"

    @property
    def sockaddr(self):
        if self.family == socket.AF_INET6:
            return (self.ip, self.port, 0, 0)
        return (self.ip, self.port)


def check_source(source: str | None, target: Target) -> str | None:
    if source is None:
        return None
    try:
        ip = ipaddress.ip_address(source)
    except ValueError:
        raise UsageError(f"--source {source!r}: not an IP address")
    if not loopback(ip):
        raise UsageError(f"refusing --source {source}: not a loopback address")
    family = socket.AF_INET if ip.version == 4 else socket.AF_INET6
    if family != target.family:
        raise UsageError(f"--source {source} and the target {target.ip} are not the same family")
    with socket.socket(family, socket.SOCK_STREAM) as s:
        try:
            s.bind((source, 0))
        except OSError as e:
            raise UsageError(f"--source {source}: cannot bind: {e}")
    return source


def read_rss_kib(pid: int | None) -> int | None:
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def find_listener_pid(port: int) -> int | None:
    """The one process holding a listening TCP socket on `port`, from /proc; None if not exactly
    one is found (or it is not ours to read)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f, None)
                for line in f:
                    fields = line.split()
                    if len(fields) > 9 and fields[3] == "0A":
                        if int(fields[1].rsplit(":", 1)[1], 16) == port:
                            inodes.add(f"socket:[{fields[9]}]")
        except OSError:
            pass
    if not inodes:
        return None
    found = set()
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            for fd in os.listdir(f"/proc/{name}/fd"):
                try:
                    if os.readlink(f"/proc/{name}/fd/{fd}") in inodes:
                        found.add(int(name))
                        break
                except OSError:
                    pass
        except OSError:
            pass
    return found.pop() if len(found) == 1 else None


def raise_fd_limit(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        if hard != resource.RLIM_INFINITY and hard < needed:
            raise UsageError(f"need {needed} file descriptors, the hard limit is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


# ---------------------------------------------------------------------------------------------
# Small numbers
# ---------------------------------------------------------------------------------------------


def quantile(values, q: float):
    if not values:
        return None
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def spread(values) -> dict:
    """min/median/p90/max of a list of seconds, rounded."""
    if not values:
        return {"n": 0, "min": None, "median": None, "p90": None, "max": None}
    return {
        "n": len(values),
        "min": round(min(values), 4),
        "median": round(statistics.median(values), 4),
        "p90": round(quantile(values, 0.9), 4),
        "max": round(max(values), 4),
    }


def fmt_s(value) -> str:
    return "-" if value is None else f"{value:.2f}s"


def fmt_ms(value) -> str:
    return "-" if value is None else f"{value * 1000:.1f}ms"


def fmt_spread(s: dict, fmt=fmt_s) -> str:
    if not s["n"]:
        return "none"
    return f"min {fmt(s['min'])} / median {fmt(s['median'])} / max {fmt(s['max'])} (n={s['n']})"


def fmt_counts(counts: dict) -> str:
    """` {401: 4, 429: 2}`-like, or nothing for no counts."""
    if not counts:
        return ""
    return " {" + ", ".join(f"{k}: {v}" for k, v in counts.items()) + "}"


def kib_to_mib(kib):
    return None if kib is None else round(kib / 1024, 1)


# ---------------------------------------------------------------------------------------------
# Blocking HTTP with an overall deadline (probe, guess)
# ---------------------------------------------------------------------------------------------


class Answer:
    def __init__(self, status, headers, body, elapsed):
        self.status = status
        self.headers = headers
        self.body = body
        self.elapsed = elapsed


def parse_head(data: bytes):
    """(status, {lower-case name: value}) of a response head, or (None, {})."""
    lines = data.split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    status = None
    if len(parts) >= 2 and parts[0].startswith(b"HTTP/") and parts[1].isdigit():
        status = int(parts[1])
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        if sep:
            headers[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
    return status, headers


def http_exchange(target: Target, source: str | None, request: bytes, timeout: float) -> Answer:
    """One request on a fresh connection (`Connection: close`), all within `timeout` seconds.
    Raises OSError (TimeoutError included) when the server does not answer in time."""
    start = time.monotonic()
    deadline = start + timeout
    sock = socket.socket(target.family, socket.SOCK_STREAM)
    try:
        if source:
            sock.bind((source, 0))
        sock.settimeout(timeout)
        sock.connect(target.sockaddr)
        sock.settimeout(max(0.001, deadline - time.monotonic()))
        sock.sendall(request)
        data = bytearray()
        head_end, need = -1, None
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no complete answer within {timeout}s")
            sock.settimeout(remaining)
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
            if head_end < 0:
                head_end = data.find(b"\r\n\r\n")
                if head_end >= 0:
                    _, headers = parse_head(bytes(data[:head_end]))
                    if headers.get("content-length", "").isdigit():
                        need = head_end + 4 + int(headers["content-length"])
            if need is not None and len(data) >= need:
                break
            if len(data) > 4 * MIB:
                break
        if head_end < 0:
            raise ConnectionError("connection closed before a complete response head")
        status, headers = parse_head(bytes(data[:head_end]))
        if status is None:
            raise ConnectionError(f"not an HTTP response: {bytes(data[:40])!r}")
        return Answer(status, headers, bytes(data[head_end + 4:]), time.monotonic() - start)
    finally:
        sock.close()


def get_request(target: Target, path: str, authorization: str | None = None) -> bytes:
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: {target.host_header}",
        "User-Agent: berth-attack",
        "Connection: close",
    ]
    if authorization:
        lines.append(f"Authorization: {authorization}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


# ---------------------------------------------------------------------------------------------
# Background watchers: health probe, RSS sampler
# ---------------------------------------------------------------------------------------------


class Probe(threading.Thread):
    """`GET /healthz` from the probe address every 0.5 s with a 2 s timeout."""

    def __init__(self, target: Target):
        super().__init__(name="probe", daemon=True)
        self.target = target
        self.stopping = threading.Event()
        self.sent = 0
        self.failed = 0
        self.latencies = []
        self.failures = collections.Counter()

    def run(self):
        request = get_request(self.target, "/healthz")
        next_at = time.monotonic()
        while not self.stopping.is_set():
            self.sent += 1
            start = time.monotonic()
            try:
                answer = http_exchange(self.target, self.target.probe_source, request,
                                       PROBE_TIMEOUT)
                if answer.status != 200:
                    self.failed += 1
                    self.failures[f"status {answer.status}"] += 1
            except OSError as e:
                self.failed += 1
                self.failures[type(e).__name__] += 1
            self.latencies.append(time.monotonic() - start)
            next_at += PROBE_INTERVAL
            wait = next_at - time.monotonic()
            if wait < 0:
                next_at, wait = time.monotonic(), 0
            self.stopping.wait(wait)

    def stop(self) -> dict:
        self.stopping.set()
        self.join(PROBE_TIMEOUT + 1)
        return {
            "sent": self.sent,
            "failed": self.failed,
            "failures": dict(self.failures),
            "max_latency_s": round(max(self.latencies), 4) if self.latencies else None,
            "median_latency_s": round(statistics.median(self.latencies), 4)
            if self.latencies
            else None,
        }


class RssSampler(threading.Thread):
    """VmRSS of the server every 0.1 s."""

    def __init__(self, pid: int | None):
        super().__init__(name="rss", daemon=True)
        self.pid = pid
        self.stopping = threading.Event()
        self.samples = []  # (monotonic, kib)
        self.gone = False

    def run(self):
        if self.pid is None:
            return
        while not self.stopping.is_set():
            kib = read_rss_kib(self.pid)
            if kib is None:
                self.gone = True
            else:
                self.samples.append((time.monotonic(), kib))
            self.stopping.wait(RSS_INTERVAL)

    def peak(self, since: float = 0.0, until: float = float("inf")):
        values = [kib for t, kib in self.samples if since <= t <= until]
        return max(values) if values else None

    def stop(self):
        self.stopping.set()
        self.join(2)


def baseline_rss(pid: int | None):
    if pid is None:
        return None
    values = []
    for _ in range(3):
        kib = read_rss_kib(pid)
        if kib is not None:
            values.append(kib)
        time.sleep(0.1)
    return min(values) if values else None


# ---------------------------------------------------------------------------------------------
# Many non-blocking connections in one selector loop
# ---------------------------------------------------------------------------------------------


class Conn:
    def __init__(self, group: str, segments=(), trickle: bytes | None = None,
                 keepalive_request: bool = False):
        self.group = group
        self.sock: socket.socket | None = None
        self.state = "new"  # connecting, open, closed (by the server), failed (to connect)
        self.failure = None
        self.t_begin = None
        self.t_open = None
        self.t_ref = None  # when the close clock starts
        self.t_closed = None
        self.close_how = None  # eof, reset
        self.segments = [memoryview(s) for s in segments]
        self.seg = 0
        self.seg_off = 0
        self.to_send = sum(len(s) for s in self.segments)
        self.sent = 0
        self.t_sent_all = None
        self.trickle = trickle
        self.trickle_pos = 0
        self.keepalive = keepalive_request
        self.rx = bytearray()
        self.rx_total = 0
        self.status = None
        self.t_status = None
        self.sent_at_status = None
        self.response_done = False

    @property
    def sending(self) -> bool:
        return self.state == "open" and self.status is None and self.seg < len(self.segments)

    def close_after(self):
        """Seconds from the clock start to the server's close; None when still open."""
        if self.state != "closed" or self.t_ref is None:
            return None
        return self.t_closed - self.t_ref


class Swarm:
    """Opens, feeds and watches connections until a deadline; `close_all` ends them."""

    CHUNK = 256 * 1024
    RX_KEEP = 64 * 1024

    def __init__(self, target: Target, source: str | None):
        self.target = target
        self.source = source
        self.sel = selectors.DefaultSelector()
        self.conns: list[Conn] = []

    def open(self, conn: Conn) -> None:
        self.conns.append(conn)
        conn.t_begin = time.monotonic()
        sock = socket.socket(self.target.family, socket.SOCK_STREAM)
        conn.sock = sock
        try:
            sock.setblocking(False)
            if self.source:
                sock.bind((self.source, 0))
            code = sock.connect_ex(self.target.sockaddr)
        except OSError as e:
            self._fail(conn, f"{type(e).__name__}: {e}")
            return
        if code == 0:
            self._opened(conn)
        elif code in (errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EAGAIN):
            conn.state = "connecting"
            self.sel.register(sock, selectors.EVENT_WRITE, conn)
        else:
            self._fail(conn, os.strerror(code))

    def _fail(self, conn: Conn, why: str) -> None:
        conn.state = "failed"
        conn.failure = why
        self._drop(conn)

    def _drop(self, conn: Conn) -> None:
        if conn.sock is not None:
            try:
                self.sel.unregister(conn.sock)
            except (KeyError, ValueError):
                pass
            conn.sock.close()
            conn.sock = None

    def _opened(self, conn: Conn) -> None:
        now = time.monotonic()
        conn.state = "open"
        conn.t_open = now
        if not conn.keepalive:
            conn.t_ref = now
        if conn.trickle is not None:
            self._trickle_one(conn)
        self._update(conn, register=True)

    def _update(self, conn: Conn, register: bool = False) -> None:
        if conn.sock is None:
            return
        mask = selectors.EVENT_READ
        if conn.sending:
            mask |= selectors.EVENT_WRITE
        if register:
            try:
                self.sel.register(conn.sock, mask, conn)
            except KeyError:
                self.sel.modify(conn.sock, mask, conn)
        else:
            self.sel.modify(conn.sock, mask, conn)

    def _closed(self, conn: Conn, how: str) -> None:
        conn.state = "closed"
        conn.close_how = how
        conn.t_closed = time.monotonic()
        self._drop(conn)

    def _send_failed(self, conn: Conn) -> None:
        """A send refused (the server reset or closed): an answer it sent before may still be in
        our receive queue, so read what is there before counting the close."""
        self._read(conn)
        if conn.sock is not None:
            self._closed(conn, "reset")

    def _read(self, conn: Conn) -> None:
        while conn.sock is not None:
            try:
                chunk = conn.sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                self._closed(conn, "reset")
                return
            if not chunk:
                self._closed(conn, "eof")
                return
            conn.rx_total += len(chunk)
            if len(conn.rx) < self.RX_KEEP:
                conn.rx += chunk[: self.RX_KEEP - len(conn.rx)]
            self._parse(conn)

    def _parse(self, conn: Conn) -> None:
        if conn.status is None:
            end = conn.rx.find(b"\r\n")
            if end < 0 and len(conn.rx) < 16:
                return
            status, _ = parse_head(bytes(conn.rx[: end if end >= 0 else 16]))
            conn.status = status if status is not None else -1
            conn.t_status = time.monotonic()
            conn.sent_at_status = conn.sent
        if conn.keepalive and not conn.response_done:
            head_end = conn.rx.find(b"\r\n\r\n")
            if head_end < 0:
                return
            _, headers = parse_head(bytes(conn.rx[:head_end]))
            length = headers.get("content-length", "0")
            length = int(length) if length.isdigit() else 0
            if conn.rx_total >= head_end + 4 + length:
                conn.response_done = True
                conn.t_ref = time.monotonic()

    def _write(self, conn: Conn) -> None:
        while conn.sending:
            seg = conn.segments[conn.seg]
            piece = seg[conn.seg_off: conn.seg_off + self.CHUNK]
            try:
                n = conn.sock.send(piece)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                self._send_failed(conn)
                return
            conn.sent += n
            conn.seg_off += n
            if conn.seg_off >= len(seg):
                conn.seg += 1
                conn.seg_off = 0
        if conn.state == "open" and conn.seg >= len(conn.segments) and conn.t_sent_all is None \
                and conn.segments:
            conn.t_sent_all = time.monotonic()

    def _trickle_one(self, conn: Conn) -> None:
        if conn.state != "open" or conn.sock is None:
            return
        data = conn.trickle
        pos = conn.trickle_pos
        byte = data[pos: pos + 1] if pos < len(data) else b"a"
        try:
            n = conn.sock.send(byte)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._send_failed(conn)
            return
        conn.trickle_pos += n
        conn.sent += n

    def trickle_all(self) -> None:
        for conn in self.conns:
            if conn.trickle is not None:
                self._trickle_one(conn)

    def run(self, until: float, done=None, tick=None, tick_every: float = 0.0) -> None:
        """Serves events until `until` (monotonic) or until `done()` is true; calls `tick()`
        every `tick_every` seconds."""
        next_tick = time.monotonic() + tick_every if tick else None
        while True:
            now = time.monotonic()
            if now >= until or (done is not None and done()):
                return
            # Connects that take too long count as failed.
            for conn in self.conns:
                if conn.state == "connecting" and now - conn.t_begin > CONNECT_TIMEOUT:
                    self._fail(conn, "connect timeout")
            timeout = min(until - now, 0.1)
            if next_tick is not None:
                timeout = max(0.0, min(timeout, next_tick - now))
            if not self.sel.get_map():
                time.sleep(timeout)
                events = []
            else:
                events = self.sel.select(timeout)
            for key, mask in events:
                conn = key.data
                if conn.sock is None:
                    continue
                if conn.state == "connecting":
                    code = conn.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if code == 0:
                        self._opened(conn)
                    else:
                        self._fail(conn, os.strerror(code))
                    continue
                if mask & selectors.EVENT_READ:
                    self._read(conn)
                if conn.sock is not None and mask & selectors.EVENT_WRITE:
                    self._write(conn)
                if conn.sock is not None:
                    self._update(conn)
            if next_tick is not None and time.monotonic() >= next_tick:
                tick()
                next_tick += tick_every

    def close_all(self) -> None:
        for conn in self.conns:
            self._drop(conn)
        self.sel.close()


def group_report(conns: list[Conn], end: float) -> dict:
    """Close times and states of one group of connections."""
    connected = [c for c in conns if c.state in ("open", "closed")]
    closed = [c for c in conns if c.state == "closed"]
    times = [c.close_after() for c in closed if c.close_after() is not None]
    failures = collections.Counter(c.failure for c in conns if c.state == "failed")
    statuses = collections.Counter(str(c.status) for c in conns if c.status is not None)
    return {
        "connections": len(conns),
        "connected": len(connected),
        "connect_failed": sum(1 for c in conns if c.state == "failed"),
        "connect_failures": dict(failures),
        "closed_by_server": len(closed),
        "closed_how": dict(collections.Counter(c.close_how for c in closed)),
        "still_open": sum(1 for c in conns if c.state == "open"),
        "still_connecting": sum(1 for c in conns if c.state == "connecting"),
        "close_after_s": spread(times),
        "answered": sum(1 for c in conns if c.status is not None),
        "statuses": dict(statuses),
        "open_for_s_at_end": spread([end - c.t_ref for c in conns
                                     if c.state == "open" and c.t_ref]),
    }


# ---------------------------------------------------------------------------------------------
# Scenarios
# ---------------------------------------------------------------------------------------------


class Context:
    def __init__(self, args, target: Target, source: str | None, pid: int | None):
        self.args = args
        self.target = target
        self.source = source
        self.pid = pid


class Watch:
    """The probe and the RSS sampler around one scenario."""

    def __init__(self, ctx: Context):
        self.ctx = ctx

    def __enter__(self):
        self.baseline = baseline_rss(self.ctx.pid)
        self.rss = RssSampler(self.ctx.pid)
        self.probe = Probe(self.ctx.target)
        self.rss.start()
        self.probe.start()
        return self

    def __exit__(self, *exc):
        self.probes = self.probe.stop()
        self.rss.stop()
        return False

    def rss_report(self, hold_from=None, hold_until=None, after=None) -> dict:
        peak = self.rss.peak()
        held = self.rss.peak(hold_from, hold_until) if hold_from is not None else None
        growth = None if peak is None or self.baseline is None else peak - self.baseline
        return {
            "baseline_mib": kib_to_mib(self.baseline),
            "peak_mib": kib_to_mib(peak),
            "peak_growth_mib": kib_to_mib(growth),
            "peak_while_held_mib": kib_to_mib(held),
            "after_close_mib": kib_to_mib(after),
            "server_gone": self.rss.gone,
        }


def body_segments(kind: str, target: Target, args):
    if kind == "manifest":
        path = f"/v2/{args.repo}/{args.image}/manifests/latest"
        head = (
            f"PUT {path} HTTP/1.1\r\nHost: {target.host_header}\r\nUser-Agent: berth-attack\r\n"
            f"Content-Type: {MANIFEST_TYPE}\r\nContent-Length: {MANIFEST_LENGTH}\r\n\r\n"
        ).encode()
        length = MANIFEST_LENGTH
    else:
        path = "/api/v1/repositories"
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {target.host_header}\r\nUser-Agent: berth-attack\r\n"
            f"Content-Type: application/json\r\nContent-Length: {API_LENGTH}\r\n\r\n"
        ).encode()
        length = API_LENGTH
    return path, length, head


def scenario_bodies(ctx: Context, kind: str) -> dict:
    args = ctx.args
    n = args.connections if args.connections is not None else 100
    path, length, head = body_segments(kind, ctx.target, args)
    body = b"{" + b" " * (length - 2)  # one byte short of Content-Length
    log(f"bodies/{kind}: {n} connections, {'PUT' if kind == 'manifest' else 'POST'} {path}, "
        f"Content-Length {length}, {len(body)} bytes sent, then hold {args.hold}s "
        f"(at most {args.duration}s)")
    swarm = Swarm(ctx.target, ctx.source)
    result = {"method_path": f"{'PUT' if kind == 'manifest' else 'POST'} {path}",
              "content_length": length, "body_bytes_sent_per_connection": len(body)}
    with Watch(ctx) as watch:
        start = time.monotonic()
        deadline = start + args.duration
        settled_at = None
        try:
            for _ in range(n):
                swarm.open(Conn("body", segments=(head, body)))

            def settled():
                return all(c.state in ("closed", "failed") or c.status is not None
                           or c.t_sent_all is not None for c in swarm.conns)

            swarm.run(deadline, done=settled)
            settled_at = time.monotonic()
            all_settled = settled()
            if all_settled:
                log(f"bodies/{kind}: all connections settled after {settled_at - start:.1f}s; "
                    f"holding {args.hold}s")
                swarm.run(min(deadline, settled_at + args.hold))
            else:
                log(f"bodies/{kind}: not all connections settled within {args.duration}s")
            end = time.monotonic()
            conns = swarm.conns
            answered = [c for c in conns if c.status is not None]
            result.update(group_report(conns, end))
            result.update({
                "fully_sent": sum(1 for c in conns if c.t_sent_all is not None),
                "answered_before_all_bytes_sent": sum(
                    1 for c in answered if c.sent_at_status < c.to_send),
                "answer_after_s": spread([c.t_status - c.t_open for c in answered]),
                "bytes_sent_mib": round(sum(c.sent for c in conns) / MIB, 1),
                # None: some connection was still sending at the deadline.
                "settled_after_s": round(settled_at - start, 2) if all_settled else None,
                "elapsed_s": round(end - start, 2),
            })
            hold_from, hold_until = settled_at, end
        finally:
            swarm.close_all()
        time.sleep(SETTLE)
        after = read_rss_kib(ctx.pid)
    result["rss"] = watch.rss_report(hold_from, hold_until, after)
    result["probes"] = watch.probes
    growth = result["rss"]["peak_growth_mib"]
    if growth is None:
        verdict, why = "n/a", "no RSS (no --pid)"
    else:
        verdict = "PASS" if growth <= RSS_LIMIT_MIB else "FAIL"
        why = (f"RSS grew {growth:.1f} MiB over {result['rss']['baseline_mib']} MiB with {n} "
               f"connections (limit {RSS_LIMIT_MIB:.0f} MiB"
               f"{'' if n == 100 else ', set for 100'})")
    statuses = " " + json.dumps(result["statuses"]) if result["statuses"] else ""
    why += (f"; {result['answered']} answered early{statuses}, "
            f"{result['closed_by_server']} closed by the server")
    result["verdict"] = verdict_with_probes(verdict, why, watch.probes)
    return result


def verdict_with_probes(verdict: str, why: str, probes: dict) -> dict:
    probe_ok = probes["failed"] == 0 and probes["sent"] > 0
    probe_text = (f"probes {probes['sent']} sent, {probes['failed']} failed, max "
                  f"{fmt_ms(probes['max_latency_s'])}")
    if not probe_ok:
        verdict = "FAIL"
    return {"verdict": verdict, "reason": f"{why} | {probe_text}", "probes_ok": probe_ok}


def close_verdict(report: dict, limit: float, duration: float, what: str):
    """PASS when every connected connection was closed within `limit` seconds."""
    connected = report["connected"]
    late = report["close_after_s"]["max"]
    if connected == 0:
        return "n/a", f"no {what} connected"
    if report["still_open"] == 0 and (late is None or late <= limit):
        return "PASS", (f"{what}: all {connected} closed within {limit:.0f}s "
                        f"(max {fmt_s(late)})")
    if late is not None and late > limit:
        return "FAIL", (f"{what}: closed as late as {fmt_s(late)} (limit {limit:.0f}s); "
                        f"{report['still_open']} of {connected} still open at the end")
    if duration < limit:
        return "INCONCLUSIVE", (f"{what}: {report['still_open']} of {connected} still open after "
                                f"{duration:.0f}s, shorter than the limit {limit:.0f}s")
    return "FAIL", (f"{what}: {report['still_open']} of {connected} still open after "
                    f"{duration:.0f}s (limit {limit:.0f}s)")


def scenario_heads(ctx: Context) -> dict:
    args = ctx.args
    n = args.connections if args.connections is not None else 50
    head = (f"GET /healthz HTTP/1.1\r\nHost: {ctx.target.host_header}\r\n"
            "User-Agent: berth-attack\r\nX-Slow: ").encode()
    log(f"heads: {n} connections trickling a request head, one byte every "
        f"{args.trickle_interval}s, for {args.duration}s")
    swarm = Swarm(ctx.target, ctx.source)
    with Watch(ctx) as watch:
        start = time.monotonic()
        try:
            for _ in range(n):
                swarm.open(Conn("head", trickle=head))
            swarm.run(start + args.duration,
                      done=lambda: all(c.state in ("closed", "failed") for c in swarm.conns),
                      tick=swarm.trickle_all, tick_every=args.trickle_interval)
            end = time.monotonic()
            result = group_report(swarm.conns, end)
            result["head_bytes_sent"] = spread([c.sent for c in swarm.conns])
            result["elapsed_s"] = round(end - start, 2)
        finally:
            swarm.close_all()
    result["rss"] = watch.rss_report()
    result["probes"] = watch.probes
    limit = args.head_timeout + HEAD_SLACK
    verdict, why = close_verdict(result, limit, result["elapsed_s"], "slow heads")
    result["verdict"] = verdict_with_probes(verdict, why, watch.probes)
    return result


def scenario_idle(ctx: Context) -> dict:
    args = ctx.args
    n = args.connections if args.connections is not None else 50
    request = (f"GET /healthz HTTP/1.1\r\nHost: {ctx.target.host_header}\r\n"
               "User-Agent: berth-attack\r\n\r\n").encode()
    log(f"idle: {n} silent connections and {n} idle after one keep-alive request, "
        f"for {args.duration}s")
    swarm = Swarm(ctx.target, ctx.source)
    with Watch(ctx) as watch:
        start = time.monotonic()
        try:
            for _ in range(n):
                swarm.open(Conn("silent"))
                swarm.open(Conn("keepalive", segments=(request,), keepalive_request=True))
            swarm.run(start + args.duration,
                      done=lambda: all(c.state in ("closed", "failed") for c in swarm.conns))
            end = time.monotonic()
            silent = [c for c in swarm.conns if c.group == "silent"]
            keep = [c for c in swarm.conns if c.group == "keepalive"]
            result = {
                "silent": group_report(silent, end),
                "keepalive": group_report(keep, end),
                "elapsed_s": round(end - start, 2),
            }
            result["keepalive"]["responses_complete"] = sum(1 for c in keep if c.response_done)
        finally:
            swarm.close_all()
    result["rss"] = watch.rss_report()
    result["probes"] = watch.probes
    limit = args.head_timeout + HEAD_SLACK
    v1, why1 = close_verdict(result["silent"], limit, result["elapsed_s"], "silent")
    ka = result["keepalive"]
    if args.idle_timeout is not None:
        v2, why2 = close_verdict(ka, args.idle_timeout + HEAD_SLACK, result["elapsed_s"],
                                 "keep-alive idle")
    else:
        v2 = "INFO"
        why2 = (f"keep-alive idle: {ka['closed_by_server']} of {ka['connected']} closed "
                f"({fmt_spread(ka['close_after_s'])}), {ka['still_open']} still open "
                "(no --idle-timeout to judge against)")
    order = ["FAIL", "INCONCLUSIVE", "n/a", "INFO", "PASS"]
    verdict = min([v1, v2 if v2 != "INFO" else "PASS"], key=order.index)
    result["verdict"] = verdict_with_probes(verdict, f"{why1}; {why2}", watch.probes)
    return result


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def detect_mode(ctx: Context):
    """('token'|'basic'|'unknown', service) from the anonymous challenge of GET /v2/."""
    answer = http_exchange(ctx.target, ctx.target.probe_source,
                           get_request(ctx.target, "/v2/"), min(ctx.args.request_timeout, 4.0))
    challenge = answer.headers.get("www-authenticate", "")
    service = "berth"
    if 'service="' in challenge:
        service = challenge.split('service="', 1)[1].split('"', 1)[0]
    if challenge.lower().startswith("bearer"):
        return "token", service, answer.status
    if challenge.lower().startswith("basic"):
        return "basic", service, answer.status
    return "unknown", service, answer.status


def scenario_guess(ctx: Context) -> dict:
    args = ctx.args
    try:
        mode, service, anon_status = detect_mode(ctx)
    except OSError as e:
        log(f"guess: anonymous GET /v2/ failed ({type(e).__name__}: {e}); trying /v2/ only")
        mode, service, anon_status = "unknown", "berth", None
    endpoints = ["/v2/"]
    if mode == "token":
        endpoints.append(f"/token?service={urllib.parse.quote(service)}&scope=")
    good = (args.good_user, args.good_password) if args.good_user and args.good_password else None
    log(f"guess: {mode} mode; up to {args.attempts} attempts on {', '.join(endpoints)} for "
        f"{args.user!r} and {args.unknown_user!r}"
        + (f", a good login of {args.good_user!r} every {args.good_every}" if good else ""))
    attempts = []
    wrong_index = 0
    with Watch(ctx) as watch:
        start = time.monotonic()
        deadline = start + args.duration
        for i in range(args.attempts):
            if time.monotonic() >= deadline:
                break
            if good and (i + 1) % args.good_every == 0:
                kind, user, password = "good", good[0], good[1]
                endpoint = endpoints[(i // args.good_every) % len(endpoints)]
            else:
                # Cycle (known, unknown) x endpoints so both names see every endpoint equally.
                kind = "known" if wrong_index % 2 == 0 else "unknown"
                user = args.user if kind == "known" else args.unknown_user
                password = "wrong-" + os.urandom(6).hex()
                endpoint = endpoints[(wrong_index // 2) % len(endpoints)]
                wrong_index += 1
            timeout = min(args.request_timeout, max(0.5, deadline - time.monotonic() + 1))
            record = {"i": i, "kind": kind, "endpoint": endpoint.split("?")[0],
                      "status": None, "elapsed_s": None, "retry_after": None, "error": None}
            try:
                answer = http_exchange(ctx.target, ctx.source,
                                       get_request(ctx.target, endpoint, basic(user, password)),
                                       timeout)
                record["status"] = answer.status
                record["elapsed_s"] = answer.elapsed
                record["retry_after"] = answer.headers.get("retry-after")
            except OSError as e:
                record["error"] = f"{type(e).__name__}: {e}"
            attempts.append(record)
        end = time.monotonic()
    wrong = [a for a in attempts if a["kind"] != "good"]
    first_429 = next((a["i"] for a in attempts if a["status"] == 429), None)
    before = [a for a in wrong if first_429 is None or a["i"] < first_429]
    after = [a for a in wrong if first_429 is not None and a["i"] > first_429]
    too_many = [a for a in attempts if a["status"] == 429]

    def times(kind, endpoint=None):
        return [a["elapsed_s"] for a in wrong if a["kind"] == kind and a["status"] == 401
                and (endpoint is None or a["endpoint"] == endpoint)]

    first_good = next((a["i"] for a in attempts if a["kind"] == "good" and a["status"] == 200),
                      None)
    timing = {
        "known": spread(times("known")),
        # A server may verify a remembered good password cheaply: the known name before and
        # after its first good login.
        "known_before_first_good": spread([
            a["elapsed_s"] for a in wrong if a["kind"] == "known" and a["status"] == 401
            and (first_good is None or a["i"] < first_good)]),
        "known_after_first_good": spread([
            a["elapsed_s"] for a in wrong if a["kind"] == "known" and a["status"] == 401
            and first_good is not None and a["i"] > first_good]),
        "unknown": spread(times("unknown")),
        "by_endpoint": {
            e.split("?")[0]: {"known": spread(times("known", e.split("?")[0])),
                              "unknown": spread(times("unknown", e.split("?")[0]))}
            for e in endpoints
        },
    }
    result = {
        "mode": mode,
        "anonymous_v2_status": anon_status,
        "endpoints": [e.split("?")[0] for e in endpoints],
        "known_user": args.user,
        "unknown_user": args.unknown_user,
        "good_user": args.good_user if good else None,
        "attempts": len(attempts),
        "elapsed_s": round(end - start, 2),
        "wrong_guesses": len(wrong),
        "wrong_statuses": dict(collections.Counter(str(a["status"] or "no answer")
                                                   for a in wrong)),
        "wrong_401_before_first_429": sum(1 for a in before if a["status"] == 401),
        "first_429_at_attempt": first_429,
        "wrong_401_after_first_429": sum(1 for a in after if a["status"] == 401),
        "responses_429": len(too_many),
        "responses_429_with_retry_after": sum(1 for a in too_many if a["retry_after"]),
        "retry_after_values": sorted({a["retry_after"] for a in too_many if a["retry_after"]},
                                     key=lambda v: (len(v), v)),
        "good_logins": len(attempts) - len(wrong),
        "good_statuses": dict(collections.Counter(str(a["status"] or "no answer")
                                                  for a in attempts if a["kind"] == "good")),
        "errors": dict(collections.Counter(a["error"].split(":")[0] for a in attempts
                                           if a["error"])),
        "wrong_guess_time_401": timing,
        "attempt_log": [
            {"i": a["i"], "kind": a["kind"], "endpoint": a["endpoint"], "status": a["status"],
             "ms": None if a["elapsed_s"] is None else round(a["elapsed_s"] * 1000, 2),
             **({"retry_after": a["retry_after"]} if a["retry_after"] else {}),
             **({"error": a["error"]} if a["error"] else {})}
            for a in attempts
        ],
    }
    result["rss"] = watch.rss_report()
    result["probes"] = watch.probes
    # Throttle: some 429, each with Retry-After, and no wrong guess let through after it.
    if not any(a["status"] is not None for a in wrong):
        v1, why1 = "INCONCLUSIVE", f"no wrong guess was answered ({result['errors']})"
    elif first_429 is None:
        v1, why1 = "FAIL", f"never throttled: {result['wrong_401_before_first_429']} wrong " \
                           f"guesses answered 401, no 429"
    else:
        ok = result["responses_429_with_retry_after"] == len(too_many)
        reset = result["wrong_401_after_first_429"]
        v1 = "PASS" if ok and reset == 0 else "FAIL"
        why1 = (f"{result['wrong_401_before_first_429']} wrong 401s before the first 429 "
                f"(attempt {first_429}); {result['responses_429_with_retry_after']}/"
                f"{len(too_many)} 429s with Retry-After; {reset} wrong 401s after it")
    known, unknown = timing["known"], timing["unknown"]
    if known["n"] < 3 or unknown["n"] < 3:
        v2, why2 = "INCONCLUSIVE", (f"too few 401 samples to compare (known {known['n']}, "
                                    f"unknown {unknown['n']})")
    else:
        a, b = known["median"], unknown["median"]
        pa, pb = known["p90"], unknown["p90"]
        # Within noise: medians 2 ms apart or within 25% of the slower; p90s 5 ms or 50%, judged
        # only with 20 samples or more a side (below that the p90 is one outlier on a busy
        # machine).
        medians_close = abs(a - b) <= max(0.002, 0.25 * max(a, b))
        tails_close = (min(known["n"], unknown["n"]) < 20
                       or abs(pa - pb) <= max(0.005, 0.5 * max(pa, pb)))
        close = medians_close and tails_close
        v2 = "PASS" if close else "FAIL"
        why2 = (f"wrong-guess median/p90 {fmt_ms(a)}/{fmt_ms(pa)} for {args.user!r} vs "
                f"{fmt_ms(b)}/{fmt_ms(pb)} for an unknown name (n={known['n']}/{unknown['n']})")
    order = ["FAIL", "INCONCLUSIVE", "n/a", "PASS"]
    verdict = min([v1, v2], key=order.index)
    result["verdict"] = verdict_with_probes(verdict, f"{why1}; {why2}", watch.probes)
    result["verdict"]["throttle"] = v1
    result["verdict"]["timing"] = v2
    return result


# ---------------------------------------------------------------------------------------------
# Summary
# ---------------------------------------------------------------------------------------------


def print_summary(report: dict) -> None:
    out = []
    w = out.append
    w(f"berth attack against {report['target']} from {report['source'] or 'the default address'}"
      f" (probe from {report['probe_source']}), pid {report['pid'] or '-'}")
    for name, r in report["scenarios"].items():
        w("")
        w(f"== {name}")
        if "error" in r:
            w(f"   script error: {r['error']}")
            continue
        p = r["probes"]
        rss = r["rss"]
        if name.startswith("bodies"):
            w(f"   {r['method_path']}  Content-Length {r['content_length']}, "
              f"{r['body_bytes_sent_per_connection']} bytes sent each")
            w(f"   connections {r['connections']}: connected {r['connected']}, connect failed "
              f"{r['connect_failed']}, fully sent {r['fully_sent']}, "
              f"{r['bytes_sent_mib']} MiB sent in all (sent = taken by our kernel)")
            w(f"   answered before the body was complete: {r['answered']}"
              f"{fmt_counts(r['statuses'])} ({r['answered_before_all_bytes_sent']} before all "
              f"our bytes were sent; "
              f"after {fmt_spread(r['answer_after_s'])})")
            w(f"   closed by the server: {r['closed_by_server']}{fmt_counts(r['closed_how'])} "
              f"({fmt_spread(r['close_after_s'])}); still open at the end {r['still_open']}")
            settled = (f"settled after {r['settled_after_s']}s" if r["settled_after_s"] is not None
                       else "still sending at the deadline")
            w(f"   {settled}, ran {r['elapsed_s']}s")
        elif name == "heads":
            w(f"   connections {r['connections']}: connected {r['connected']}, connect failed "
              f"{r['connect_failed']}; head bytes sent per connection "
              f"max {r['head_bytes_sent']['max']}")
            w(f"   closed by the server: {r['closed_by_server']}{fmt_counts(r['closed_how'])}"
              f" after {fmt_spread(r['close_after_s'])}")
            w(f"   answered: {r['answered']}{fmt_counts(r['statuses'])}; still open at the end "
              f"({r['elapsed_s']}s): {r['still_open']}")
        elif name == "idle":
            for group in ("silent", "keepalive"):
                g = r[group]
                extra = (f", responses read {g['responses_complete']}"
                         if group == "keepalive" else "")
                w(f"   {group}: {g['connections']} connections, connected {g['connected']}, "
                  f"connect failed {g['connect_failed']}{extra}")
                w(f"      closed by the server {g['closed_by_server']}"
                  f"{fmt_counts(g['closed_how'])} after {fmt_spread(g['close_after_s'])}; "
                  f"still open at the end "
                  f"({r['elapsed_s']}s): {g['still_open']}")
        elif name == "guess":
            w(f"   {r['mode']} mode (anonymous GET /v2/ -> {r['anonymous_v2_status']}), endpoints "
              f"{', '.join(r['endpoints'])}; {r['attempts']} attempts in {r['elapsed_s']}s")
            w(f"   wrong guesses {r['wrong_guesses']}:{fmt_counts(r['wrong_statuses'])}; "
              f"401 before the first 429: {r['wrong_401_before_first_429']} (first 429 at attempt "
              f"{r['first_429_at_attempt']}); wrong 401s after it: "
              f"{r['wrong_401_after_first_429']}")
            w(f"   429s: {r['responses_429']}, with Retry-After "
              f"{r['responses_429_with_retry_after']} {r['retry_after_values'] or ''}")
            if r["good_user"]:
                w(f"   good logins of {r['good_user']!r}: {r['good_logins']}"
                  f"{fmt_counts(r['good_statuses'])}")
            t = r["wrong_guess_time_401"]
            for kind, label in (("known", r["known_user"]), ("unknown", r["unknown_user"])):
                k = t[kind]
                w(f"   wrong guess for {label!r} (401s): median {fmt_ms(k['median'])}, p90 "
                  f"{fmt_ms(k['p90'])} (n={k['n']})")
            b, a = t["known_before_first_good"], t["known_after_first_good"]
            if r["good_user"] and a["n"]:
                w(f"   wrong guess for {r['known_user']!r} before the first good login: median "
                  f"{fmt_ms(b['median'])} (n={b['n']}); after it: median {fmt_ms(a['median'])} "
                  f"(n={a['n']})")
            if r["errors"]:
                w(f"   errors:{fmt_counts(r['errors'])}")
        if rss["baseline_mib"] is not None:
            w(f"   server RSS: baseline {rss['baseline_mib']} MiB, peak {rss['peak_mib']} MiB "
              f"(+{rss['peak_growth_mib']} MiB)"
              + (f", after close {rss['after_close_mib']} MiB" if rss["after_close_mib"] else "")
              + (" -- THE SERVER PROCESS WENT AWAY" if rss["server_gone"] else ""))
            if name.startswith("bodies") and \
                    (rss.get("baseline_above_first_mib") or 0) > RSS_LIMIT_MIB:
                w(f"   note: this baseline is {rss['baseline_above_first_mib']} MiB above the "
                  "first scenario's (memory kept from earlier scenarios, which the server may "
                  "reuse and so hide growth here; a fresh server per scenario measures cleanly)")
        w(f"   health probes: {p['sent']} sent, {p['failed']} failed"
          f"{fmt_counts(p['failures'])}, max latency {fmt_ms(p['max_latency_s'])}")
    w("")
    for name, r in report["scenarios"].items():
        v = r.get("verdict") or {"verdict": "ERROR", "reason": r.get("error", "")}
        w(f"VERDICT {name}: {v['verdict']} -- {v['reason']}")
    print("\n".join(out), flush=True)


# ---------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------


def parse_args(argv):
    p = argparse.ArgumentParser(
        description="Hostile anonymous clients against a berth server on loopback.",
        epilog="See the docstring at the top of the script for the scenarios.",
    )
    p.add_argument("--url", required=True, help="http://127.0.0.1:PORT (loopback only)")
    p.add_argument("--pid", type=int, help="the server's PID, for its RSS (default: the process "
                   "listening on the port, when one is found)")
    p.add_argument("--source", help="loopback address the attacking sockets bind to "
                   "(e.g. 127.0.0.2); the probe always uses 127.0.0.1")
    p.add_argument("--scenario", default="all", choices=["all", "bodies", "heads", "idle", "guess"])
    p.add_argument("--json", action="store_true",
                   help="print one JSON object instead of the summary")
    p.add_argument("--connections", type=int,
                   help=f"connections per group (default 100 for bodies, 50 otherwise; "
                        f"max {MAX_CONNECTIONS})")
    p.add_argument("--duration", type=float, default=30.0,
                   help=f"seconds each scenario may run (default 30, max {MAX_DURATION:.0f})")
    p.add_argument("--hold", type=float, default=5.0,
                   help=f"seconds to hold the bodies once sent (default 5, max {MAX_HOLD:.0f})")
    p.add_argument("--head-timeout", type=float, default=10.0,
                   help="the server's expected request-head timeout, for the verdict (default 10)")
    p.add_argument("--idle-timeout", type=float,
                   help="the server's expected keep-alive idle timeout, for the verdict (default: "
                        "report only)")
    p.add_argument("--trickle-interval", type=float, default=2.0,
                   help="seconds between the bytes of a slow head (default 2)")
    p.add_argument("--repo", default="attack", help="repository in the manifest PUT path")
    p.add_argument("--image", default="image", help="image in the manifest PUT path")
    p.add_argument("--attempts", type=int, default=60,
                   help=f"login attempts in the guess scenario (default 60, max {MAX_ATTEMPTS})")
    p.add_argument("--user", default="admin", help="a known name to guess passwords of")
    p.add_argument("--unknown-user", default="no-such-user-" + os.urandom(3).hex(),
                   help="a name that does not exist, for the timing comparison")
    p.add_argument("--good-user", help="a user whose good login is interleaved with the guesses")
    p.add_argument("--good-password",
                   default=os.environ.get("BERTH_ATTACK_GOOD_PASSWORD"),
                   help="its password (or BERTH_ATTACK_GOOD_PASSWORD)")
    p.add_argument("--good-every", type=int, default=9,
                   help="every how many attempts the good login comes (default 9)")
    p.add_argument("--request-timeout", type=float, default=10.0,
                   help=f"seconds for one login attempt (default 10, "
                        f"max {MAX_REQUEST_TIMEOUT:.0f})")
    args = p.parse_args(argv)
    checks = [
        (args.connections is None or 1 <= args.connections <= MAX_CONNECTIONS,
         f"--connections must be 1..{MAX_CONNECTIONS}"),
        (0 < args.duration <= MAX_DURATION, f"--duration must be in (0, {MAX_DURATION:.0f}]"),
        (0 <= args.hold <= MAX_HOLD, f"--hold must be in [0, {MAX_HOLD:.0f}]"),
        (0 < args.head_timeout <= MAX_DURATION, "--head-timeout must be positive"),
        (args.idle_timeout is None or 0 < args.idle_timeout <= MAX_DURATION,
         "--idle-timeout must be positive"),
        (0.1 <= args.trickle_interval <= 30, "--trickle-interval must be in [0.1, 30]"),
        (1 <= args.attempts <= MAX_ATTEMPTS, f"--attempts must be 1..{MAX_ATTEMPTS}"),
        (2 <= args.good_every <= MAX_ATTEMPTS, "--good-every must be at least 2"),
        (0 < args.request_timeout <= MAX_REQUEST_TIMEOUT,
         f"--request-timeout must be in (0, {MAX_REQUEST_TIMEOUT:.0f}]"),
        (bool(args.good_user) == bool(args.good_password) or not args.good_user,
         "--good-user needs --good-password"),
        ("/" not in args.repo and args.repo and args.image and " " not in args.image,
         "--repo is one path component, --image has no spaces"),
    ]
    for ok, message in checks:
        if not ok:
            p.error(message)
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        target = Target(args.url)
        source = check_source(args.source, target)
    except UsageError as e:
        print(f"attack.py: {e}", file=sys.stderr)
        return 2
    if source is None or source == target.probe_source:
        log(f"note: the attack comes from {target.probe_source}, the probe's address too; "
            "pass --source 127.0.0.2 so per-source limits can tell them apart")
    pid = args.pid
    if pid is not None and read_rss_kib(pid) is None:
        print(f"attack.py: --pid {pid}: cannot read /proc/{pid}/status", file=sys.stderr)
        return 2
    if pid is None:
        pid = find_listener_pid(target.port)
        if pid is not None:
            log(f"the server is pid {pid} (the process listening on port {target.port})")
        else:
            log("no --pid and no single listener found: RSS is not measured")
    n = args.connections or 100
    try:
        raise_fd_limit(2 * n + 256)
    except (UsageError, ValueError, OSError) as e:
        print(f"attack.py: {e}", file=sys.stderr)
        return 2
    try:
        answer = http_exchange(target, target.probe_source, get_request(target, "/healthz"),
                               PROBE_TIMEOUT * 2)
        if answer.status != 200:
            raise ConnectionError(f"GET /healthz answered {answer.status}")
    except OSError as e:
        print(f"attack.py: the server at {target.url} does not answer /healthz: {e}",
              file=sys.stderr)
        return 1

    ctx = Context(args, target, source, pid)
    plan = {
        # The API bodies first: the 4 MiB manifests leave freed heap the server may keep (RSS
        # does not fall) and reuse, which would hide the smaller bodies' growth.
        "bodies": [("bodies/api", lambda: scenario_bodies(ctx, "api")),
                   ("bodies/manifest", lambda: scenario_bodies(ctx, "manifest"))],
        "heads": [("heads", lambda: scenario_heads(ctx))],
        "idle": [("idle", lambda: scenario_idle(ctx))],
        "guess": [("guess", lambda: scenario_guess(ctx))],
    }
    names = ["bodies", "heads", "idle", "guess"] if args.scenario == "all" else [args.scenario]
    report = {
        "target": target.url,
        "target_address": target.ip,
        "source": source,
        "probe_source": target.probe_source,
        "pid": pid,
        "settings": {k: v for k, v in vars(args).items() if k not in ("good_password", "url")},
        "scenarios": {},
    }
    failed = False
    try:
        for group in names:
            for name, run in plan[group]:
                try:
                    report["scenarios"][name] = run()
                except Exception as e:  # noqa: BLE001 - a crashed scenario is reported, not fatal
                    failed = True
                    log(f"{name}: script error: {type(e).__name__}: {e}")
                    report["scenarios"][name] = {"error": f"{type(e).__name__}: {e}"}
                rss = report["scenarios"][name].get("rss") or {}
                if rss.get("baseline_mib") is not None:
                    first = report.setdefault("first_baseline_mib", rss["baseline_mib"])
                    rss["baseline_above_first_mib"] = round(rss["baseline_mib"] - first, 1)
                v = report["scenarios"][name].get("verdict")
                if v:
                    log(f"{name}: {v['verdict']} -- {v['reason']}")
                time.sleep(SETTLE)
    except KeyboardInterrupt:
        log("interrupted; sockets closed")
        return 130
    report["script_failed"] = failed
    if args.json:
        print(json.dumps(report, indent=2, sort_keys=False))
    else:
        print_summary(report)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
