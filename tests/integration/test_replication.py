"""Replication between two `berth serve` processes on loopback, as two regions (each its own
data directory; a repository user on the destination for the remote registry), and from Debian's
distribution registry.

An event push rule copies a pushed image, a multi-platform index with its children and an
oras-attached referrer byte-identical within 10 s; a moved tag follows, and with delete
propagation a delete does. A scheduled pull rule mirrors tags from distribution, and a second run
copies nothing. A `kill -9` of the source in the middle of an execution, then a restart: the
execution finishes and the destination is byte-identical. A remote that refuses (a wrong
password, a full quota) gives a failed or partial execution naming the artifact and the reason.
"""

import json
import os
import time
import unittest

from harness import (
    Berth,
    Clients,
    Http,
    Reference,
    descriptor,
    image_config,
    random_layer,
    random_token,
    sha256_digest,
    temp_dir,
)
from test_proxy import PLAIN_CONFIG, api, pusher

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def wait_for(check, timeout: float, what: str, interval: float = 0.2):
    """`check()` until it returns something true; its value. Fails naming `what`."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except (AssertionError, OSError) as e:
            last = e
        time.sleep(interval)
    raise AssertionError(f"{what} not within {timeout}s (last: {last!r})")


def executions(node: Berth, rule: str) -> list:
    r = api(node, "GET", f"/api/v1/replication-rules/{rule}/executions")
    assert r.status == 200, r
    return r.json()["items"]


def finished(node: Berth, rule: str, count: int = 1, timeout: float = 60):
    """The newest execution of `rule` once `count` of them finished."""
    def done():
        items = executions(node, rule)
        ended = [e for e in items if e["status"] != "running"]
        return items[0] if len(ended) >= count and items[0]["status"] != "running" else None
    return wait_for(done, timeout, f"{count} finished executions of {rule}")


def manifest_at(http: Http, name: str, ref: str) -> bytes | None:
    r = http.get_manifest(name, ref)
    return r.body if r.status == 200 else None


class PushReplicationTest(unittest.TestCase):
    """Region HCM (the source) pushes to region HAN (the destination)."""

    @classmethod
    def setUpClass(cls):
        cls.han = Berth("han", auth_mode="token")
        cls.addClassCleanup(cls.han.stop)
        cls.han.start()
        cls.han.create_repository("app", access="private")
        robot = cls.han.create_user(f"hcm{random_token(3)}", {"app": "push_pull"})
        cls.han_creds = (robot["name"], robot["secret"])
        reader = cls.han.create_user(f"reader{random_token(3)}", {"app": "pull"})
        cls.han_reader = Http(cls.han.host, (reader["name"], reader["secret"]))

        cls.hcm = Berth("hcm", auth_mode="token", env={"BERTH_REPLICATION_LEASE": "3s"})
        cls.addClassCleanup(cls.hcm.stop)
        cls.hcm.start()
        cls.hcm.create_repository("app", access="private")
        user = cls.hcm.create_user(f"dev{random_token(3)}", {"app": "push_pull"})
        cls.hcm_creds = (user["name"], user["secret"])
        r = api(cls.hcm, "POST", "/api/v1/registries", {
            "name": "han", "url": cls.han.url,
            "username": cls.han_creds[0], "password": cls.han_creds[1],
        })
        assert r.status == 201, r
        r = api(cls.hcm, "POST", "/api/v1/replication-rules", {
            "name": "to-han", "direction": "push", "registry": "han",
            "source": "app/web*", "destination": "app",
            "trigger": {"type": "event"}, "delete_propagation": True,
        })
        assert r.status == 201, r
        rule = r.json()
        assert rule["copy_referrers"] is True and rule["enabled"] is True, rule
        assert rule["trigger"] == {"type": "event"}, rule

    def source(self, *images: str) -> Http:
        return pusher(self.hcm, self.hcm_creds, *images)

    def assert_same_blobs(self, name: str, manifest: bytes):
        doc = json.loads(manifest)
        for d in [doc["config"], *doc["layers"]]:
            r = self.han_reader.get_blob(name, d["digest"])
            self.assertEqual(r.status, 200, r)
            self.assertEqual(sha256_digest(r.body), d["digest"])

    def test_a_push_is_replicated_with_its_index_children_and_referrer(self):
        src = self.source("app/web")
        layers = [random_layer(150 * 1024), random_layer(90 * 1024)]
        manifest, r = src.push_image("app/web", "v1", layers, image_config(layers))
        self.assertEqual(r.status, 201, r)
        copied = wait_for(lambda: manifest_at(self.han_reader, "app/web", "v1") == manifest,
                          10, "app/web:v1 at HAN")
        self.assertTrue(copied)
        self.assert_same_blobs("app/web", manifest)

        # A multi-platform index: its children by digest, then the index by tag.
        children = []
        for arch in ("amd64", "arm64"):
            layer = random_layer(64 * 1024)
            config = json.dumps({"architecture": arch, "os": "linux",
                                 "rootfs": {"type": "layers", "diff_ids": []}}).encode()
            src.push_blob("app/web", layer)
            src.push_blob("app/web", config)
            child = json.dumps({
                "schemaVersion": 2, "mediaType": OCI_MANIFEST,
                "config": descriptor("application/vnd.oci.image.config.v1+json", config),
                "layers": [descriptor("application/vnd.oci.image.layer.v1.tar", layer)],
            }).encode()
            r = src.put_manifest("app/web", sha256_digest(child), child, OCI_MANIFEST)
            self.assertEqual(r.status, 201, r)
            children.append((arch, child))
        index = json.dumps({
            "schemaVersion": 2, "mediaType": OCI_INDEX,
            "manifests": [dict(descriptor(OCI_MANIFEST, child),
                               platform={"architecture": arch, "os": "linux"})
                          for arch, child in children],
        }).encode()
        r = src.put_manifest("app/web", "multi", index, OCI_INDEX)
        self.assertEqual(r.status, 201, r)
        wait_for(lambda: manifest_at(self.han_reader, "app/web", "multi") == index,
                 10, "the index at HAN")
        for _arch, child in children:
            self.assertEqual(manifest_at(self.han_reader, "app/web", sha256_digest(child)), child)
            self.assert_same_blobs("app/web", child)

        # An oras-attached referrer (an SBOM whose subject is v1), pushed by digest.
        import oras.oci

        clients = Clients(self.hcm.host)
        client = clients.oras(self.hcm_creds, scope="repository:app/web:pull,push")
        files = temp_dir("sbom")
        (files / "sbom.json").write_text(json.dumps({"packages": [os.urandom(6).hex()]}))
        r = client.push(
            files=[f"{files / 'sbom.json'}:application/vnd.berth.test.sbom"],
            target=f"{self.hcm.host}/app/web:sbom-v1",
            subject=oras.oci.Subject(mediaType=OCI_MANIFEST, digest=sha256_digest(manifest),
                                     size=len(manifest)),
            disable_path_validation=True, quiet=True,
        )
        self.assertEqual(r.status_code, 201, r.text)
        sbom_digest = r.headers["Docker-Content-Digest"]
        sbom = manifest_at(src, "app/web", sbom_digest)

        def listed():
            r = self.han_reader.request("GET", f"/v2/app/web/referrers/{sha256_digest(manifest)}")
            return r.status == 200 and any(m["digest"] == sbom_digest
                                           for m in r.json()["manifests"])
        wait_for(listed, 10, "the referrer in HAN's referrers API")
        self.assertEqual(manifest_at(self.han_reader, "app/web", sbom_digest), sbom)

        # A moved tag follows.
        layers2 = [random_layer(70 * 1024)]
        manifest2, r = src.push_image("app/web", "v1", layers2, image_config(layers2))
        self.assertEqual(r.status, 201, r)
        wait_for(lambda: manifest_at(self.han_reader, "app/web", "v1") == manifest2,
                 10, "the moved tag at HAN")

        # With delete propagation, a delete follows.
        r = Http(self.hcm.host, self.hcm_creds).request(
            "DELETE", f"/v2/app/web/manifests/{sha256_digest(manifest2)}")
        self.assertEqual(r.status, 202, r)
        wait_for(lambda: self.han_reader.get_manifest("app/web", sha256_digest(manifest2)).status
                 == 404, 10, "the delete at HAN")

        # Every execution succeeded; none copied a blob twice (each counted its bytes once).
        items = executions(self.hcm, "to-han")
        self.assertTrue(items)
        wait_for(lambda: all(e["status"] != "running" for e in executions(self.hcm, "to-han")),
                 10, "the executions to finish")
        failed = [e for e in executions(self.hcm, "to-han") if e["status"] != "succeeded"]
        self.assertEqual(failed, [])

    def test_images_outside_the_rule_stay(self):
        src = self.source("app/other")
        layers = [random_layer(10 * 1024)]
        _, r = src.push_image("app/other", "v1", layers, image_config(layers))
        self.assertEqual(r.status, 201, r)
        time.sleep(2)
        self.assertEqual(self.han_reader.get_manifest("app/other", "v1").status, 404)

    def test_the_source_killed_mid_execution_finishes_after_a_restart(self):
        src = self.source("app/bulk")
        layers = [os.urandom(12 << 20) for _ in range(3)]
        manifest, r = src.push_image("app/bulk", "v1", layers, PLAIN_CONFIG)
        self.assertEqual(r.status, 201, r)
        r = api(self.hcm, "POST", "/api/v1/replication-rules", {
            "name": "slow", "direction": "push", "registry": "han",
            "source": "app/bulk", "destination": "app",
            "trigger": {"type": "manual"}, "bandwidth_limit": 6 << 20,
        })
        self.assertEqual(r.status, 201, r)
        r = api(self.hcm, "POST", "/api/v1/replication-rules/slow/executions")
        self.assertEqual(r.status, 202, r)
        self.assertEqual(r.json()["status"], "running")
        # 36 MiB at 6 MiB/s: about six seconds. Kill the source in the middle of it.
        wait_for(lambda: any(self.han_reader.request(
            "HEAD", f"/v2/app/bulk/blobs/{sha256_digest(layer)}").status == 200
            for layer in layers), 20, "a first layer at HAN")
        self.hcm._kill()
        self.assertIsNone(manifest_at(self.han_reader, "app/bulk", "v1"))
        self.hcm.start()
        execution = finished(self.hcm, "slow", timeout=90)
        self.assertEqual(execution["status"], "succeeded", execution)
        self.assertEqual(manifest_at(self.han_reader, "app/bulk", "v1"), manifest)
        for layer in layers:
            r = self.han_reader.get_blob("app/bulk", sha256_digest(layer))
            self.assertEqual(sha256_digest(r.body), sha256_digest(layer))

        # A second run of the same rule copies nothing.
        r = api(self.hcm, "POST", "/api/v1/replication-rules/slow/executions")
        self.assertEqual(r.status, 202, r)
        again = finished(self.hcm, "slow", count=2)
        self.assertEqual(again["status"], "succeeded", again)
        self.assertEqual((again["artifacts_copied"], again["artifacts_skipped"], again["bytes"]),
                         (0, 1, 0), again)

    def test_a_refusing_remote_fails_the_execution_naming_the_artifact(self):
        r = api(self.hcm, "POST", "/api/v1/registries", {
            "name": "han-wrong", "url": self.han.url,
            "username": self.han_creds[0], "password": "not-the-secret",
        })
        self.assertEqual(r.status, 201, r)
        src = self.source("app/refused")
        layers = [random_layer(20 * 1024)]
        _, r = src.push_image("app/refused", "v1", layers, image_config(layers))
        self.assertEqual(r.status, 201, r)
        r = api(self.hcm, "POST", "/api/v1/replication-rules", {
            "name": "wrong-password", "direction": "push", "registry": "han-wrong",
            "source": "app/refused", "destination": "app",
        })
        self.assertEqual(r.status, 201, r)
        r = api(self.hcm, "POST", "/api/v1/replication-rules/wrong-password/executions")
        self.assertEqual(r.status, 202, r)
        execution = finished(self.hcm, "wrong-password")
        self.assertEqual(execution["status"], "failed", execution)
        self.assertEqual([f["reference"] for f in execution["failures"]], ["refused:v1"])
        self.assertIn("refused", execution["failures"][0]["error"])

        # A full quota at the destination.
        self.han.create_repository("small", access="private", quota="64KiB")
        robot = self.han.create_user(f"small{random_token(3)}", {"small": "push_pull"})
        r = api(self.hcm, "POST", "/api/v1/registries", {
            "name": "han-small", "url": self.han.url,
            "username": robot["name"], "password": robot["secret"],
        })
        self.assertEqual(r.status, 201, r)
        big = [random_layer(200 * 1024)]
        _, r = src.push_image("app/refused", "big", big, image_config(big))
        self.assertEqual(r.status, 201, r)
        r = api(self.hcm, "POST", "/api/v1/replication-rules", {
            "name": "quota", "direction": "push", "registry": "han-small",
            "source": "app/refused", "destination": "small",
        })
        self.assertEqual(r.status, 201, r)
        r = api(self.hcm, "POST", "/api/v1/replication-rules/quota/executions")
        self.assertEqual(r.status, 202, r)
        execution = finished(self.hcm, "quota")
        self.assertIn(execution["status"], ("failed", "partial"), execution)
        refs = sorted(f["reference"] for f in execution["failures"])
        self.assertIn("refused:big", refs)
        self.assertTrue(any("over the limit" in f["error"] for f in execution["failures"]),
                        execution)

    def test_rules_are_checked_and_per_account(self):
        bad = [
            ({"direction": "sideways"}, "direction"),
            ({"registry": "nope"}, "registry nope"),
            ({"source": "missing"}, "repository missing"),
            ({"trigger": {"type": "schedule", "interval": "1s"}}, "too short"),
            ({"direction": "pull", "trigger": {"type": "event"}}, "push rules"),
            ({"tag_filter": "a b"}, "tag_filter"),
        ]
        base = {"name": "bad", "direction": "push", "registry": "han", "source": "app",
                "destination": "app"}
        for change, message in bad:
            r = api(self.hcm, "POST", "/api/v1/replication-rules", {**base, **change})
            self.assertEqual(r.status, 400, (change, r))
            self.assertIn(message, r.json()["error"]["message"], change)
        r = api(self.hcm, "GET", "/api/v1/replication-rules/to-han?account=20000")
        self.assertIn(r.status, (403, 404), r)


class PullReplicationTest(unittest.TestCase):
    """A scheduled pull rule mirrors tags from Debian's distribution registry."""

    def test_a_scheduled_pull_rule_mirrors_distribution(self):
        ref = Reference()
        self.addCleanup(ref.stop)
        ref.start()
        up = Http(ref.host, (ref.user, ref.password))
        images = {}
        for tag in ("1.0", "2.0"):
            layers = [random_layer(80 * 1024)]
            manifest, r = up.push_image("lib/tool", tag, layers, image_config(layers))
            self.assertEqual(r.status, 201, r)
            images[tag] = manifest

        node = Berth("mirror", auth_mode="token")
        self.addCleanup(node.stop)
        node.start()
        node.create_repository("mirror", access="private")
        r = api(node, "POST", "/api/v1/registries", {
            "name": "dist", "url": f"http://{ref.host}",
            "username": ref.user, "password": ref.password,
        })
        self.assertEqual(r.status, 201, r)
        r = api(node, "POST", "/api/v1/replication-rules", {
            "name": "from-dist", "direction": "pull", "registry": "dist",
            "source": "lib/tool", "destination": "mirror",
            "trigger": {"type": "schedule", "interval": "1h"},
        })
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json()["trigger"], {"type": "schedule", "interval": "1h"})
        execution = finished(node, "from-dist")
        self.assertEqual(execution["status"], "succeeded", execution)
        self.assertEqual(execution["artifacts_copied"], 2, execution)
        user = node.create_user(f"r{random_token(3)}", {"mirror": "pull"})
        reader = Http(node.host, (user["name"], user["secret"]))
        for tag, manifest in images.items():
            self.assertEqual(manifest_at(reader, "mirror/tool", tag), manifest)
            for d in json.loads(manifest)["layers"]:
                r = reader.get_blob("mirror/tool", d["digest"])
                self.assertEqual(sha256_digest(r.body), d["digest"])
        # A replicated pull is not a pull: nobody pulled the image yet.
        r = api(node, "GET", "/api/v1/repositories/mirror/images")
        self.assertEqual(r.status, 200, r)

        r = api(node, "POST", "/api/v1/replication-rules/from-dist/executions")
        self.assertEqual(r.status, 202, r)
        again = finished(node, "from-dist", count=2)
        self.assertEqual((again["status"], again["artifacts_copied"], again["artifacts_skipped"]),
                         ("succeeded", 0, 2), again)


if __name__ == "__main__":
    unittest.main()
