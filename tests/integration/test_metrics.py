"""What an operator reads: `/metrics` in the Prometheus text format (duration histograms by
operation, bytes in and out, garbage collection, pull flushes, caches, login failures and
throttling, quota refusals), the access line per request (caller, bytes, request id) and a
trusted proxy's `X-Request-Id` kept while anyone else's is replaced.
"""

import http.client
import re
import unittest
from pathlib import Path

from harness import (
    Berth,
    Http,
    eventually,
    random_layer,
    random_token,
    sha256_digest,
)

def http_client_from(host: str, source: str) -> http.client.HTTPConnection:
    """A connection to `host` from the loopback address `source`."""
    return http.client.HTTPConnection(host, timeout=30, source_address=(source, 0))


SAMPLE = re.compile(r"^([a-z_]+)(\{[^}]*\})? (\S+)$")


def scrape(host: str) -> dict:
    """`/metrics` as {"name{labels}": value}, checking every sample's family is declared."""
    r = Http(host).send("GET", "/metrics")
    assert r.status == 200, r
    assert r.header("Content-Type").startswith("text/plain; version=0.0.4"), r
    declared, samples = set(), {}
    for line in r.body.decode().splitlines():
        if line.startswith("# TYPE "):
            name, kind = line[len("# TYPE "):].split(" ")
            assert name not in declared, f"{name} declared twice"
            declared.add(name)
            continue
        if line.startswith("#") or not line:
            continue
        m = SAMPLE.match(line)
        assert m, f"not a sample: {line!r}"
        name = m.group(1)
        family = re.sub(r"_(bucket|sum|count)$", "", name)
        assert name in declared or family in declared, f"{name} has no TYPE"
        samples[name + (m.group(2) or "")] = float(m.group(3))
    return samples


