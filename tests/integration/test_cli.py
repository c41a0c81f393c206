"""The CLI cannot mislead: an admin command run against a directory with no store says so
(instead of creating an empty one and reporting that it holds nothing), a second `serve` on a
data directory in use refuses and names the first, and a misspelt `BERTH_*` variable is named
with the one it most likely meant.
"""

import subprocess

from harness import BERTH_BIN, BerthCase, Http, free_port, temp_dir


def berth(*args: str, env: dict, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BERTH_BIN), *args],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


class CliTraps(BerthCase):
    def test_admin_refuses_a_directory_without_a_store(self):
        empty = temp_dir("no-store")
        env = {k: v for k, v in self.berth.env.items() if k != "BERTH_DATA_DIR"}
        r = berth("admin", "repository", "list", "--data-dir", str(empty), env=env)
        self.assertNotEqual(r.returncode, 0, r)
        self.assertIn(f"no berth store in {empty}", r.stderr)
        self.assertIn("--data-dir", r.stderr)
        self.assertEqual(list(empty.iterdir()), [], "nothing was created there")
        # The server's own directory is a store.
        self.assertEqual(self.berth.admin_run("repository", "list").returncode, 0)

    def test_a_second_serve_on_the_same_directory_refuses(self):
        r = berth(
            "serve", "--data-dir", str(self.berth.data_dir), "--listen", f"127.0.0.1:{free_port()}",
            env=self.berth.env, timeout=30,
        )
        self.assertNotEqual(r.returncode, 0, r)
        self.assertIn(f"another berth serve (pid {self.berth.proc.pid}) is using", r.stderr)
        # The first still serves.
        self.assertEqual(self.berth.admin_run("repository", "list").returncode, 0)

    def test_a_misspelt_variable_is_named(self):
        env = dict(self.berth.env, BERTH_S3_BUCKT="typo")
        r = berth("admin", "repository", "list", env=env)
        self.assertEqual(r.returncode, 0, r)
        self.assertIn("unknown variable BERTH_S3_BUCKT, ignored: did you mean BERTH_S3_BUCKET?", r.stderr)


class CliManagesWhatTheConsoleManages(BerthCase):
    def test_repositories_and_users_are_updated_listed_and_deleted(self):
        b = self.berth
        b.create_repository("cli-repo")
        b.create_repository("cli-other")
        updated = b.admin("repository", "update", "cli-repo", "--access", "public", "--quota", "5MiB")
        self.assertEqual((updated["access_level"], updated["quota_bytes"]), ("public", 5 * 1024 * 1024))
        unlimited = b.admin("repository", "update", "cli-repo", "--quota", "none")
        self.assertIsNone(unlimited["quota_bytes"])
        nothing = b.admin_run("repository", "update", "cli-repo")
        self.assertNotEqual(nothing.returncode, 0)
        self.assertIn("nothing to change", nothing.stderr)

        b.create_user("cli-a", {"cli-repo": "pull"})
        b.create_user("cli-b", {"cli-other": "push_pull"})
        names = [u["name"] for u in b.admin("user", "list", "--repository", "cli-repo")]
        self.assertEqual(names, ["10000-cli-a"])
        deleted = b.admin("user", "delete", "cli-a")
        self.assertEqual(deleted, {"deleted": "10000-cli-a"})
        self.assertEqual(b.admin("user", "list", "--repository", "cli-repo"), [])
        self.assertNotEqual(b.admin_run("user", "delete", "cli-a").returncode, 0, "gone already")

        self.assertEqual(b.admin("repository", "delete", "cli-repo"), {"deleted": "cli-repo"})
        listed = [r["name"] for r in b.admin("repository", "list")]
        self.assertNotIn("cli-repo", listed)
        self.assertIn("cli-other", listed)

    def test_api_tokens_are_created_listed_and_revoked(self):
        b = self.berth
        created = b.admin("api-token", "create", "--user", "admin", "--description", "cli-test")
        token, token_id = created["token"], created["id"]
        self.assertTrue(token.startswith("berth_"), created)
        api = Http(b.host)
        auth = {"Authorization": f"Bearer {token}"}
        r = api.send("GET", "/api/v1/api-tokens", headers=auth)
        self.assertEqual(r.status, 200, r)
        self.assertEqual([t["id"] for t in r.json()["items"]], [token_id], "the token acts as admin")
        listed = b.admin("api-token", "list", "--user", "admin")
        self.assertEqual([(t["id"], t["description"]) for t in listed], [(token_id, "cli-test")])
        self.assertNotIn("token", listed[0], "a list never shows the token")
        self.assertNotEqual(b.admin_run("api-token", "list", "--user", "nobody").returncode, 0)
        self.assertEqual(b.admin("api-token", "revoke", token_id, "--user", "admin"),
                         {"deleted": token_id, "user": "admin"})
        self.assertEqual(api.send("GET", "/api/v1/api-tokens", headers=auth).status, 401)
        self.assertEqual(b.admin("api-token", "list", "--user", "admin"), [])
        gone = b.admin_run("api-token", "delete", token_id, "--user", "admin")
        self.assertNotEqual(gone.returncode, 0)
        self.assertIn(f"API token {token_id} does not exist", gone.stderr)
