"""Pull-through cache: proxy repositories of a real upstream on loopback.

Two upstreams: a second `berth serve` (token flow, a private repository and a repository user
for the cache) and Debian's distribution registry (htpasswd Basic auth). Through berth, skopeo
and podman pull byte-identical images; with the upstream stopped, a tag is served from the cache
with a `Warning`, and a digest with no upstream at all; two concurrent pulls of one 64 MiB layer
are one fetch at the upstream (its own request counters); pushes are refused; the quota and the
eviction of unpulled artifacts hold; a `kill -9` in the middle of a proxied pull leaves no blob,
and the next pull fetches it again.
"""

import http.client
import json
import os
import signal
import threading
import time

from harness import (
    Berth,
    Clients,
    Http,
    Reference,
    image_config,
    random_layer,
    random_token,
    read_oci_layout,
    sha256_digest,
    temp_dir,
    write_oci_layout,
)
import unittest

BIG = 64 << 20
# A config for layers of raw random bytes (no tar, no diff_ids to compute).
PLAIN_CONFIG = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'


def api(node: Berth, method: str, path: str, body=None):
    http = Http(node.host)
    headers = {"Authorization": http._basic(("admin", node.admin_password))}
    data = b""
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    return http.send(method, path, data, headers=headers)


def pusher(node: Berth, creds: tuple, *images: str) -> Http:
    """A client holding a push token for `images` of a token-mode node: its big uploads go out
    once, with the token, rather than first without credentials to be refused."""
    http = Http(node.host, creds)
    _, challenge = http.challenge()
    scope = " ".join(f"repository:{image}:pull,push" for image in images)
    t = http.token(challenge, scope)
    assert t.status == 200, t
    return Http(node.host, creds, bearer=t.json()["token"])


def requests_of(node: Berth, operation: str) -> int:
    """How many `operation` requests `node` answered with a 2xx, from its own /metrics."""
    text = Http(node.host).send("GET", "/metrics").body.decode()
    key = f'berth_http_requests_total{{operation="{operation}",status="2xx"}}'
    for line in text.splitlines():
        if line.startswith(key + " "):
            return int(float(line.split()[-1]))
    return 0


def blob_files(node: Berth, digest: str) -> list:
    """Files under the node's blob store named after `digest` (any layout)."""
    hex_digest = digest.split(":", 1)[1]
    found = []
    for root, _dirs, files in os.walk(node.data_dir):
        found += [os.path.join(root, f) for f in files if hex_digest in f or hex_digest in root]
    return found


