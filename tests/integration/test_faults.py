"""Backend faults: the real PostgreSQL and the real S3 server (s3s-fs) stopped in the middle of
pushes and pulls, then started again. While one is down, `/readyz` says which, requests that
need it answer 503 `UNAVAILABLE` naming it (with `Retry-After`; never 500 "internal error",
never a 404 for something that may exist), the log holds the cause under the answer's request
id, and nothing partial is left; once it is back, service resumes by itself: the interrupted
chunked upload continues where it stood and everything reads back byte for byte.
"""

import unittest

from harness import (
    OCI_MANIFEST,
    Berth,
    Clients,
    Http,
    PostgresServer,
    S3Server,
    eventually,
    image_config,
    oci_manifest,
    random_layer,
    random_token,
    read_oci_layout,
    sha256_digest,
    temp_dir,
    upload_url,
    write_oci_layout,
)

MIB = 1024 * 1024


class FaultCase(unittest.TestCase):
    """A node on the backend under test, with one repository and a push_pull user."""

    backend = None  # PostgresServer or S3Server, set by setUpClass

    @classmethod
    def node_env(cls) -> dict:
        raise NotImplementedError

    @classmethod
    def setUpClass(cls):
        cls.backend.start()
        cls.addClassCleanup(cls.backend.stop)
        cls.node = Berth(cls.__name__.lower(), env=cls.node_env())
        cls.addClassCleanup(cls.node.stop)
        cls.node.start()
        cls.node.create_repository("faults")
        user = cls.node.create_user(f"ci{random_token(3)}", {"faults": "push_pull"})
        cls.creds = (user["name"], user["secret"])

    def bearer(self, name: str) -> Http:
        """A client holding a token for `name`, fetched now (the token endpoint may be down
        later, like the backend)."""
        http = Http(self.node.host, self.creds)
        _, challenge = http.challenge()
        t = http.token(challenge, f"repository:{name}:pull,push")
        self.assertEqual(t.status, 200, t)
        return Http(self.node.host, bearer=t.json().get("token") or t.json()["access_token"])

    def ready(self) -> tuple:
        r = Http(self.node.host).send("GET", "/readyz")
        return r.status, r.body.decode()

    def assert_unavailable(self, r, role: str, store: str):
        """A 503 `UNAVAILABLE` naming the backend, whose request id leads to the cause."""
        self.assertEqual(r.status, 503, r)
        self.assertEqual(r.error_codes(), ["UNAVAILABLE"], r)
        message = r.json()["errors"][0]["message"]
        self.assertIn(f"the {role} ({store}) is unavailable", message)
        self.assertTrue(r.header("Retry-After"), r)
        request_id = r.header("X-Request-Id")
        self.assertTrue(request_id, r)
        logged = eventually(lambda: any(
            request_id in line and f"{store} is unavailable" in line
            for line in self.node.log_text().splitlines()
        ))
        self.assertTrue(logged, f"no log line names request {request_id} and the cause")

    def chunked_start(self, http: Http, name: str, layer: bytes, first: int):
        started = http.start_upload(name)
        self.assertEqual(started.status, 202, started)
        patched = http.request("PATCH", upload_url(started), layer[:first], headers={
            "Content-Type": "application/octet-stream",
            "Content-Range": f"0-{first - 1}",
        })
        self.assertEqual(patched.status, 202, patched)
        return patched

    def chunk(self, http: Http, url: str, layer: bytes, start: int):
        return http.request("PATCH", url, layer[start:], headers={
            "Content-Type": "application/octet-stream",
            "Content-Range": f"{start}-{len(layer) - 1}",
        })

    def finish_and_read_back(self, http: Http, name: str, url: str, layer: bytes, first: int):
        """The interrupted upload continues where it stood, commits, and reads back."""
        status = http.request("GET", url)
        self.assertEqual(status.status, 204, status)
        self.assertEqual(status.header("Range"), f"0-{first - 1}")
        patched = self.chunk(http, url, layer, first)
        self.assertEqual(patched.status, 202, patched)
        digest = sha256_digest(layer)
        done = http.request("PUT", upload_url(patched, digest=digest))
        self.assertEqual(done.status, 201, done)
        config = image_config([layer])
        http.push_blob(name, config)
        manifest = oci_manifest(config, [layer])
        put = http.put_manifest(name, "resumed", manifest, OCI_MANIFEST)
        self.assertEqual(put.status, 201, put)
        got = http.get_blob(name, digest)
        self.assertEqual((got.status, got.body == layer), (200, True), got)
        got = http.get_manifest(name, "resumed")
        self.assertEqual((got.status, got.body), (200, manifest))

    def wait_ready(self):
        ready = eventually(lambda: self.ready()[0] == 200, timeout=60, interval=0.2)
        self.assertTrue(ready, f"not ready again within 60 s: {self.ready()}")


