"""The CLI cannot mislead: an admin command run against a directory with no store says so
(instead of creating an empty one and reporting that it holds nothing), a second `serve` on a
data directory in use refuses and names the first, and a misspelt `BERTH_*` variable is named
with the one it most likely meant.
"""

import shutil
import subprocess
import threading

from harness import (
    BERTH_BIN,
    Berth,
    BerthCase,
    Clients,
    Http,
    eventually,
    free_port,
    random_layer,
    read_oci_layout,
    temp_dir,
    write_oci_layout,
)


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


class BackupWhileServing(BerthCase):
    """`berth admin backup FILE` while the server runs and takes pushes; the backup and a copy
    of the blobs made after it restore into a fresh data directory that serves the images."""

    def test_backup_restore_and_pull_back(self):
        b = self.berth
        b.create_repository("bak")
        user = b.create_user("bak-ci", {"bak": "push_pull"})
        creds = (user["name"], user["secret"])
        layout = write_oci_layout(temp_dir("bak-src"), "v1")
        self.clients.copy_in(layout.ref, "bak/app:v1", creds)

        # Pushes go on while the backup is taken.
        stop = threading.Event()
        pushed = []

        def push_more():
            http = Http(b.host, creds)
            while not stop.is_set():
                tag = f"t{len(pushed)}"
                _, r = http.push_image("bak/busy", tag, [random_layer(20_000)])
                if r.status == 201:
                    pushed.append(tag)

        pusher = threading.Thread(target=push_more)
        pusher.start()
        try:
            eventually(lambda: len(pushed) >= 2, timeout=30)
            backup = temp_dir("bak-out") / "berth-backup.db"
            taken = b.admin("backup", str(backup))
            eventually(lambda: len(pushed) >= 4, timeout=30)
        finally:
            stop.set()
            pusher.join(60)
        self.assertEqual(taken["backup"], str(backup))
        self.assertGreater(taken["bytes"], 0)
        self.assertGreaterEqual(len(pushed), 4, "pushes went on during and after the backup")
        again = b.admin_run("backup", str(backup))
        self.assertNotEqual(again.returncode, 0)
        self.assertIn("exists already", again.stderr)

        # The restore: the backup as berth.db, and the blobs copied after it.
        restored = Berth("restored", auth_mode=self.auth_mode, env={"BERTH_TOKEN_KEY": b.env["BERTH_TOKEN_KEY"]})
        self.addCleanup(restored.stop)
        restored.data_dir.mkdir(mode=0o700)
        shutil.copy(backup, restored.data_dir / "berth.db")
        shutil.copytree(b.data_dir / "blobs", restored.data_dir / "blobs")
        restored.start()

        out = temp_dir("bak-pull")
        Clients(restored.host).copy_out("bak/app:v1", f"oci:{out}:v1", creds)
        manifest, blobs = read_oci_layout(out, "v1")
        self.assertEqual(manifest, layout.manifest, "the same image, byte for byte")
        self.assertEqual(sorted(blobs.values()), sorted([layout.config, *layout.layers]))
        # Whatever the backup holds of the concurrent pushes pulls whole.
        http = Http(restored.host, creds)
        tags = http.tags("bak/busy").json()["tags"]
        self.assertTrue(tags, "the backup holds the pushes made before it")
        self.assertTrue(set(tags) <= set(pushed), tags)
        for tag in tags:
            r = http.get_manifest("bak/busy", tag)
            self.assertEqual(r.status, 200, r)
            for d in [r.json()["config"], *r.json()["layers"]]:
                self.assertEqual(http.get_blob("bak/busy", d["digest"]).status, 200, d)

    def test_postgres_is_refused_naming_pg_dump(self):
        env = dict(self.berth.env, BERTH_POSTGRES_URL="postgres://berth@127.0.0.1:1/berth")
        r = berth("admin", "backup", str(temp_dir("bak-pg") / "x.db"), env=env)
        self.assertNotEqual(r.returncode, 0, r)
        self.assertIn("pg_dump", r.stderr)
