"""Real clients push and pull through berth: skopeo (OCI and Docker v2s2, in and out with
identical digests and bytes), podman (login, push, pull, logout), buildah (push of an image
built from scratch) and oras-py (push and pull of an artifact); in token mode and in basic mode.

The checks are mixins over `clients`, `creds`, `repo` and `http()`, so that
`selfcheck_reference.py` runs the very same code against Debian's reference registry.
"""

import gzip
import io
import json
import os
import tarfile

from harness import (
    DOCKER_MANIFEST,
    BerthCase,
    layer_tar,
    random_token,
    read_oci_layout,
    sha256_digest,
    temp_dir,
    write_oci_layout,
)


class SkopeoChecks:
    def roundtrip(self, fmt: str):
        layout = write_oci_layout(temp_dir("src"), "v1")
        image = f"{self.repo}/skopeo/{fmt}"
        self.clients.copy_in(layout.ref, f"{image}:v1", self.creds, fmt=fmt)

        raw = self.clients.inspect_raw(f"{image}:v1", self.creds).stdout_bytes
        digest = sha256_digest(raw)
        manifest = json.loads(raw)
        layer_digests = [sha256_digest(layer) for layer in layout.layers]
        self.assertEqual([d["digest"] for d in manifest["layers"]], layer_digests)
        if fmt == "oci":
            self.assertEqual(raw, layout.manifest, "an OCI image goes in unchanged")
        else:
            self.assertEqual(manifest["mediaType"], DOCKER_MANIFEST)

        r = self.http(self.creds).get_manifest(image, "v1")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, raw)
        self.assertEqual(r.header("Docker-Content-Digest"), digest)
        self.assertEqual(r.header("Content-Type"), manifest["mediaType"])
        by_digest = self.clients.inspect_raw(f"{image}@{digest}", self.creds).stdout_bytes
        self.assertEqual(by_digest, raw)

        out = temp_dir("out")
        if fmt == "oci":
            self.clients.copy_out(f"{image}:v1", f"oci:{out}:v1", self.creds)
            out_manifest, blobs = read_oci_layout(out, "v1")
        else:
            # The dir: transport keeps the manifest as it came (oci: would convert a v2s2 one).
            self.clients.copy_out(f"{image}:v1", f"dir:{out}", self.creds)
            out_manifest = (out / "manifest.json").read_bytes()
            blobs = {
                "sha256:" + p.name: p.read_bytes() for p in out.iterdir() if len(p.name) == 64
            }
        self.assertEqual(sha256_digest(out_manifest), digest)
        for layer, layer_digest in zip(layout.layers, layer_digests):
            self.assertEqual(blobs[layer_digest], layer, f"layer {layer_digest} bytes")
        config_digest = manifest["config"]["digest"]
        self.assertEqual(sha256_digest(blobs[config_digest]), config_digest)

    def test_skopeo_oci_roundtrip(self):
        self.roundtrip("oci")

    def test_skopeo_v2s2_roundtrip(self):
        self.roundtrip("v2s2")


class PodmanChecks:
    def test_podman_login_push_pull_logout(self):
        c = self.clients
        host = c.host
        image = f"{host}/{self.repo}/podman/app:v1"
        user, secret = self.creds

        c.podman("login", "--tls-verify=false", "-u", user, "-p", secret, host)
        self.assertIn(host, json.loads(c.auth_file.read_text()).get("auths", {}))

        payload = os.urandom(200_000)
        rootfs = temp_dir("rootfs") / "rootfs.tar"
        rootfs.write_bytes(layer_tar({"hello/payload.bin": payload}))
        c.podman("import", str(rootfs), image)
        digest_file = temp_dir("podman") / "digest"
        c.podman("push", "--tls-verify=false", "--digestfile", str(digest_file), image)
        digest = digest_file.read_text().strip()

        r = self.http(self.creds).get_manifest(f"{self.repo}/podman/app", "v1")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(sha256_digest(r.body), digest)

        c.podman("rmi", image)
        c.podman("pull", "--tls-verify=false", image)
        pulled = c.podman("image", "inspect", "--format", "{{.Digest}}", image).stdout.strip()
        self.assertEqual(pulled, digest)

        c.podman("logout", host)
        self.assertNotIn(host, json.loads(c.auth_file.read_text()).get("auths", {}))
        c.podman("rmi", image)
        refused = c.podman("pull", "--tls-verify=false", image, ok=False)
        self.assertNotEqual(refused.returncode, 0, "a logged-out pull of a private image")


