"""oras-py pushes an artifact, then a second one whose `subject` is the first; a third referrer
is PUT by digest with raw HTTP (explicit `artifactType`, empty config). The referrers API lists
both, with their artifact types and annotations, and filters by `artifactType`.
"""

import json
import os

from harness import (
    OCI_EMPTY,
    OCI_INDEX,
    OCI_MANIFEST,
    BerthCase,
    Http,
    descriptor,
    sha256_digest,
    temp_dir,
)

SBOM = "application/vnd.berth.test.sbom"
SIGNATURE = "application/vnd.berth.test.signature"


class Referrers(BerthCase):
    @classmethod
    def setUpServer(cls):
        cls.berth.create_repository("arts")
        cls.creds = cls.new_user({"arts": "push_pull"}, prefix="oras")
        cls.subject, cls.sbom, cls.signature = cls.push_all()

    @classmethod
    def push_all(cls):
        import oras.oci

        client = cls.clients.oras(cls.creds, scope="repository:arts/app:pull,push")
        src = temp_dir("oras")
        (src / "app.bin").write_bytes(os.urandom(40_000))
        (src / "sbom.json").write_text(json.dumps({"packages": [os.urandom(8).hex()]}))
        (src / "sbom-config.json").write_text("{}")
        target = f"{cls.clients.host}/arts/app"

        r = client.push(files=[f"{src / 'app.bin'}:application/vnd.berth.test.app"],
                        target=f"{target}:v1", disable_path_validation=True, quiet=True)
        if r.status_code != 201:
            raise AssertionError(f"oras push of the subject: {r.status_code} {r.text}")
        subject_digest = r.headers["Docker-Content-Digest"]
        http = Http(cls.berth.host, cls.creds)
        subject = http.get_manifest("arts/app", subject_digest)
        if subject.status != 200:
            raise AssertionError(f"the subject by digest: {subject!r}")

        # The artifact type of this one comes from its config's media type (oras-py sets no
        # artifactType field).
        r = client.push(
            files=[f"{src / 'sbom.json'}:application/vnd.berth.test.sbom.layer"],
            target=f"{target}:sbom",
            manifest_config=f"{src / 'sbom-config.json'}:{SBOM}",
            manifest_annotations={"org.berth.test.kind": "sbom"},
            subject=oras.oci.Subject(mediaType=OCI_MANIFEST, digest=subject_digest,
                                     size=len(subject.body)),
            disable_path_validation=True, quiet=True,
        )
        if r.status_code != 201:
            raise AssertionError(f"oras push of the referrer: {r.status_code} {r.text}")
        sbom = {"digest": r.headers["Docker-Content-Digest"], "oci_subject": r.headers.get("OCI-Subject")}

        # A referrer with an explicit artifactType and the empty config, pushed by digest only.
        empty = b"{}"
        signature_blob = os.urandom(512)
        http.push_blob("arts/app", empty)
        http.push_blob("arts/app", signature_blob)
        manifest = json.dumps({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": SIGNATURE,
            "config": descriptor(OCI_EMPTY, empty),
            "layers": [descriptor("application/vnd.berth.test.sig.layer", signature_blob)],
            "subject": {"mediaType": OCI_MANIFEST, "digest": subject_digest, "size": len(subject.body)},
            "annotations": {"org.berth.test.kind": "signature"},
        }).encode()
        put = http.put_manifest("arts/app", sha256_digest(manifest), manifest, OCI_MANIFEST)
        if put.status != 201:
            raise AssertionError(f"PUT of the signature referrer: {put!r}")
        signature = {"digest": sha256_digest(manifest), "size": len(manifest),
                     "oci_subject": put.header("OCI-Subject")}
        return {"digest": subject_digest, "size": len(subject.body)}, sbom, signature

    def referrers(self, query: str = "", creds="default"):
        creds = self.creds if creds == "default" else creds
        return self.http(creds).request(
            "GET", f"/v2/arts/app/referrers/{self.subject['digest']}{query}")

    def test_manifest_put_with_subject_answers_oci_subject(self):
        self.assertEqual(self.sbom["oci_subject"], self.subject["digest"])
        self.assertEqual(self.signature["oci_subject"], self.subject["digest"])

    def test_referrers_lists_both(self):
        r = self.referrers()
        self.assertEqual(r.status, 200, r)
        self.assertTrue((r.header("Content-Type") or "").startswith(OCI_INDEX), r)
        index = r.json()
        self.assertEqual(index.get("schemaVersion"), 2, index)
        self.assertEqual(index.get("mediaType"), OCI_INDEX, index)
        found = {m["digest"]: m for m in index["manifests"]}
        self.assertEqual(set(found), {self.sbom["digest"], self.signature["digest"]}, index)

        sbom = found[self.sbom["digest"]]
        self.assertEqual(sbom["artifactType"], SBOM)
        self.assertEqual(sbom["mediaType"], OCI_MANIFEST)
        self.assertEqual((sbom.get("annotations") or {}).get("org.berth.test.kind"), "sbom", sbom)
        sbom_bytes = self.http(self.creds).get_manifest("arts/app", self.sbom["digest"]).body
        self.assertEqual(sbom["size"], len(sbom_bytes))

        sig = found[self.signature["digest"]]
        self.assertEqual(sig["artifactType"], SIGNATURE)
        self.assertEqual(sig["size"], self.signature["size"])
        self.assertEqual((sig.get("annotations") or {}).get("org.berth.test.kind"), "signature", sig)

    def test_referrers_filtered_by_artifact_type(self):
        for artifact_type, expected in ((SBOM, self.sbom), (SIGNATURE, self.signature)):
            with self.subTest(artifact_type=artifact_type):
                r = self.referrers(f"?artifactType={artifact_type}")
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.header("OCI-Filters-Applied"), "artifactType", r)
                digests = [m["digest"] for m in r.json()["manifests"]]
                self.assertEqual(digests, [expected["digest"]])
        r = self.referrers("?artifactType=application/vnd.berth.test.none")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["manifests"], [])

    def test_referrers_of_an_unknown_digest_is_an_empty_index(self):
        r = self.http(self.creds).request("GET", "/v2/arts/app/referrers/" + sha256_digest(b"none"))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["manifests"], [])

    def test_referrers_of_a_private_repository_need_credentials(self):
        r = self.referrers(creds=None)
        self.assertEqual(r.status, 401, r)

    def test_oras_pulls_the_subject_and_the_referrer(self):
        client = self.clients.oras(self.creds, scope="repository:arts/app:pull")
        out = temp_dir("oras-out")
        files = client.pull(target=f"{self.clients.host}/arts/app:sbom", outdir=str(out))
        self.assertEqual([os.path.basename(f) for f in files], ["sbom.json"])
        manifest = client.get_manifest(f"{self.clients.host}/arts/app@{self.sbom['digest']}")
        self.assertEqual(manifest["subject"]["digest"], self.subject["digest"])
