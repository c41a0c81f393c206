"""The README's quick start, run as written, so it cannot rot.

The blocks marked `<!-- quickstart -->` in README.md (the line before a fence) are run in order
in one bash (`set -euo pipefail` first) against a `berth serve` this test started, offline:
the image is made by `buildah from scratch`. What the test provides, and nothing else:

- the working directory a reader would have: `target/release/berth` there is the debug binary
  under test (a symlink), and the server's data directory is its `./berth-data`;
- one substitution: the README's own variable `registry=127.0.0.1:5000` gets the server's free
  port (no other `5000` may appear in the blocks);
- a `docker` on PATH that runs podman (no Docker daemon here; podman is CLI-compatible for
  build, login, tag and push), with a registries.conf that lets plain HTTP to the registry's
  loopback address, as dockerd does for 127.0.0.0/8 by default;
- private client state (storage, auth file, HOME) and, on standard input, the password the
  last block reads.
"""

import base64
import gzip
import io
import os
import re
import subprocess
import tarfile
import unittest

from harness import BERTH_BIN, REPO_ROOT, Berth, Clients, Http, read_oci_layout, temp_dir

MARK = "<!-- quickstart -->"
REGISTRY_LINE = "registry=127.0.0.1:5000"


def quickstart_blocks(text: str) -> list:
    """The fenced blocks right after a MARK line, in order."""
    blocks = []
    for m in re.finditer(re.escape(MARK) + r"\n```bash\n(.*?)\n```\n", text, re.S):
        blocks.append(m.group(1))
    return blocks


class ReadmeQuickStart(unittest.TestCase):
    def test_the_quick_start_runs_as_written(self):
        readme = (REPO_ROOT / "README.md").read_text()
        blocks = quickstart_blocks(readme)
        self.assertGreaterEqual(len(blocks), 5, "the marked quick-start blocks")
        self.assertEqual(readme.count(MARK), len(blocks), "every mark is followed by a bash fence")
        self.assertEqual(readme.count("```bash\n"), len(blocks), "every bash block is marked (the README says so)")
        script = "\n".join(blocks)
        self.assertEqual(script.count(REGISTRY_LINE), 1, "the README defines the address once")

        work = temp_dir("readme")
        (work / "target" / "release").mkdir(parents=True)
        (work / "target" / "release" / "berth").symlink_to(BERTH_BIN)
        server = Berth("readme")
        server.data_dir = work / "berth-data"
        server.env["BERTH_DATA_DIR"] = str(server.data_dir)
        self.addCleanup(server.stop)
        server.start()
        script = script.replace(REGISTRY_LINE, f"registry={server.host}")
        self.assertNotIn("5000", script, "nothing else is substituted")

        clients = temp_dir("readme-clients")
        shims = clients / "bin"
        shims.mkdir()
        docker = shims / "docker"
        docker.write_text('#!/bin/sh\n# No Docker daemon here: podman takes the same arguments.\nexec podman "$@"\n')
        docker.chmod(0o755)
        (clients / "registries.conf").write_text(
            f'unqualified-search-registries = []\n\n[[registry]]\nlocation = "{server.host}"\ninsecure = true\n'
        )
        (clients / "storage.conf").write_text(
            f'[storage]\ndriver = "vfs"\ngraphroot = "{clients}/storage"\nrunroot = "{clients}/run"\n'
        )
        (clients / "containers.conf").write_text('[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "none"\n')
        (clients / "auth.json").write_text("{}")
        env = {
            k: v for k, v in os.environ.items()
            if not k.startswith(("BERTH_", "REGISTRY_", "CONTAINERS_", "DOCKER_"))
        }
        env.update(
            {
                "PATH": f"{shims}:{env.get('PATH', '/usr/bin:/bin')}",
                "HOME": str(clients),
                "XDG_CONFIG_HOME": str(clients / "config"),
                "XDG_RUNTIME_DIR": str(clients / "xdg-run"),
                "TMPDIR": str(clients),
                "CONTAINERS_REGISTRIES_CONF": str(clients / "registries.conf"),
                "CONTAINERS_STORAGE_CONF": str(clients / "storage.conf"),
                "CONTAINERS_CONF": str(clients / "containers.conf"),
                "REGISTRY_AUTH_FILE": str(clients / "auth.json"),
                "BUILDAH_ISOLATION": "chroot",
            }
        )
        (clients / "xdg-run").mkdir(mode=0o700)
        password = "readme-password-" + os.urandom(6).hex()
        run = subprocess.run(
            ["bash", "-c", "set -euo pipefail\n" + script],
            cwd=work, env=env, input=password + "\n", capture_output=True, text=True, timeout=900,
        )
        self.assertEqual(run.returncode, 0, f"the quick start failed\nstdout:\n{run.stdout}\nstderr:\n{run.stderr}")

        # What a reader would now see: both pushes, holding the file, and the new password.
        users = server.admin("user", "list")
        self.assertEqual([u["name"] for u in users], ["10000-ci"])
        secret = re.search(r"its secret (\S+) \(shown once", run.stdout).group(1)
        creds = ("10000-ci", secret)
        pull = Clients(server.host)
        for tag in ("latest", "docker"):
            out = temp_dir("readme-pull")
            pull.copy_out(f"team-a/hello:{tag}", f"oci:{out}:{tag}", creds)
            _, blobs = read_oci_layout(out, tag)
            files = {}
            for data in blobs.values():
                try:
                    raw = gzip.decompress(data)
                except OSError:
                    raw = data
                try:
                    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
                        for member in tar.getmembers():
                            if member.isfile():
                                files[member.name.lstrip("./")] = tar.extractfile(member).read()
                except tarfile.TarError:
                    pass  # the config
            self.assertEqual(files.get("hello.txt"), b"hello from berth\n", (tag, sorted(files)))
        self.assertEqual(Http(server.host).send("GET", "/").status, 200, "the console's page")
        def api_as_admin(pw):
            auth = "Basic " + base64.b64encode(f"admin:{pw}".encode()).decode()
            return Http(server.host).send("GET", "/api/v1/repositories", headers={"Authorization": auth})

        self.assertEqual(api_as_admin(password).status, 200, "the new password logs in")
        self.assertEqual(api_as_admin(server.admin_password).status, 401, "the old one is gone")