class BuildahChecks:
    def test_buildah_push(self):
        c = self.clients
        payload = os.urandom(150_000)
        src = temp_dir("buildah") / "payload.bin"
        src.write_bytes(payload)
        ctr = c.buildah("from", "scratch").stdout.strip().splitlines()[-1]
        c.buildah("copy", ctr, str(src), "/payload.bin")
        local = f"localhost/berth-it-{random_token(3)}:latest"
        c.buildah("commit", ctr, local)
        digest_file = src.parent / "digest"
        c.buildah(
            "push", "--tls-verify=false", "--creds", f"{self.creds[0]}:{self.creds[1]}",
            "--digestfile", str(digest_file), local,
            f"docker://{c.host}/{self.repo}/buildah/app:v1",
        )
        digest = digest_file.read_text().strip()

        http = self.http(self.creds)
        r = http.get_manifest(f"{self.repo}/buildah/app", "v1")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(sha256_digest(r.body), digest)
        manifest = r.json()
        self.assertEqual(len(manifest["layers"]), 1)
        blob = http.get_blob(f"{self.repo}/buildah/app", manifest["layers"][0]["digest"])
        self.assertEqual(blob.status, 200, blob)
        self.assertEqual(sha256_digest(blob.body), manifest["layers"][0]["digest"])
        with tarfile.open(fileobj=io.BytesIO(gzip.decompress(blob.body))) as tar:
            member = tar.extractfile("payload.bin") or tar.extractfile("./payload.bin")
            self.assertEqual(member.read(), payload)


class OrasChecks:
    oras_backend = "token"

    def test_oras_push_pull(self):
        src = temp_dir("oras")
        data = os.urandom(50_000)
        (src / "artifact.bin").write_bytes(data)
        scope = f"repository:{self.repo}/oras/art:pull,push"
        client = self.clients.oras(self.creds, self.oras_backend, scope)
        target = f"{self.clients.host}/{self.repo}/oras/art:v1"
        r = client.push(
            files=[f"{src / 'artifact.bin'}:application/vnd.berth.test.file"],
            target=target, disable_path_validation=True, quiet=True,
        )
        self.assertEqual(r.status_code, 201, r.text)
        digest = r.headers["Docker-Content-Digest"]
        manifest = self.http(self.creds).get_manifest(f"{self.repo}/oras/art", "v1")
        self.assertEqual(manifest.status, 200, manifest)
        self.assertEqual(sha256_digest(manifest.body), digest)

        out = temp_dir("oras-out")
        files = client.pull(target=target, outdir=str(out))
        self.assertEqual([os.path.basename(f) for f in files], ["artifact.bin"])
        self.assertEqual((out / "artifact.bin").read_bytes(), data)


class ClientsTokenMode(SkopeoChecks, PodmanChecks, BuildahChecks, OrasChecks, BerthCase):
    """Every client through the Docker token flow (the default mode)."""

    auth_mode = "token"
    oras_backend = "token"

    @classmethod
    def setUpServer(cls):
        cls.repo = "team"
        cls.berth.create_repository(cls.repo)
        cls.creds = cls.new_user({cls.repo: "push_pull"}, prefix="ci")

    def test_challenge_names_the_token_realm(self):
        r = self.http().send("GET", "/v2/")
        self.assertEqual(r.status, 401, r)
        value = r.header("WWW-Authenticate") or ""
        self.assertTrue(value.startswith("Bearer "), value)
        self.assertIn(f'realm="http://{self.berth.host}/token"', value)
        self.assertIn('service="berth"', value)


class ClientsBasicMode(SkopeoChecks, PodmanChecks, BuildahChecks, OrasChecks, BerthCase):
    """With BERTH_AUTH_MODE=basic: credentials on every request, no token endpoint needed."""

    auth_mode = "basic"
    oras_backend = "basic"

    @classmethod
    def setUpServer(cls):
        cls.repo = "basicrepo"
        cls.berth.create_repository(cls.repo)
        cls.creds = cls.new_user({cls.repo: "push_pull"}, prefix="ci")

    def test_challenge_is_basic(self):
        r = self.http().send("GET", "/v2/")
        self.assertEqual(r.status, 401, r)
        self.assertEqual(r.header("WWW-Authenticate"), 'Basic realm="berth"')
