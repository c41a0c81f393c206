"""Who may do what, through the real binary: pull-only users, expiry and renewal, anonymous
pulls of public and private repositories, users confined to their repositories, and secret
rotation; in token mode and in basic mode. Raw HTTP shows the status and OCI code, skopeo shows
that a real client is refused too.
"""

from harness import (
    OCI_MANIFEST,
    BerthCase,
    Http,
    eventually,
    random_layer,
    random_token,
    sha256_digest,
    temp_dir,
    write_oci_layout,
)


class AccessChecks:
    @classmethod
    def setUpServer(cls):
        cls.berth.create_repository("alpha", access="private")
        cls.berth.create_repository("beta", access="private")
        cls.berth.create_repository("pub", access="public")
        cls.pusher = cls.new_user({"alpha": "push_pull", "pub": "push_pull"}, prefix="pusher")
        http = Http(cls.berth.host, cls.pusher)
        cls.alpha_manifest = cls.seed(http, "alpha/app")
        cls.pub_manifest = cls.seed(http, "pub/app")

    @staticmethod
    def seed(http, name: str) -> bytes:
        manifest, r = http.push_image(name, "1", [random_layer(50_000)])
        if r.status != 201:
            raise AssertionError(f"seeding {name}: {r!r}")
        return manifest

    def assert_pulls(self, creds, name="alpha/app", manifest=None):
        r = self.http(creds).get_manifest(name, "1")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, manifest or self.alpha_manifest)

    def assert_refused(self, r, status: int, code: str):
        self.assertEqual(r.status, status, r)
        self.assertIn(code, r.error_codes(), r)

    def assert_not_pulled(self, creds, name="alpha/app"):
        r = self.http(creds).get_manifest(name, "1")
        self.assertIn(r.status, (401, 403), r)

    def test_pull_user_cannot_push(self):
        puller = self.new_user({"alpha": "pull"}, prefix="puller")
        self.assert_pulls(puller)
        inspected = self.clients.inspect_raw("alpha/app:1", puller).stdout_bytes
        self.assertEqual(inspected, self.alpha_manifest)

        layout = write_oci_layout(temp_dir("src"), "2", [random_layer(40_000)])
        pushed = self.clients.copy_in(layout.ref, "alpha/app:2", puller, ok=False)
        self.assertNotEqual(pushed.returncode, 0, "skopeo push with a pull-only user")

        http = self.http(puller)
        self.assert_refused(http.start_upload("alpha/app"), 403, "DENIED")
        self.assert_refused(
            http.put_manifest("alpha/app", "3", self.alpha_manifest, OCI_MANIFEST),
            403, "DENIED",
        )
        tags = self.http(self.pusher).tags("alpha/app")
        self.assertEqual(tags.status, 200, tags)
        self.assertEqual(tags.json()["tags"], ["1"])

    def test_expired_user_is_locked_until_renewed(self):
        user = self.berth.create_user(f"old{random_token(3)}", {"alpha": "pull"},
                                      expires="2000-01-01")
        self.assertTrue(user["expired"], user)
        self.assertTrue(str(user["expires_at"]).startswith("2000-01-01"), user)
        creds = (user["name"], user["secret"])
        self.assert_not_pulled(creds)
        refused = self.clients.inspect_raw("alpha/app:1", creds, ok=False)
        self.assertNotEqual(refused.returncode, 0, "skopeo pull by an expired user")

        renewed = self.berth.admin("user", "update", user["name"], "--expires", "2999-12-31")
        self.assertFalse(renewed["expired"], renewed)
        self.assertTrue(str(renewed["expires_at"]).startswith("2999-12-31"), renewed)
        ok = eventually(lambda: self.http(creds).get_manifest("alpha/app", "1").status == 200, 3)
        self.assertTrue(ok, "the renewed user still cannot pull after 3 s")
        self.assert_pulls(creds)
        self.assertEqual(self.clients.inspect_raw("alpha/app:1", creds).stdout_bytes,
                         self.alpha_manifest)

    def test_anonymous_pulls_public_only(self):
        self.assert_pulls(None, "pub/app", self.pub_manifest)
        self.assertEqual(self.clients.inspect_raw("pub/app:1", None).stdout_bytes,
                         self.pub_manifest)
        by_digest = self.http().get_manifest("pub/app", sha256_digest(self.pub_manifest))
        self.assertEqual(by_digest.status, 200, by_digest)

        self.assert_refused(self.http().get_manifest("alpha/app", "1"), 401, "UNAUTHORIZED")
        refused = self.clients.inspect_raw("alpha/app:1", None, ok=False)
        self.assertNotEqual(refused.returncode, 0, "anonymous skopeo pull of a private image")
        self.assert_refused(self.http().start_upload("pub/app"), 401, "UNAUTHORIZED")

    def test_user_of_one_repository_cannot_reach_another(self):
        beta_user = self.new_user({"beta": "push_pull"}, prefix="beta")
        manifest, r = self.http(beta_user).push_image("beta/app", "1", [random_layer(30_000)])
        self.assertEqual(r.status, 201, r)

        http = self.http(beta_user)
        self.assert_refused(http.get_manifest("alpha/app", "1"), 403, "DENIED")
        self.assert_refused(http.start_upload("alpha/app"), 403, "DENIED")
        self.assertNotEqual(self.clients.inspect_raw("alpha/app:1", beta_user, ok=False).returncode, 0)
        layout = write_oci_layout(temp_dir("src"), "x", [random_layer(30_000)])
        pushed = self.clients.copy_in(layout.ref, "alpha/app:x", beta_user, ok=False)
        self.assertNotEqual(pushed.returncode, 0, "skopeo push into another repository")
        # And the other way round: alpha's pusher does not see beta.
        self.assert_refused(self.http(self.pusher).get_manifest("beta/app", "1"), 403, "DENIED")

    def test_permissions_replaced_by_update(self):
        name, secret = self.new_user({"alpha": "push_pull"}, prefix="down")
        http = self.http((name, secret))
        self.assertEqual(http.start_upload("alpha/app").status, 202)
        updated = self.berth.admin("user", "update", name, "--repository", "alpha=pull",
                                   "--repository", "beta=push_pull")
        self.assertEqual(
            sorted((p["repository"], p["permission"]) for p in updated["repositories"]),
            [("alpha", "pull"), ("beta", "push_pull")],
        )
        ok = eventually(lambda: http.start_upload("alpha/app").status == 403, 3)
        self.assertTrue(ok, "push still allowed 3 s after the downgrade to pull")
        self.assert_refused(http.start_upload("alpha/app"), 403, "DENIED")
        self.assert_pulls((name, secret))
        self.assertEqual(http.start_upload("beta/app").status, 202)

    def test_refreshed_secret_replaces_the_old_one_at_once(self):
        """Right after `refresh-secret` in another process (no wait): the new secret works at
        once. In token mode the token endpoint refuses the old one at once too (it reads the
        current record); in basic mode a request with the old secret may still pass for up to
        the record cache's second (the staleness DESIGN allows between nodes), then never."""
        name, old = self.new_user({"alpha": "pull"}, prefix="rot")
        self.assert_pulls((name, old))
        new = self.berth.admin("user", "refresh-secret", name)["secret"]
        self.assertNotEqual(new, old)

        self.assert_pulls((name, new))
        if self.auth_mode == "token":
            r = self.http((name, old)).get_manifest("alpha/app", "1")
            self.assertEqual(r.status, 401, r)
            self.assertIsNotNone(r.token_response, "the token endpoint must refuse the old secret")
            self.assertEqual(r.token_response.status, 401, r.token_response)
        else:
            refused = eventually(
                lambda: self.http((name, old)).get_manifest("alpha/app", "1").status == 401, 2.0)
            self.assertTrue(refused, "the old secret still works 2 s after refresh-secret")
        self.assertEqual(self.clients.inspect_raw("alpha/app:1", (name, new)).stdout_bytes,
                         self.alpha_manifest)
        self.assertNotEqual(self.clients.inspect_raw("alpha/app:1", (name, old), ok=False).returncode, 0)


class AccessTokenMode(AccessChecks, BerthCase):
    auth_mode = "token"

    def test_token_endpoint_grants_only_what_the_user_may_do(self):
        """The Docker token flow itself: a pull user asking for pull,push gets a token, and that
        token lets it pull but not push; bad credentials get no token at all."""
        puller = self.new_user({"alpha": "pull"}, prefix="tok")
        http = self.http(puller)
        _, challenge = http.challenge()
        t = http.token(challenge, "repository:alpha/app:pull,push")
        self.assertEqual(t.status, 200, t)
        body = t.json()
        self.assertTrue(body.get("token") or body.get("access_token"), body)
        self.assertIn("expires_in", body)
        bearer = Http(self.berth.host, bearer=body.get("token") or body["access_token"])
        self.assertEqual(bearer.get_manifest("alpha/app", "1").status, 200)
        self.assert_refused(bearer.start_upload("alpha/app"), 403, "DENIED")

        bad = http.token(challenge, "repository:alpha/app:pull", creds=(puller[0], "wrong"))
        self.assertEqual(bad.status, 401, bad)


class AccessBasicMode(AccessChecks, BerthCase):
    auth_mode = "basic"