class ProxyOfBerthTest(unittest.TestCase):
    """A berth cache in front of a berth upstream in token mode."""

    @classmethod
    def setUpClass(cls):
        cls.up = Berth("upstream", auth_mode="token")
        cls.addClassCleanup(cls.up.stop)
        cls.up.start()
        cls.up.create_repository("hub", access="private")
        mirror = cls.up.create_user(f"mirror{random_token(3)}", {"hub": "pull"})
        cls.up_creds = (mirror["name"], mirror["secret"])
        push_user = cls.up.create_user(f"pusher{random_token(3)}", {"hub": "push_pull"})
        cls.up_push = pusher(cls.up, (push_user["name"], push_user["secret"]),
                             "hub/tools/app", "hub/big")
        cls.layers = [random_layer(200 * 1024), random_layer(300 * 1024)]
        cls.config = image_config(cls.layers)
        cls.manifest, r = cls.up_push.push_image("hub/tools/app", "v1", cls.layers, cls.config)
        assert r.status == 201, r
        cls.digest = sha256_digest(cls.manifest)

        cls.cache = Berth("cache", auth_mode="token", env={
            # Ask the upstream about a tag once a second, so a stopped upstream shows at once.
            "BERTH_PROXY_TAG_CHECK": "1s",
        })
        cls.addClassCleanup(cls.cache.stop)
        cls.cache.start()
        r = api(cls.cache, "POST", "/api/v1/registries", {
            "name": "up", "url": cls.up.url,
            "username": cls.up_creds[0], "password": cls.up_creds[1],
        })
        assert r.status == 201, r
        assert cls.up_creds[1] not in r.body.decode(), "the password is never returned"
        r = api(cls.cache, "POST", "/api/v1/repositories", {
            "name": "mirror", "access_level": "private",
            "proxy": {"registry": "up", "namespace": "hub"},
        })
        assert r.status == 201, r
        user = cls.cache.create_user(f"dev{random_token(3)}", {"mirror": "pull"})
        cls.creds = (user["name"], user["secret"])
        cls.clients = Clients(cls.cache.host)

    def http(self):
        return Http(self.cache.host, self.creds)

    def test_ping_and_the_registry_record(self):
        r = api(self.cache, "POST", "/api/v1/registries/up/ping")
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.json()["reachable"], r.json()["authenticated"]), (True, True), r.json())
        listed = api(self.cache, "GET", "/api/v1/registries")
        self.assertNotIn(self.up_creds[1], listed.body.decode())
        self.assertNotIn(self.up_creds[1], self.cache.log_text(), "never logged")
        # In use by a proxy repository: it cannot be deleted.
        r = api(self.cache, "DELETE", "/api/v1/registries/up")
        self.assertEqual(r.status, 409, r)
        self.assertIn("mirror", r.json()["error"]["message"])

    def test_skopeo_and_podman_pull_byte_identical_images(self):
        out = temp_dir("proxied")
        self.clients.copy_out("mirror/tools/app:v1", f"oci:{out}:v1", self.creds)
        manifest, blobs = read_oci_layout(out, "v1")
        self.assertEqual(manifest, self.manifest)
        for layer in self.layers:
            self.assertEqual(blobs[sha256_digest(layer)], layer)
        self.assertEqual(blobs[sha256_digest(self.config)], self.config)
        # The tag is visible in the images list after this first pull.
        images = api(self.cache, "GET", "/api/v1/repositories/mirror/images").json()["items"]
        self.assertIn("tools/app", [i["name"] for i in images])

        c = self.clients
        c.podman("login", "--tls-verify=false", "-u", self.creds[0], "-p", self.creds[1], c.host)
        c.podman("pull", "--tls-verify=false", f"{c.host}/mirror/tools/app:v1")
        inspect = json.loads(c.podman("image", "inspect", f"{c.host}/mirror/tools/app:v1").stdout)
        self.assertEqual(inspect[0]["Digest"], self.digest)

    def test_two_concurrent_pulls_of_a_big_layer_are_one_upstream_fetch(self):
        layer = os.urandom(BIG)
        config = PLAIN_CONFIG
        manifest, r = self.up_push.push_image("hub/big", "v1", [layer], config)
        self.assertEqual(r.status, 201, r)
        got = self.http().get_manifest("mirror/big", "v1")
        self.assertEqual(got.body, manifest)
        before = requests_of(self.up, "blob_get")
        digest, results = sha256_digest(layer), [None, None]

        def pull(i):
            results[i] = self.http().get_blob("mirror/big", digest)

        threads = [threading.Thread(target=pull, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        for r in results:
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.body, layer, "byte-identical")
        self.assertEqual(requests_of(self.up, "blob_get") - before, 1, "one upstream fetch")
        # Served from the cache from now on.
        self.assertEqual(self.http().get_blob("mirror/big", digest).body, layer)
        self.assertEqual(requests_of(self.up, "blob_get") - before, 1)

    def test_pushes_to_a_proxy_repository_are_refused(self):
        user = self.cache.create_user(f"pp{random_token(3)}", {"mirror": "push_pull"})
        http = Http(self.cache.host, (user["name"], user["secret"]))
        r = http.start_upload("mirror/tools/app")
        self.assertEqual(r.status, 403, r)
        self.assertEqual(r.error_codes(), ["DENIED"])
        self.assertIn("proxy repository mirror is read-only", r.body.decode())
        layout = write_oci_layout(temp_dir("src"), "v1")
        p = self.clients.copy_in(layout.ref, "mirror/tools/app:mine",
                                 (user["name"], user["secret"]), ok=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("read-only", p.stderr)
        r = http.request("DELETE", "/v2/mirror/tools/app/manifests/v1")
        self.assertEqual(r.status, 403, r)

    def test_the_quota_applies_to_what_is_cached(self):
        r = api(self.cache, "POST", "/api/v1/repositories", {
            "name": "small", "access_level": "private", "quota_bytes": 64 * 1024,
            "proxy": {"registry": "up", "namespace": "hub"},
        })
        self.assertEqual(r.status, 201, r)
        admin = ("admin", self.cache.admin_password)
        r = Http(self.cache.host, admin).get_manifest("small/tools/app", "v1")
        self.assertEqual(r.status, 403, r)
        self.assertEqual(r.error_codes(), ["DENIED"])
        self.assertIn("over the limit", r.body.decode())
        repo = api(self.cache, "GET", "/api/v1/repositories/small").json()
        self.assertEqual(repo["used_bytes"], 0, repo)

    def test_z_the_cache_answers_while_the_upstream_is_down(self):
        # Cached first (by tag and by digest, and every blob).
        out = temp_dir("warm")
        self.clients.copy_out("mirror/tools/app:v1", f"oci:{out}:v1", self.creds)
        self.up.stop()
        time.sleep(1.2)  # past proxy.tag_check: the next pull by tag asks the upstream
        try:
            r = self.http().get_manifest("mirror/tools/app", "v1")
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.body, self.manifest)
            warning = r.header("Warning")
            self.assertIsNotNone(warning, r)
            self.assertTrue(warning.startswith("110 berth "), warning)
            r = self.http().get_manifest("mirror/tools/app", self.digest)
            self.assertEqual((r.status, r.header("Warning")), (200, None), r)
            out = temp_dir("offline")
            self.clients.copy_out(f"mirror/tools/app@{self.digest}", f"oci:{out}:v1", self.creds)
            manifest, blobs = read_oci_layout(out, "v1")
            self.assertEqual(manifest, self.manifest)
            self.clients.copy_out("mirror/tools/app:v1", f"oci:{temp_dir('offline-tag')}:v1",
                                  self.creds)
            # Never cached: the error names the upstream, and says to try again.
            r = self.http().get_manifest("mirror/never", "v1")
            self.assertEqual(r.status, 503, r)
            self.assertIn("remote registry up", r.body.decode())
            self.assertIsNotNone(r.header("Retry-After"))
        finally:
            self.up.start()


class ProxyOfDistributionTest(unittest.TestCase):
    """A berth cache in front of Debian's distribution registry with htpasswd Basic auth."""

    @classmethod
    def setUpClass(cls):
        cls.ref = Reference()
        cls.addClassCleanup(cls.ref.stop)
        cls.ref.start()
        push = Http(cls.ref.host, (cls.ref.user, cls.ref.password))
        cls.layers = [random_layer(400 * 1024)]
        cls.config = image_config(cls.layers)
        cls.manifest, r = push.push_image("library/app", "v2", cls.layers, cls.config)
        assert r.status == 201, r
        cls.digest = sha256_digest(cls.manifest)
        cls.cache = Berth("cache-dist", auth_mode="basic")
        cls.addClassCleanup(cls.cache.stop)
        cls.cache.start()
        r = api(cls.cache, "POST", "/api/v1/registries", {
            "name": "dist", "url": f"http://{cls.ref.host}",
            "username": cls.ref.user, "password": cls.ref.password,
        })
        assert r.status == 201, r
        r = api(cls.cache, "POST", "/api/v1/repositories", {
            "name": "dist", "access_level": "public", "proxy": {"registry": "dist", "namespace": "library"},
        })
        assert r.status == 201, r
        cls.clients = Clients(cls.cache.host)

    def test_pulls_through_a_basic_auth_upstream_and_by_digest_without_it(self):
        out = temp_dir("dist")
        self.clients.copy_out("dist/app:v2", f"oci:{out}:v2", None)
        manifest, blobs = read_oci_layout(out, "v2")
        self.assertEqual(manifest, self.manifest)
        self.assertEqual(blobs[sha256_digest(self.layers[0])], self.layers[0])
        ping = api(self.cache, "POST", "/api/v1/registries/dist/ping").json()
        self.assertEqual((ping["reachable"], ping["authenticated"]), (True, True), ping)
        self.ref.stop()
        try:
            out = temp_dir("dist-offline")
            self.clients.copy_out(f"dist/app@{self.digest}", f"oci:{out}:v2", None)
            manifest, _ = read_oci_layout(out, "v2")
            self.assertEqual(manifest, self.manifest)
        finally:
            self.ref.start()


class ProxyCrashTest(unittest.TestCase):
    """`kill -9` of the cache in the middle of a proxied pull; unpulled artifacts are evicted."""

    @classmethod
    def setUpClass(cls):
        cls.up = Berth("crash-upstream", auth_mode="token")
        cls.addClassCleanup(cls.up.stop)
        cls.up.start()
        cls.up.create_repository("hub", access="public")
        push_user = cls.up.create_user(f"p{random_token(3)}", {"hub": "push_pull"})
        cls.layer = os.urandom(BIG)
        push = pusher(cls.up, (push_user["name"], push_user["secret"]), "hub/app")
        cls.manifest, r = push.push_image("hub/app", "v1", [cls.layer], PLAIN_CONFIG)
        assert r.status == 201, r
        cls.cache = Berth("crash-cache", auth_mode="basic", env={
            "BERTH_PROXY_KEEP_UNPULLED": "2s",
        })
        cls.addClassCleanup(cls.cache.stop)
        cls.cache.start()
        r = api(cls.cache, "POST", "/api/v1/registries", {"name": "up", "url": cls.up.url})
        assert r.status == 201, r
        r = api(cls.cache, "POST", "/api/v1/repositories", {
            "name": "mirror", "access_level": "public", "proxy": {"registry": "up", "namespace": "hub"},
        })
        assert r.status == 201, r

    def test_a_kill_in_the_middle_of_a_pull_leaves_no_blob_and_the_next_pull_fetches_again(self):
        cache = Http(self.cache.host)
        self.assertEqual(cache.get_manifest("mirror/app", "v1").body, self.manifest)
        digest = sha256_digest(self.layer)
        conn = http.client.HTTPConnection(self.cache.host, timeout=60)
        conn.request("GET", f"/v2/mirror/app/blobs/{digest}")
        r = conn.getresponse()
        self.assertEqual(r.status, 200)
        first = r.read(64 << 10)
        self.assertEqual(len(first), 64 << 10)
        # Hold the upstream mid-body (at most the sockets' buffers more reach the cache, far
        # from 64 MiB), so the fetch is surely unfinished; then kill the cache.
        self.up.proc.send_signal(signal.SIGSTOP)
        try:
            self.cache._kill()  # SIGKILL
        finally:
            self.up.proc.send_signal(signal.SIGCONT)
        conn.close()
        self.assertEqual(blob_files(self.cache, digest), [], "no partial blob under its digest")
        before = requests_of(self.up, "blob_get")
        self.cache.start()
        got = Http(self.cache.host).get_blob("mirror/app", digest)
        self.assertEqual(got.status, 200, got)
        self.assertEqual(got.body, self.layer)
        self.assertEqual(requests_of(self.up, "blob_get") - before, 1, "fetched again")

    def test_unpulled_artifacts_are_evicted_by_the_collector(self):
        http = Http(self.cache.host)
        self.assertEqual(http.get_manifest("mirror/app", "v1").status, 200)
        used = lambda: api(self.cache, "GET", "/api/v1/repositories/mirror").json()["used_bytes"]
        self.assertGreater(used(), 0)
        time.sleep(6)  # past keep_unpulled, and the pull flush (every 5 s) is in the store
        report = self.cache.gc()
        self.assertGreaterEqual(report["cached_artifacts_evicted"], 1, report)
        images = api(self.cache, "GET", "/api/v1/repositories/mirror/images").json()["items"]
        self.assertEqual(images, [])
        self.assertEqual(used(), 0, "the quota is freed")
        # And pulled again on demand.
        self.assertEqual(http.get_manifest("mirror/app", "v1").body, self.manifest)


if __name__ == "__main__":
    unittest.main()