class PostgresRestart(FaultCase):
    backend = PostgresServer()

    @classmethod
    def node_env(cls) -> dict:
        return {"BERTH_POSTGRES_URL": cls.backend.url}

    def test_a_postgres_restart_mid_push_answers_503_then_the_push_resumes(self):
        before = self.bearer("faults/before")
        layers = [random_layer(64 * 1024)]
        old_manifest, put = before.push_image("faults/before", "v1", layers)
        self.assertEqual(put.status, 201, put)
        app = self.bearer("faults/app")
        layer = random_layer(3 * MIB)
        first = 2 * MIB
        patched = self.chunked_start(app, "faults/app", layer, first)
        url = upload_url(patched)

        self.backend.halt()
        try:
            status, body = self.ready()
            self.assertEqual(status, 503, body)
            self.assertIn("metadata store", body)
            # The next chunk: refused whole, naming the backend.
            r = self.chunk(app, url, layer, first)
            self.assert_unavailable(r, "metadata store", "postgres")
            # A tag the registry cannot look up is not "unknown".
            r = app.request("HEAD", "/v2/faults/app/manifests/never-pushed")
            self.assertEqual(r.status, 503, r)
            # Nor can a login be checked: the token endpoint says so.
            http = Http(self.node.host, self.creds)
            _, challenge = http.challenge()
            t = http.token(challenge, "repository:faults/app:pull")
            self.assert_unavailable(t, "metadata store", "postgres")
            # The management API answers its own JSON error, naming the backend too.
            admin = ("admin", self.node.admin_password)
            r = http.send("GET", "/api/v1/repositories",
                          headers={"Authorization": http._basic(admin)})
            self.assertEqual((r.status, r.json()["error"]["code"]), (503, "UNAVAILABLE"), r)
            self.assertIn("the metadata store (postgres) is unavailable",
                          r.json()["error"]["message"])
        finally:
            self.backend.resume()

        self.wait_ready()
        self.finish_and_read_back(app, "faults/app", url, layer, first)
        # What was pushed before the outage is intact, through a real client too.
        got = before.get_manifest("faults/before", "v1")
        self.assertEqual((got.status, got.body), (200, old_manifest))
        layout = write_oci_layout(temp_dir("pg-src"), "v2")
        clients = Clients(self.node.host)
        clients.copy_in(layout.ref, "faults/client:v2", self.creds, fmt="oci")
        out = temp_dir("pg-out")
        clients.copy_out("faults/client:v2", f"oci:{out}:v2", self.creds)
        self.assertEqual(read_oci_layout(out, "v2")[0], layout.manifest)


class S3Restart(FaultCase):
    backend = S3Server()

    @classmethod
    def node_env(cls) -> dict:
        return cls.backend.berth_env()

    def test_an_s3_restart_mid_push_and_pull_answers_503_then_both_resume(self):
        app = self.bearer("faults/app")
        pulled = random_layer(256 * 1024)
        manifest, put = app.push_image("faults/app", "v1", [pulled])
        self.assertEqual(put.status, 201, put)
        layer = random_layer(6 * MIB)
        first = 5 * MIB  # one whole S3 part: the chunk after it may be shorter
        patched = self.chunked_start(app, "faults/app", layer, first)
        url = upload_url(patched)
        lost = random_layer(128 * 1024)

        self.backend.halt()
        try:
            status, body = self.ready()
            self.assertEqual(status, 503, body)
            self.assertIn("blob storage", body)
            # A pull of a stored layer, the next chunk of the upload, a whole new blob.
            r = app.get_blob("faults/app", sha256_digest(pulled))
            self.assert_unavailable(r, "blob storage", "s3")
            r = self.chunk(app, url, layer, first)
            self.assert_unavailable(r, "blob storage", "s3")
            started = app.start_upload("faults/app")
            if started.status == 202:  # sessions may live in S3 too: then the start fails
                r = app.request("PUT", upload_url(started, digest=sha256_digest(lost)), lost,
                                headers={"Content-Type": "application/octet-stream"})
                self.assert_unavailable(r, "blob storage", "s3")
            else:
                self.assert_unavailable(started, "blob storage", "s3")
        finally:
            self.backend.resume()

        self.wait_ready()
        # Nothing of the failed blob was left visible.
        r = app.request("HEAD", f"/v2/faults/app/blobs/{sha256_digest(lost)}")
        self.assertEqual(r.status, 404, r)
        self.finish_and_read_back(app, "faults/app", url, layer, first)
        got = app.get_blob("faults/app", sha256_digest(pulled))
        self.assertEqual((got.status, got.body == pulled), (200, True), got)
        got = app.get_manifest("faults/app", "v1")
        self.assertEqual((got.status, got.body), (200, manifest))


if __name__ == "__main__":
    unittest.main()
