"""Two berth processes sharing one PostgreSQL (metadata) and one S3 server (blobs): an upload
started on one node finishes on the other, a token issued by one node is honoured by the other,
and everything pushed through one node reads back identically through both.
"""

import unittest
import urllib.parse
from pathlib import Path

from harness import (
    OCI_MANIFEST,
    Berth,
    Clients,
    Http,
    PostgresServer,
    S3Server,
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


def on_host(url: str, host: str) -> str:
    """The same URL (an upload session's) sent to another node."""
    return urllib.parse.urlsplit(url)._replace(netloc=host).geturl()


class SharedStoreCluster(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pg = PostgresServer()
        cls.addClassCleanup(lambda: cls.pg.stop() if hasattr(cls.pg, "dir") else None)
        cls.pg.start()
        cls.s3 = S3Server()
        cls.addClassCleanup(lambda: cls.s3.stop() if hasattr(cls.s3, "pid") else None)
        cls.s3.start()
        shared = {
            "BERTH_POSTGRES_URL": cls.pg.url,
            "BERTH_TOKEN_KEY": "berth-it-shared-token-key-" + random_token(16),
            "BERTH_SEALING_KEY": "berth-it-shared-sealing-key-" + random_token(16),
            "BERTH_ADMIN_PASSWORD": "admin-" + random_token(),
            **cls.s3.berth_env(),
        }
        cls.node1 = Berth("node1", env=shared)
        cls.addClassCleanup(cls.node1.stop)
        cls.node1.start()
        cls.node2 = Berth("node2", env=shared)
        cls.addClassCleanup(cls.node2.stop)
        cls.node2.start()

        cls.node1.create_repository("shared")
        user = cls.node1.create_user(f"ci{random_token(3)}", {"shared": "push_pull"})
        cls.creds = (user["name"], user["secret"])

    def bearer(self, node: Berth, scope: str) -> str:
        """A token from `node`'s token endpoint."""
        http = Http(node.host, self.creds)
        _, challenge = http.challenge()
        t = http.token(challenge, scope)
        self.assertEqual(t.status, 200, t)
        return t.json().get("token") or t.json()["access_token"]

    def test_chunked_upload_started_on_one_node_finishes_on_the_other(self):
        token = self.bearer(self.node1, "repository:shared/img:pull,push")
        n1 = Http(self.node1.host, bearer=token)
        n2 = Http(self.node2.host, bearer=token)
        layer = random_layer(7 * 1024 * 1024)  # more than one 5 MiB S3 part
        digest = sha256_digest(layer)
        first, second = layer[: 6 * 1024 * 1024], layer[6 * 1024 * 1024:]

        started = n1.start_upload("shared/img")
        self.assertEqual(started.status, 202, started)
        patched = n1.request("PATCH", upload_url(started), first, headers={
            "Content-Type": "application/octet-stream",
            "Content-Range": f"0-{len(first) - 1}",
        })
        self.assertEqual(patched.status, 202, patched)
        self.assertEqual(patched.header("Range"), f"0-{len(first) - 1}")

        url = on_host(upload_url(patched), self.node2.host)
        status = n2.request("GET", url)
        self.assertEqual(status.status, 204, status)
        self.assertEqual(status.header("Range"), f"0-{len(first) - 1}")
        patched = n2.request("PATCH", url, second, headers={
            "Content-Type": "application/octet-stream",
            "Content-Range": f"{len(first)}-{len(layer) - 1}",
        })
        self.assertEqual(patched.status, 202, patched)
        self.assertEqual(patched.header("Range"), f"0-{len(layer) - 1}")
        done = n2.request("PUT", upload_url(patched, digest=digest))
        self.assertEqual(done.status, 201, done)
        self.assertEqual(done.header("Docker-Content-Digest"), digest)

        for node in (n1, n2):
            got = node.get_blob("shared/img", digest)
            self.assertEqual(got.status, 200, got)
            self.assertEqual(got.body, layer, f"blob bytes through {node.host}")

        # A manifest over that blob, pushed through node 2, reads the same through both.
        config = image_config([layer])
        n2.push_blob("shared/img", config)
        manifest = oci_manifest(config, [layer])
        put = n2.put_manifest("shared/img", "chunked", manifest, OCI_MANIFEST)
        self.assertEqual(put.status, 201, put)
        for node in (n1, n2):
            got = node.get_manifest("shared/img", "chunked")
            self.assertEqual(got.status, 200, got)
            self.assertEqual(got.body, manifest)
            self.assertEqual(got.header("Docker-Content-Digest"), sha256_digest(manifest))

    def test_skopeo_push_through_one_node_pull_through_the_other(self):
        layout = write_oci_layout(temp_dir("src"), "v1")
        Clients(self.node1.host).copy_in(layout.ref, "shared/app:v1", self.creds, fmt="oci")
        out = temp_dir("out")
        Clients(self.node2.host).copy_out("shared/app:v1", f"oci:{out}:v1", self.creds)
        manifest, blobs = read_oci_layout(out, "v1")
        self.assertEqual(manifest, layout.manifest)
        for layer in layout.layers:
            self.assertEqual(blobs[sha256_digest(layer)], layer)

    def test_both_nodes_report_the_same_repositories(self):
        http = Http(self.node1.host, self.creds)
        _, r = http.push_image("shared/usage", "1", [random_layer(30_000)])
        self.assertEqual(r.status, 201, r)
        one = self.node1.repository("shared")
        two = self.node2.repository("shared")
        self.assertEqual(one, two)
        self.assertGreater(one["used_bytes"], 30_000)

    def test_blobs_live_in_s3_not_on_the_nodes(self):
        layer = random_layer(20_000)
        http = Http(self.node2.host, self.creds)
        _, r = http.push_image("shared/where", "1", [layer])
        self.assertEqual(r.status, 201, r)
        hexdigest = sha256_digest(layer).split(":")[1]
        in_s3 = [p for p in Path(self.s3.dir).rglob("*") if p.is_file() and hexdigest in str(p)]
        self.assertTrue(in_s3, f"no object for {hexdigest} under the S3 server's {self.s3.dir}")
        for node in (self.node1, self.node2):
            local = [p for p in node.dir.rglob("*") if p.is_file() and hexdigest in str(p)]
            self.assertEqual(local, [], f"{node.name} keeps blobs locally")
