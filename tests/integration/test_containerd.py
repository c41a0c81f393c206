"""containerd (Debian's 1.6, `ctr` against a private daemon) pulls and pushes through berth:
an image skopeo pushed, pulled by a pull-only user with the same digest; an image containerd
imported, tagged and pushed, read back by skopeo and raw HTTP with the same digests; a pull-only
user and a wrong secret refused; and a two-platform index pushed by buildah, pulled platform
by platform. In token mode and in basic mode.
"""

import gzip
import io
import json
import os
import tarfile

from harness import (
    OCI_INDEX,
    OCI_MANIFEST,
    BerthCase,
    Containerd,
    random_layer,
    random_token,
    sha256_digest,
    temp_dir,
    write_oci_layout,
)


class ContainerdChecks:
    @classmethod
    def setUpServer(cls):
        cls.berth.create_repository(cls.repo)
        cls.pusher = cls.new_user({cls.repo: "push_pull"}, prefix="pusher")
        cls.puller = cls.new_user({cls.repo: "pull"}, prefix="puller")
        cls.containerd = Containerd(f"containerd-{cls.__name__}")
        cls.addClassCleanup(cls.containerd.stop)
        cls.containerd.start()

    def ref(self, image: str) -> str:
        """HOST/REPO/IMAGE, as containerd names a remote image."""
        return f"{self.berth.host}/{self.repo}/{image}"

    def forget(self, ctr: Containerd, *refs: str):
        """At the test's end, removes the images (and their content) from containerd."""
        self.addCleanup(ctr.rm, *refs, ok=False)

    def local_image(self, layout) -> str:
        """The layout imported into containerd under a local name (no registry involved)."""
        local = self.containerd.import_layout(layout, f"localhost/berth-it/{random_token(3)}")
        self.forget(self.containerd, local)
        return local

    def test_containerd_pulls_what_skopeo_pushed(self):
        layout = write_oci_layout(temp_dir("src"), "v1")
        self.clients.copy_in(layout.ref, f"{self.repo}/ctd/pulled:v1", self.pusher)

        ctr = self.containerd
        ref = self.ref("ctd/pulled:v1")
        self.forget(ctr, ref)
        ctr.pull(ref, self.puller)
        image = ctr.images()[ref]
        self.assertEqual(image["digest"], layout.digest)
        self.assertEqual(image["type"], OCI_MANIFEST)
        self.assertEqual(ctr.content(layout.digest), layout.manifest)
        self.assertEqual(ctr.content(sha256_digest(layout.config)), layout.config)
        for layer in layout.layers:
            self.assertEqual(ctr.content(sha256_digest(layer)), layer, "layer bytes")

        by_digest = self.ref(f"ctd/pulled@{layout.digest}")
        self.forget(ctr, by_digest)
        ctr.pull(by_digest, self.puller)
        self.assertEqual(ctr.images()[by_digest]["digest"], layout.digest)

    def test_containerd_pushes(self):
        layout = write_oci_layout(temp_dir("src"), "v1")
        local = self.local_image(layout)
        ctr = self.containerd
        ref = self.ref("ctd/pushed:v1")
        ctr.tag(local, ref)
        self.forget(ctr, ref)
        ctr.push(ref, self.pusher)

        raw = self.clients.inspect_raw(f"{self.repo}/ctd/pushed:v1", self.puller).stdout_bytes
        self.assertEqual(raw, layout.manifest, "the manifest arrives as containerd held it")
        http = self.http(self.puller)
        r = http.get_manifest(f"{self.repo}/ctd/pushed", "v1")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("Docker-Content-Digest"), layout.digest)
        self.assertEqual(r.header("Content-Type"), OCI_MANIFEST)
        for blob in [layout.config, *layout.layers]:
            digest = sha256_digest(blob)
            b = http.get_blob(f"{self.repo}/ctd/pushed", digest)
            self.assertEqual(b.status, 200, b)
            self.assertEqual(b.header("Docker-Content-Digest"), digest, b)
            self.assertEqual(b.body, blob, f"blob {digest}")

        # And back into a fresh namespace: containerd pulls what it pushed.
        other = ctr.in_namespace(f"back-{random_token(3)}")
        self.forget(other, ref)
        other.pull(ref, self.puller)
        self.assertEqual(other.images()[ref]["digest"], layout.digest)

    def test_pull_only_user_and_wrong_secret_are_refused(self):
        http = self.http(self.pusher)
        manifest, r = http.push_image(f"{self.repo}/ctd/guarded", "v1", [random_layer(40_000)])
        self.assertEqual(r.status, 201, r)

        layout = write_oci_layout(temp_dir("src"), "v2", [random_layer(40_000)])
        local = self.local_image(layout)
        ctr = self.containerd
        ref = self.ref("ctd/guarded:v2")
        ctr.tag(local, ref)
        self.forget(ctr, ref)

        refused = ctr.push(ref, self.puller, debug=True, ok=False)
        self.assertNotEqual(refused.returncode, 0, "containerd push by a pull-only user")
        self.assertIn("ctr: unexpected status: 403 Forbidden", refused.stderr,
                      refused.stderr[-3000:])
        # What berth answered (containerd 1.6 shows it only in its debug log): the OCI code and
        # a message naming the user and what it may do.
        errors = Containerd.registry_errors(refused.stderr)
        self.assertTrue(errors, refused.stderr[-3000:])
        for error in errors:
            self.assertEqual(error.get("code"), "DENIED", errors)
            self.assertIn(self.puller[0], error.get("message", ""), errors)
            self.assertIn("pull", error.get("message", ""), errors)

        # Wrong secrets go to users of their own: containerd retries a refused login, and past
        # ten failures a source is held back for that name (429) even with the right secret.
        decoy_pusher, _ = self.new_user({self.repo: "push_pull"}, prefix="decoypush")
        decoy_puller, _ = self.new_user({self.repo: "pull"}, prefix="decoypull")
        wrong = (decoy_pusher, "wrong-" + random_token())
        refused = ctr.push(ref, wrong, ok=False)
        self.assertNotEqual(refused.returncode, 0, "containerd push with a wrong secret")
        self.assertIn("401 Unauthorized", refused.stderr, refused.stderr)

        tags = http.tags(f"{self.repo}/ctd/guarded")
        self.assertEqual(tags.status, 200, tags)
        self.assertEqual(tags.json()["tags"], ["v1"], "nothing was pushed")

        pulled = self.ref("ctd/guarded:v1")
        self.forget(ctr, pulled)
        refused = ctr.pull(pulled, (decoy_puller, "wrong-" + random_token()), ok=False)
        self.assertNotEqual(refused.returncode, 0, "containerd pull with a wrong secret")
        self.assertIn("401 Unauthorized", refused.stderr, refused.stderr)
        self.assertNotIn(pulled, ctr.images())
        ctr.pull(pulled, self.puller)
        self.assertEqual(ctr.images()[pulled]["digest"], sha256_digest(manifest))

    def test_multi_platform_index_pulled_per_platform(self):
        c = self.clients
        platforms = ["linux/amd64", "linux/arm64"]
        payloads = {}
        local_list = f"localhost/berth-it-list-{random_token(3)}:v1"
        c.buildah("manifest", "create", local_list)
        self.addCleanup(c.buildah, "manifest", "rm", local_list, ok=False)
        for platform in platforms:
            os_name, arch = platform.split("/")
            payloads[platform] = os.urandom(100_000)
            src = temp_dir("payload") / f"{arch}.bin"
            src.write_bytes(payloads[platform])
            work = c.buildah("from", "--os", os_name, "--arch", arch, "scratch").stdout
            work = work.strip().splitlines()[-1]
            c.buildah("copy", work, str(src), f"/{arch}.bin")
            c.buildah("config", "--os", os_name, "--arch", arch, work)
            local = f"localhost/berth-it-{arch}-{random_token(3)}:v1"
            c.buildah("commit", "--format", "oci", "--rm", work, local)
            self.addCleanup(c.buildah, "rmi", local, ok=False)
            c.buildah("manifest", "add", local_list, f"containers-storage:{local}")
        digest_file = temp_dir("buildah") / "digest"
        c.buildah(
            "manifest", "push", "--all", "--tls-verify=false",
            "--creds", f"{self.pusher[0]}:{self.pusher[1]}", "--digestfile", str(digest_file),
            local_list, f"docker://{c.host}/{self.repo}/ctd/multi:v1",
        )
        index_digest = digest_file.read_text().strip()

        http = self.http(self.puller)
        r = http.get_manifest(f"{self.repo}/ctd/multi", "v1")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(sha256_digest(r.body), index_digest)
        self.assertEqual(r.header("Docker-Content-Digest"), index_digest)
        index = r.json()
        self.assertEqual(r.header("Content-Type"), index.get("mediaType", OCI_INDEX))
        entries = {
            f"{m['platform']['os']}/{m['platform']['architecture']}": m
            for m in index["manifests"]
        }
        self.assertEqual(sorted(entries), platforms, index)

        ref = self.ref("ctd/multi:v1")
        for platform in platforms:
            with self.subTest(platform=platform):
                # A namespace per platform: its content is only what this pull fetched.
                namespace = f"p-{platform.replace('/', '-')}-{random_token(3)}"
                ctr = self.containerd.in_namespace(namespace)
                self.forget(ctr, ref)
                ctr.pull(ref, self.puller, platform=platform)
                self.assertEqual(ctr.images()[ref]["digest"], index_digest)
                entry = entries[platform]
                manifest = ctr.content(entry["digest"])
                self.assertEqual(sha256_digest(manifest), entry["digest"])
                self.assertEqual(len(manifest), entry["size"])
                for other, e in entries.items():
                    if other != platform:
                        self.assertFalse(ctr.has_content(e["digest"]),
                                         f"{platform} pull fetched the {other} manifest")
                parsed = json.loads(manifest)
                config = json.loads(ctr.content(parsed["config"]["digest"]))
                self.assertEqual(f"{config['os']}/{config['architecture']}", platform)
                self.assertEqual(len(parsed["layers"]), 1)
                layer = ctr.content(parsed["layers"][0]["digest"])
                self.assertEqual(sha256_digest(layer), parsed["layers"][0]["digest"])
                arch = platform.split("/")[1]
                with tarfile.open(fileobj=io.BytesIO(gzip.decompress(layer))) as tar:
                    member = tar.extractfile(f"{arch}.bin") or tar.extractfile(f"./{arch}.bin")
                    self.assertEqual(member.read(), payloads[platform], f"{platform} payload")

        every = self.containerd.in_namespace(f"all-{random_token(3)}")
        self.forget(every, ref)
        every.pull(ref, self.puller, all_platforms=True)
        self.assertEqual(sorted(every.images()[ref]["platforms"]), platforms)
        for entry in entries.values():
            self.assertEqual(sha256_digest(every.content(entry["digest"])), entry["digest"])


class ContainerdTokenMode(ContainerdChecks, BerthCase):
    """containerd through the Docker token flow (the default mode)."""

    auth_mode = "token"
    repo = "ctdtoken"


class ContainerdBasicMode(ContainerdChecks, BerthCase):
    """containerd with BERTH_AUTH_MODE=basic: credentials on every request."""

    auth_mode = "basic"
    repo = "ctdbasic"