class Metrics(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.node = Berth("metrics", env={"BERTH_TRUSTED_PROXIES": "127.0.0.1",
                                         "BERTH_GC_INTERVAL": "1s"})
        cls.addClassCleanup(cls.node.stop)
        cls.node.start()
        cls.node.create_repository("obs", quota="512KiB")
        user = cls.node.create_user(f"ci{random_token(3)}", {"obs": "push_pull"})
        cls.creds = (user["name"], user["secret"])

    def test_operations_bytes_and_refusals_are_counted(self):
        before = scrape(self.node.host)
        http = Http(self.node.host, self.creds)
        layer = random_layer(200 * 1024)
        manifest, put = http.push_image("obs/app", "v1", [layer])
        self.assertEqual(put.status, 201, put)
        for _ in range(3):
            self.assertEqual(http.get_manifest("obs/app", "v1").status, 200)
        got = http.get_blob("obs/app", sha256_digest(layer))
        self.assertEqual((got.status, got.body == layer), (200, True))
        # Over the quota: refused, and counted.
        big = random_layer(400 * 1024)  # small enough to be sent whole before the refusal
        started = http.start_upload("obs/app")
        self.assertEqual(started.status, 202, started)
        refused = http.request("PATCH", started.header("Location"), big,
                               headers={"Content-Type": "application/octet-stream"})
        self.assertEqual(refused.status, 403, refused)
        # A wrong secret at the token endpoint: a failed login.
        wrong = Http(self.node.host, (self.creds[0], "not-the-secret"))
        self.assertEqual(wrong.request("GET", "/v2/obs/app/tags/list").status, 401)

        after = scrape(self.node.host)
        delta = lambda key: after.get(key, 0) - before.get(key, 0)  # noqa: E731
        get = 'operation="manifest_get"'
        self.assertGreaterEqual(delta(f'berth_http_request_duration_seconds_count{{{get}}}'), 3)
        self.assertGreaterEqual(
            delta(f'berth_http_request_duration_seconds_bucket{{{get},le="+Inf"}}'), 3)
        self.assertGreaterEqual(delta(f'berth_http_requests_total{{{get},status="2xx"}}'), 3)
        self.assertGreaterEqual(delta('berth_http_requests_total{operation="manifest_put",status="2xx"}'), 1)
        self.assertGreaterEqual(delta('berth_http_requests_total{operation="upload_patch",status="4xx"}'), 1)
        self.assertGreaterEqual(delta('berth_http_requests_total{operation="token",status="4xx"}'), 1)
        self.assertGreaterEqual(delta("berth_http_received_bytes_total"), len(layer) + len(manifest))
        self.assertGreaterEqual(delta("berth_http_sent_bytes_total"), len(layer) + 3 * len(manifest))
        self.assertGreaterEqual(delta("berth_quota_refusals_total"), 1)
        self.assertGreaterEqual(delta("berth_login_failures_total"), 1)
        self.assertGreaterEqual(delta('berth_cache_lookups_total{cache="manifest",result="hit"}'), 2)
        self.assertEqual(after["berth_uploads_in_flight"], 0)
        # The refused chunk's session is still open (until committed, cancelled or idle).
        self.assertGreaterEqual(delta("berth_upload_sessions_open"), 1)
        for family in ("berth_gc_runs_total", "berth_gc_last_success_timestamp_seconds",
                       "berth_gc_reclaimed_bytes_total", "berth_pull_flush_failures_total",
                       "berth_pull_flush_lag_seconds", "berth_logins_throttled_total",
                       "berth_connections_open", "berth_uptime_seconds"):
            self.assertIn(family, after)
        # The collector runs every second here; its runs are counted.
        collected = eventually(
            lambda: scrape(self.node.host).get("berth_gc_last_success_timestamp_seconds", 0) > 0,
            timeout=15, interval=0.5)
        self.assertTrue(collected, "no garbage collection was counted")
        # The pulls are flushed within the flush interval (5 s), and the flush is counted.
        flushed = eventually(
            lambda: scrape(self.node.host).get("berth_pull_flush_runs_total", 0)
            > before.get("berth_pull_flush_runs_total", 0),
            timeout=15, interval=0.5)
        self.assertTrue(flushed, "no pull flush was counted")
        self.assertGreater(scrape(self.node.host)["berth_pull_flush_last_success_timestamp_seconds"], 0)

    def test_the_example_alert_rules_name_only_exported_metrics(self):
        rules = (Path(__file__).resolve().parents[2] / "ops" / "prometheus-alerts.yml").read_text()
        names = set(re.findall(r"\b(berth_[a-z_]+)", rules))
        self.assertGreater(len(names), 8)
        exported = {re.sub(r"\{.*", "", key) for key in scrape(self.node.host)}
        exported |= {re.sub(r"_(bucket|sum|count)$", "", n) for n in exported}
        # The pool metrics exist only on PostgreSQL; the backend failures once one happened.
        optional = {"berth_metadata_pool_waiting", "berth_backend_failures_total"}
        self.assertEqual(names - exported - optional, set())

    def test_the_access_line_names_the_caller_bytes_and_id(self):
        http = Http(self.node.host, self.creds)
        r = http.request("GET", "/v2/obs/never/tags/list")
        request_id = r.header("X-Request-Id")
        line = eventually(lambda: next((
            l for l in self.node.log_text().splitlines()
            if request_id in l and "berth::access" in l), None))
        self.assertTrue(line, f"no access line for {request_id}")
        self.assertIn(f"principal={self.creds[0]}", line)
        self.assertIn("status=404", line)
        self.assertIn("bytes_out=", line)
        self.assertIn("elapsed_us=", line)

    def test_behind_a_trusted_proxy_logins_are_throttled_per_forwarded_client(self):
        user = f"10000-guess{random_token(3)}"
        http = Http(self.node.host)
        _, challenge = http.challenge()
        url = "/token?service=" + challenge.get("service", "")
        bad = {"Authorization": http._basic((user, "wrong"))}

        def login(forwarded: str, source: str | None = None) -> int:
            headers = {**bad, "X-Forwarded-For": forwarded}
            if source is None:
                return http.send("GET", url, headers=headers).status
            conn = http_client_from(self.node.host, source)
            try:
                conn.request("GET", url, headers=headers)
                answer = conn.getresponse()
                answer.read()
                return answer.status
            finally:
                conn.close()

        statuses = [login("203.0.113.7") for _ in range(10)]
        self.assertEqual(statuses, [401] * 10)
        self.assertEqual(login("203.0.113.7"), 429, "the forwarded client is throttled")
        self.assertEqual(login("203.0.113.8"), 401, "another forwarded client is not")
        # From a peer that is not a trusted proxy the header means nothing: 127.0.0.2 has not
        # failed yet, whatever it claims.
        self.assertEqual(login("203.0.113.7", source="127.0.0.2"), 401)

    def test_a_trusted_proxy_that_terminates_tls_gets_https_urls(self):
        def realm(source: str) -> str:
            conn = http_client_from(self.node.host, source)
            try:
                conn.request("GET", "/v2/", headers={"X-Forwarded-Proto": "https"})
                answer = conn.getresponse()
                answer.read()
                return answer.getheader("WWW-Authenticate")
            finally:
                conn.close()

        self.assertIn(f'realm="https://{self.node.host}/token"', realm("127.0.0.1"))
        # Anyone else's header is dropped: the realm stays plain HTTP.
        self.assertIn(f'realm="http://{self.node.host}/token"', realm("127.0.0.2"))
        # The console's commands drop the plain-HTTP flags too.
        admin = {"Authorization": Http(self.node.host)._basic(("admin", self.node.admin_password))}
        path = "/api/v1/repositories/obs/push-commands"
        behind = Http(self.node.host).send("GET", path, headers={**admin, "X-Forwarded-Proto": "https"})
        self.assertEqual(behind.status, 200, behind)
        self.assertIs(behind.json()["plain_http"], False)
        direct = Http(self.node.host).send("GET", path, headers=admin)
        self.assertIs(direct.json()["plain_http"], True)

    def test_a_trusted_proxys_request_id_is_kept_and_anyone_elses_replaced(self):
        ours = "proxy-" + random_token(6)
        r = Http(self.node.host).send("GET", "/healthz", headers={"X-Request-Id": ours})
        self.assertEqual(r.header("X-Request-Id"), ours)
        # Not fit to log: replaced even from the trusted proxy.
        r = Http(self.node.host).send("GET", "/healthz", headers={"X-Request-Id": "a b\tc"})
        self.assertNotEqual(r.header("X-Request-Id"), "a b\tc")
        # From another address (127.0.0.2 is loopback too, but not trusted).
        conn = http.client.HTTPConnection(self.node.host, timeout=30,
                                          source_address=("127.0.0.2", 0))
        try:
            conn.request("GET", "/healthz", headers={"X-Request-Id": ours})
            answer = conn.getresponse()
            answer.read()
            self.assertEqual(answer.status, 200)
            self.assertNotEqual(answer.getheader("X-Request-Id"), ours)
            self.assertRegex(answer.getheader("X-Request-Id"), r"^[0-9a-f]{16}$")
        finally:
            conn.close()


if __name__ == "__main__":
    unittest.main()
