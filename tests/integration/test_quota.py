"""A push over the repository's quota fails with the readable message and changes nothing: the
usage the admin CLI reports, the tags, and what the earlier tag pulls are as before.
"""

import json

from harness import (
    OCI_MANIFEST,
    BerthCase,
    image_config,
    oci_manifest,
    random_layer,
    read_oci_layout,
    sha256_digest,
    temp_dir,
    upload_url,
    write_oci_layout,
)

QUOTA = 1024 * 1024  # 1 MiB


def config_digest(manifest: bytes) -> str:
    return json.loads(manifest)["config"]["digest"]


class Quota(BerthCase):
    @classmethod
    def setUpServer(cls):
        cls.created = cls.berth.create_repository("small", quota="1MiB")
        cls.creds = cls.new_user({"small": "push_pull"}, prefix="q")
        cls.v1 = write_oci_layout(temp_dir("v1"), "v1", [random_layer(400_000)])
        cls.clients.copy_in(cls.v1.ref, "small/app:v1", cls.creds)
        cls.usage_after_v1 = cls.berth.repository("small")

    def usage(self) -> dict:
        return self.berth.repository("small")

    def assert_unchanged(self, before: dict):
        after = self.usage()
        self.assertEqual(after["used_bytes"], before["used_bytes"], (before, after))
        self.assertEqual(after["image_count"], before["image_count"], (before, after))
        http = self.http(self.creds)
        tags = http.tags("small/app")
        self.assertEqual(tags.status, 200, tags)
        self.assertEqual(tags.json()["tags"], ["v1"])
        r = http.get_manifest("small/app", "v1")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("Docker-Content-Digest"), self.v1.digest)
        out = temp_dir("out")
        self.clients.copy_out("small/app:v1", f"oci:{out}:v1", self.creds)
        manifest, blobs = read_oci_layout(out, "v1")
        self.assertEqual(sha256_digest(manifest), self.v1.digest)
        self.assertEqual(blobs[sha256_digest(self.v1.layers[0])], self.v1.layers[0])

    def assert_quota_refusal(self, r):
        self.assertEqual(r.status, 403, r)
        self.assertIn("DENIED", r.error_codes(), r)
        messages = " ".join(e.get("message", "") for e in r.json()["errors"])
        self.assertIn("over the limit of", messages, r)

    def test_repository_reports_quota_and_usage(self):
        self.assertEqual(self.created["quota_bytes"], QUOTA, self.created)
        self.assertEqual(self.created["used_bytes"], 0, self.created)
        usage = self.usage_after_v1
        self.assertEqual(usage["quota_bytes"], QUOTA, usage)
        counted = len(self.v1.layers[0]) + len(self.v1.config) + len(self.v1.manifest)
        self.assertEqual(usage["used_bytes"], counted, usage)
        self.assertEqual(usage["image_count"], 1, usage)

    def test_push_within_quota_still_works(self):
        """The refusals are the quota's, not a broken repository: a small image still fits, and
        the usage grows by exactly its bytes."""
        before = self.usage()
        layer = random_layer(20_000)
        manifest, r = self.http(self.creds).push_image("small/fits", "1", [layer])
        self.assertEqual(r.status, 201, r)
        config = self.http(self.creds).get_blob("small/fits", config_digest(manifest))
        self.assertEqual(config.status, 200, config)
        after = self.usage()
        grown = len(layer) + len(config.body) + len(manifest)
        self.assertEqual(after["used_bytes"], before["used_bytes"] + grown, (before, after))

    def test_skopeo_push_over_quota_fails_readably(self):
        before = self.usage()
        big = write_oci_layout(temp_dir("big"), "v2", [random_layer(700_000)])
        pushed = self.clients.copy_in(big.ref, "small/app:v2", self.creds, ok=False)
        self.assertNotEqual(pushed.returncode, 0, "skopeo push over the quota")
        self.assertIn("over the limit of", pushed.stderr)
        self.assert_unchanged(before)

    def test_raw_manifest_over_quota_is_denied_with_the_message(self):
        """Two layers that each fit but not together: every blob upload succeeds (unreferenced
        blobs count for nothing), the manifest PUT is refused, onto a new tag or the old one."""
        before = self.usage()
        http = self.http(self.creds)
        for tag in ("v3", "v1"):
            with self.subTest(tag=tag):
                manifest, r = http.push_image("small/app", tag, [random_layer(350_000), random_layer(350_000)])
                self.assert_quota_refusal(r)
                self.assertEqual(
                    http.get_manifest("small/app", sha256_digest(manifest)).status, 404,
                    "a refused manifest must not be readable by digest",
                )
                self.assert_unchanged(before)

    def test_raw_blob_over_quota_is_refused_by_the_upload_or_the_manifest(self):
        """A single layer bigger than what is left: berth may refuse the blob upload itself or
        the manifest, but with the quota's message either way."""
        before = self.usage()
        http = self.http(self.creds)
        layer = random_layer(700_000)
        config = image_config([layer])
        self.assertEqual(http.push_blob("small/app", config), sha256_digest(config))
        started = http.start_upload("small/app")
        self.assertEqual(started.status, 202, started)
        r = http.request("PUT", upload_url(started, digest=sha256_digest(layer)), layer,
                         headers={"Content-Type": "application/octet-stream"})
        if r.status == 201:
            r = http.put_manifest("small/app", "v4", oci_manifest(config, [layer]), OCI_MANIFEST)
        self.assert_quota_refusal(r)
        self.assert_unchanged(before)
