"""The server process itself: health and readiness, the admin CLI's JSON against a running
server, SIGTERM as a clean exit, and what was pushed surviving a restart on the same data dir.
"""

import json
import re

from harness import Berth, BerthCase, Http, random_layer, sha256_digest

RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


class Serve(BerthCase):
    def test_health_and_readiness(self):
        for path in ("/healthz", "/readyz"):
            r = self.http().send("GET", path)
            self.assertEqual(r.status, 200, r)

    def test_v2_needs_credentials(self):
        r = self.http().send("GET", "/v2/")
        self.assertEqual(r.status, 401, r)
        self.assertIn("UNAUTHORIZED", r.error_codes(), r)

    def test_admin_json_shapes(self):
        repo = self.berth.create_repository("shapes", access="public", quota="10GiB")
        self.assertEqual(
            set(repo), {"name", "access_level", "quota_bytes", "used_bytes", "image_count", "delete_orphan_referrers",
             "proxy", "created_at"}
        )
        self.assertIsNone(repo["proxy"], "an ordinary repository is no proxy")
        self.assertEqual(repo["name"], "shapes")
        self.assertEqual(repo["access_level"], "public")
        self.assertEqual(repo["quota_bytes"], 10 * 1024**3)
        self.assertEqual((repo["used_bytes"], repo["image_count"]), (0, 0))
        self.assertRegex(repo["created_at"], RFC3339)
        self.assertIn("shapes", [r["name"] for r in self.berth.admin("repository", "list")])

        plain = self.berth.create_repository("plain")
        self.assertEqual((plain["access_level"], plain["quota_bytes"]), ("private", None))

        user = self.berth.admin("user", "create", "--repository", "shapes=pull",
                                "--description", "made by the integration suite")
        self.assertRegex(user["name"], r"^10000-")
        self.assertTrue(user["secret"])
        self.assertEqual(user["description"], "made by the integration suite")
        self.assertIsNone(user["expires_at"])
        self.assertFalse(user["expired"])
        self.assertEqual(user["repositories"], [{"repository": "shapes", "permission": "pull"}])
        self.assertRegex(user["created_at"], RFC3339)

        updated = self.berth.admin("user", "update", user["name"], "--repository", "plain=push_pull")
        self.assertNotIn("secret", updated)
        self.assertIn({"repository": "plain", "permission": "push_pull"}, updated["repositories"])
        names = [u["name"] for u in self.berth.admin("user", "list")]
        self.assertIn(user["name"], names)

    def test_admin_refuses_a_missing_repository(self):
        proc = self.berth.admin_run("user", "create", "--repository", "nosuchrepo=pull")
        self.assertNotEqual(proc.returncode, 0, proc.stdout)

    def test_sigterm_exits_cleanly_and_data_survives_a_restart(self):
        node = Berth("restart")
        self.addCleanup(node.stop)
        node.start()
        node.create_repository("keep")
        user = node.create_user("keeper", {"keep": "push_pull"})
        creds = (user["name"], user["secret"])
        manifest, r = Http(node.host, creds).push_image("keep/app", "v1", [random_layer(40_000)])
        self.assertEqual(r.status, 201, r)

        self.assertEqual(node.stop(), 0, "exit code after SIGTERM")
        node.start()
        got = Http(node.host, creds).get_manifest("keep/app", "v1")
        self.assertEqual(got.status, 200, got)
        self.assertEqual(got.body, manifest)

    def test_gc_while_serving_keeps_what_tags_reference(self):
        self.berth.create_repository("gcrepo")
        user = self.berth.create_user("gc", {"gcrepo": "push_pull"})
        http = Http(self.berth.host, (user["name"], user["secret"]))
        layers = [random_layer(30_000), random_layer(20_000)]
        manifest, r = http.push_image("gcrepo/app", "v1", layers)
        self.assertEqual(r.status, 201, r)
        http.push_blob("gcrepo/app", random_layer(10_000))  # referenced by nothing

        report = self.berth.gc()
        got = http.get_manifest("gcrepo/app", "v1")
        self.assertEqual(got.status, 200, (got, report))
        self.assertEqual(got.body, manifest)
        for layer in layers:
            blob = http.get_blob("gcrepo/app", sha256_digest(layer))
            self.assertEqual(blob.status, 200, (blob, report))
            self.assertEqual(blob.body, layer)


class AdminAndApiAgree(BerthCase):
    """What `berth admin` creates, the management API lists, and the other way round, with the
    same objects (the CLI prints the API's JSON)."""

    def api(self, method: str, path: str, body=None):
        headers = {"Authorization": Http(self.berth.host)._basic(("admin", self.berth.admin_password))}
        data = b""
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        r = Http(self.berth.host).send(method, path, data, headers)
        return r.status, (r.json() if r.body else None)

    def test_cli_and_api_see_the_same_repositories_and_users(self):
        cli_repo = self.berth.create_repository("from-cli", access="public", quota="1GiB")
        status, listed = self.api("GET", "/api/v1/repositories?size=100")
        self.assertEqual(status, 200)
        self.assertIn(cli_repo, listed["items"])

        status, api_repo = self.api("POST", "/api/v1/repositories",
                                    {"name": "from-api", "access_level": "private", "quota_bytes": 1000})
        self.assertEqual(status, 201, api_repo)
        self.assertIn(api_repo, self.berth.admin("repository", "list"))

        cli_user = self.berth.admin("user", "create", "--name", "cli-made", "--repository", "from-api=pull",
                                    "--expires", "2099-12-31")
        status, api_view = self.api("GET", "/api/v1/repository-users/" + cli_user["name"])
        self.assertEqual(status, 200)
        del cli_user["secret"]
        self.assertEqual(api_view, cli_user)

        status, api_user = self.api("POST", "/api/v1/repository-users", {
            "name": "api-made", "repositories": [{"repository": "from-cli", "permission": "push_pull"}]})
        self.assertEqual(status, 201, api_user)
        del api_user["secret"]
        self.assertIn(api_user, self.berth.admin("user", "list"))
        # The secret the API showed works on the registry, like one the CLI showed.
        status, refreshed = self.api("POST", f"/api/v1/repository-users/{api_user['name']}/secret")
        r = Http(self.berth.host, creds=(api_user["name"], refreshed["secret"])).send(
            "GET", "/v2/", headers={"Authorization": Http(self.berth.host)._basic(
                (api_user["name"], refreshed["secret"]))})
        self.assertEqual(r.status, 200, r)
