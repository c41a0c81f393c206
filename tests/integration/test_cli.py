"""The CLI cannot mislead: an admin command run against a directory with no store says so
(instead of creating an empty one and reporting that it holds nothing), a second `serve` on a
data directory in use refuses and names the first, and a misspelt `BERTH_*` variable is named
with the one it most likely meant.
"""

import subprocess

from harness import BERTH_BIN, BerthCase, free_port, temp_dir


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
