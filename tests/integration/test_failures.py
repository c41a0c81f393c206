"""Failures explain themselves: a storage failure in the middle of a push answers a clean 500
whose `X-Request-Id` names the log line that holds the cause; every answer carries an id.
"""

import re
import shutil

from harness import BerthCase, Http, random_layer, sha256_digest


class StorageFailureMidPush(BerthCase):
    @classmethod
    def setUpServer(cls):
        cls.berth.create_repository("failing")
        cls.creds = cls.new_user({"failing": "push_pull"})

    def test_every_answer_carries_a_request_id(self):
        http = Http(self.berth.host)
        ids = {http.request("GET", path).header("X-Request-Id") for path in ("/healthz", "/v2/", "/api/v1/session")}
        self.assertEqual(len(ids), 3, f"one fresh id per answer: {ids}")
        for rid in ids:
            self.assertRegex(rid or "", r"^[0-9a-f]{16}$")

    def test_the_cause_is_logged_under_the_id_the_client_got(self):
        http = Http(self.berth.host, self.creds)
        # The store works: one layer goes in.
        http.push_blob("failing/app", random_layer(64 * 1024))
        # Then the blob store breaks under the running server: the upload area becomes a file,
        # so creating an upload session fails in the filesystem (root cannot get around it).
        uploads = self.berth.data_dir / "blobs" / "uploads"
        shutil.rmtree(uploads, ignore_errors=True)
        uploads.write_bytes(b"not a directory")
        try:
            layer = random_layer(64 * 1024)
            r = http.request(
                "POST",
                f"/v2/failing/app/blobs/uploads/?digest={sha256_digest(layer)}",
                layer,
                headers={"Content-Type": "application/octet-stream"},
            )
        finally:
            uploads.unlink()
            uploads.mkdir()
        self.assertEqual(r.status, 500, r)
        self.assertEqual(r.error_codes(), ["UNKNOWN"], r)
        self.assertNotIn("directory", r.body.decode(), "the cause is for the log, not the client")
        rid = r.header("X-Request-Id")
        self.assertRegex(rid or "", r"^[0-9a-f]{16}$", r)
        lines = [line for line in self.berth.log_text().splitlines() if f"id={rid}" in line]
        self.assertTrue(lines, f"no log line names request {rid}:\n{self.berth.log_tail()}")
        causes = [line for line in lines if "ERROR" in line and re.search(r"not a directory", line, re.I)]
        self.assertTrue(causes, f"no error line with the cause under {rid}:\n" + "\n".join(lines))
        failed = [line for line in lines if "request failed" in line and "status=500" in line]
        self.assertTrue(failed, f"no failed-request line under {rid}:\n" + "\n".join(lines))
        # And the store works again once it is repaired.
        http.push_blob("failing/app", random_layer(32 * 1024))
