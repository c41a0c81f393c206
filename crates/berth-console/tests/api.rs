//! The management API through its public surface (`http::Request` in, `http::Response` out) over
//! a registry on in-memory backends. Every answer is checked against the OpenAPI document; the
//! tour test exercises every documented operation and fails if one was missed.

mod support;

use std::collections::BTreeSet;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use berth_model::{Name, Reference};
use berth_policy::Principal;
use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt as _, Full};
use serde_json::{Value, json};
use support::world::*;

#[tokio::test]
async fn sessions_log_in_with_a_cookie_and_log_out() {
    let w = world().await;
    let login = json!({"username": "alice", "password": "password-of-a-person"});
    let a = w
        .call(&Auth::None, Method::POST, "/api/v1/session", Some(login))
        .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.body["role"], "console");
    assert_eq!(a.body["account"], ACCOUNT.0);
    let set_cookie = a.headers["set-cookie"].to_str().unwrap();
    assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Strict"));
    let cookie = Auth::Cookie(set_cookie.split(';').next().unwrap().to_owned());
    let me = w.call(&cookie, Method::GET, "/api/v1/session", None).await;
    assert_eq!(me.body["username"], "alice");
    // A write with the cookie from another origin is refused; from this one it passes.
    let body = json!({"name": "from-cookie"});
    let foreign = w
        .call_with(
            &cookie,
            Method::POST,
            "/api/v1/repositories",
            Some(body.clone()),
            &[("origin", "https://evil.example")],
        )
        .await;
    assert_eq!(foreign.status, StatusCode::FORBIDDEN);
    let same = w
        .call_with(
            &cookie,
            Method::POST,
            "/api/v1/repositories",
            Some(body),
            &[("origin", "http://console.test")],
        )
        .await;
    assert_eq!(same.status, StatusCode::CREATED);
    let out = w
        .call(&cookie, Method::DELETE, "/api/v1/session", None)
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    assert!(
        out.headers["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    // Logging out ended the session on the server: a copy of the cookie is refused at once.
    let after = w.call(&cookie, Method::GET, "/api/v1/session", None).await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);

    let wrong = json!({"username": "alice", "password": "nope"});
    let a = w
        .call(&Auth::None, Method::POST, "/api/v1/session", Some(wrong))
        .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(a.code(), "UNAUTHORIZED");
    let forged = Auth::Cookie("berth_session=eyJ1IjoiYWRtaW4ifQ.AAAA".into());
    let a = w.call(&forged, Method::GET, "/api/v1/session", None).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    let a = w
        .call(&Auth::None, Method::GET, "/api/v1/repositories", None)
        .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn repositories_are_created_listed_changed_and_deleted() {
    let w = world().await;
    let a = w
        .create_repository(&alice(), "team-a", Some(10 << 30))
        .await;
    assert_eq!(a.status, StatusCode::CREATED);
    assert_eq!(a.body["quota_bytes"], 10u64 << 30);
    assert_eq!(a.body["used_bytes"], 0);
    let dup = w.create_repository(&alice(), "team-a", None).await;
    assert_eq!(dup.status, StatusCode::CONFLICT);
    let bad = w.create_repository(&alice(), "Team A", None).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.message().contains("Team A"), "{}", bad.message());
    for name in ["team-b", "team-c"] {
        w.create_repository(&alice(), name, None).await;
    }
    let page = w
        .call(
            &alice(),
            Method::GET,
            "/api/v1/repositories?page=2&size=2",
            None,
        )
        .await;
    assert_eq!(page.body["total"], 3);
    assert_eq!(page.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(page.body["items"][0]["name"], "team-c");

    let patch = json!({"access_level": "public", "quota_bytes": null});
    let a = w
        .call(
            &alice(),
            Method::PATCH,
            "/api/v1/repositories/team-a",
            Some(patch),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.body["access_level"], "public");
    assert_eq!(a.body["quota_bytes"], Value::Null);
    let a = w
        .call(
            &alice(),
            Method::PATCH,
            "/api/v1/repositories/team-a",
            Some(json!({"quota": 1})),
        )
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);

    w.push("team-a/app", "v1", "one").await;
    let a = w
        .call(&alice(), Method::GET, "/api/v1/repositories/team-a", None)
        .await;
    assert_eq!(a.body["image_count"], 1);
    assert!(a.body["used_bytes"].as_u64().unwrap() > 0);
    let a = w
        .call(
            &alice(),
            Method::DELETE,
            "/api/v1/repositories/team-a",
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::CONFLICT);
    let a = w
        .call(
            &alice(),
            Method::DELETE,
            "/api/v1/repositories/team-b",
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    let a = w
        .call(&alice(), Method::GET, "/api/v1/repositories/team-b", None)
        .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn images_and_artifacts_show_pulls_tags_and_commands() {
    let w = world().await;
    w.create_repository(&alice(), "team-a", None).await;
    let digest = w.push("team-a/backend/api", "v1", "api").await;
    w.push("team-a/backend/api", "v2", "api2").await;
    w.push("team-a/frontend", "latest", "web").await;
    let images = w
        .call(
            &alice(),
            Method::GET,
            "/api/v1/repositories/team-a/images",
            None,
        )
        .await;
    assert_eq!(images.body["total"], 2);
    assert_eq!(images.body["items"][0]["name"], "backend/api");
    assert_eq!(images.body["items"][0]["artifact_count"], 2);
    assert_eq!(images.body["items"][0]["pull_count"], 0);
    let found = w
        .call(
            &alice(),
            Method::GET,
            "/api/v1/repositories/team-a/images?name=FRONT",
            None,
        )
        .await;
    assert_eq!(found.body["total"], 1);
    assert_eq!(found.body["items"][0]["name"], "frontend");

    let name = Name::parse("team-a/backend/api").unwrap();
    w.registry
        .get_manifest(
            &Principal::SystemAdmin,
            &name,
            &Reference::parse("v1").unwrap(),
        )
        .await
        .unwrap();
    w.registry.flush_pulls().await.unwrap();
    let uri = "/api/v1/repositories/team-a/artifacts?image=backend/api";
    let artifacts = w.call(&alice(), Method::GET, uri, None).await;
    assert_eq!(artifacts.body["total"], 2);
    let v1 = artifacts.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["digest"] == digest.to_string())
        .unwrap()
        .clone();
    assert_eq!(v1["tags"], json!(["v1"]));
    assert_eq!(v1["pull_count"], 1);
    assert!(v1["pull_time"].is_string());
    assert_eq!(
        v1["pull_commands"][0]["command"],
        format!("docker pull registry.example.com/team-a/backend/api@{digest}")
    );
    assert_eq!(
        v1["pull_commands"][1]["command"],
        "docker pull registry.example.com/team-a/backend/api:v1"
    );
    let images = w
        .call(
            &alice(),
            Method::GET,
            "/api/v1/repositories/team-a/images?name=api",
            None,
        )
        .await;
    assert_eq!(images.body["items"][0]["pull_count"], 1);
    assert!(images.body["items"][0]["last_modified_at"].is_string());

    let commands = w
        .call(
            &alice(),
            Method::GET,
            "/api/v1/repositories/team-a/push-commands?image=web&user=10000-ci",
            None,
        )
        .await;
    let c = &commands.body;
    assert_eq!(
        c["push"],
        "docker push registry.example.com/team-a/web[:TAG]"
    );
    assert_eq!(
        c["pull"],
        "docker pull registry.example.com/team-a/web[:TAG]"
    );
    // The secret comes from standard input, never the command line.
    assert_eq!(
        c["login"],
        "echo \"$REGISTRY_SECRET\" | docker login registry.example.com --username 10000-ci --password-stdin"
    );
    // The console is configured without TLS: plain HTTP, so podman needs its flag and docker
    // its daemon setting.
    assert_eq!(c["plain_http"], true);
    assert!(
        c["docker_note"]
            .as_str()
            .unwrap()
            .contains("insecure-registries")
    );
    assert_eq!(
        c["podman"]["login"],
        "echo \"$REGISTRY_SECRET\" | podman login --tls-verify=false registry.example.com --username 10000-ci --password-stdin"
    );
    assert_eq!(
        c["podman"]["push"],
        "podman push --tls-verify=false registry.example.com/team-a/web[:TAG]"
    );
    assert_eq!(
        v1["pull_commands"][1]["podman"],
        "podman pull --tls-verify=false registry.example.com/team-a/backend/api:v1"
    );
    // A name that is not one shell word is not filled in.
    let odd = w
        .call(
            &alice(),
            Method::GET,
            "/api/v1/repositories/team-a/push-commands?user=a;rm%20-rf",
            None,
        )
        .await;
    assert!(
        odd.body["login"]
            .as_str()
            .unwrap()
            .contains("--username REPOSITORY_USER --password-stdin")
    );

    let a = w
        .call(
            &alice(),
            Method::DELETE,
            "/api/v1/repositories/team-a/tags/v2?image=backend/api",
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    let a = w
        .call(
            &alice(),
            Method::DELETE,
            "/api/v1/repositories/team-a/tags/v2?image=backend/api",
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    let uri = format!("/api/v1/repositories/team-a/artifacts/{digest}?image=backend/api");
    let a = w.call(&alice(), Method::DELETE, &uri, None).await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    let a = w
        .call(
            &alice(),
            Method::GET,
            "/api/v1/repositories/team-a/artifacts?image=backend/api",
            None,
        )
        .await;
    assert_eq!(a.body["total"], 1);
    let a = w
        .call(
            &alice(),
            Method::DELETE,
            "/api/v1/repositories/team-a/artifacts/sha256:nope?image=backend/api",
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);

    let history = w
        .call(
            &alice(),
            Method::GET,
            "/api/v1/repositories/team-a/history?size=100",
            None,
        )
        .await;
    let actions: Vec<&str> = history.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(actions.contains(&"delete_artifact"), "{actions:?}");
    assert!(actions.contains(&"delete_tag"), "{actions:?}");
}

#[tokio::test]
async fn repository_users_show_their_secret_once() {
    let w = world().await;
    w.create_repository(&alice(), "team-a", None).await;
    w.create_repository(&alice(), "team-b", None).await;
    let body = json!({
        "name": "ci",
        "description": "the CI robot",
        "expires_at": "2099-01-31",
        "repositories": [{"repository": "team-a", "permission": "push_pull"}],
    });
    let created = w
        .call(
            &alice(),
            Method::POST,
            "/api/v1/repository-users",
            Some(body),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(created.body["name"], format!("{}-ci", ACCOUNT.0));
    let secret = created.body["secret"].as_str().unwrap().to_owned();
    assert_eq!(created.body["expires_at"], "2099-01-31T00:00:00.000Z");
    // The secret logs in to the registry side.
    let principal = w
        .registry
        .identity()
        .login(None, "10042-ci", &secret)
        .await
        .unwrap();
    assert!(matches!(principal, Principal::RepositoryUser(_)));
    let got = w
        .call(
            &alice(),
            Method::GET,
            "/api/v1/repository-users/10042-ci",
            None,
        )
        .await;
    assert!(got.body.get("secret").is_none());
    // The path holds the full name: a bare local name, or no valid name at all, is no user.
    for uri in [
        "/api/v1/repository-users/ci",
        "/api/v1/repository-users/10042-CI",
    ] {
        let a = w.call(&alice(), Method::GET, uri, None).await;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{uri}");
    }
    // A name given with another account's prefix is refused, not prefixed again.
    let body = json!({
        "name": "20000-ci",
        "repositories": [{"repository": "team-a", "permission": "pull"}],
    });
    let foreign = w
        .call(
            &alice(),
            Method::POST,
            "/api/v1/repository-users",
            Some(body),
        )
        .await;
    assert_eq!(foreign.status, StatusCode::BAD_REQUEST);
    assert!(
        foreign.message().contains("another account"),
        "{}",
        foreign.message()
    );
    // Generated names carry the account prefix.
    let body = json!({"repositories": [{"repository": "team-b", "permission": "pull"}]});
    let generated = w
        .call(
            &alice(),
            Method::POST,
            "/api/v1/repository-users",
            Some(body),
        )
        .await;
    assert!(
        generated.body["name"]
            .as_str()
            .unwrap()
            .starts_with("10042-")
    );
    let on_a = w
        .call(
            &alice(),
            Method::GET,
            "/api/v1/repository-users?repository=team-a",
            None,
        )
        .await;
    assert_eq!(on_a.body["total"], 1);
    let all = w
        .call(&alice(), Method::GET, "/api/v1/repository-users", None)
        .await;
    assert_eq!(all.body["total"], 2);

    let lock = json!({"expires_at": "2000-01-01"});
    let a = w
        .call(
            &alice(),
            Method::PATCH,
            "/api/v1/repository-users/10042-ci",
            Some(lock),
        )
        .await;
    assert_eq!(a.body["expired"], true);
    let refused = w.registry.identity().login(None, "10042-ci", &secret).await;
    assert!(refused.is_err());
    let unlock = json!({"expires_at": null, "repositories": [{"repository": "team-b", "permission": "pull"}]});
    let a = w
        .call(
            &alice(),
            Method::PATCH,
            "/api/v1/repository-users/10042-ci",
            Some(unlock),
        )
        .await;
    assert_eq!(a.body["expired"], false);
    assert_eq!(
        a.body["repositories"],
        json!([{"repository": "team-b", "permission": "pull"}])
    );

    let fresh = w
        .call(
            &alice(),
            Method::POST,
            "/api/v1/repository-users/10042-ci/secret",
            None,
        )
        .await;
    let new_secret = fresh.body["secret"].as_str().unwrap();
    assert_ne!(new_secret, secret);
    assert!(
        w.registry
            .identity()
            .login(None, "10042-ci", &secret)
            .await
            .is_err()
    );
    assert!(
        w.registry
            .identity()
            .login(None, "10042-ci", new_secret)
            .await
            .is_ok()
    );

    for (body, why) in [
        (json!({"repositories": []}), "needs at least one"),
        (
            json!({"repositories": [{"repository": "team-a", "permission": "push"}]}),
            "push_pull",
        ),
        (
            json!({"repositories": [{"repository": "nowhere", "permission": "pull"}]}),
            "nowhere",
        ),
        (
            json!({"name": "Bad Name", "repositories": [{"repository": "team-a", "permission": "pull"}]}),
            "lowercase",
        ),
        (
            json!({"expires_at": "soon", "repositories": [{"repository": "team-a", "permission": "pull"}]}),
            "expires_at",
        ),
    ] {
        let a = w
            .call(
                &alice(),
                Method::POST,
                "/api/v1/repository-users",
                Some(body),
            )
            .await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{why}");
        assert!(
            a.message().contains(why),
            "{} should mention {why}",
            a.message()
        );
    }
    let a = w
        .call(
            &alice(),
            Method::DELETE,
            "/api/v1/repository-users/10042-ci",
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    assert!(
        w.registry
            .identity()
            .login(None, "10042-ci", new_secret)
            .await
            .is_err()
    );
    let a = w
        .call(
            &alice(),
            Method::GET,
            "/api/v1/repository-users/10042-ci",
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_console_user_never_sees_another_accounts_data() {
    let w = world().await;
    w.create_repository(&alice(), "team-a", None).await;
    w.push("team-a/app", "v1", "x").await;
    let body =
        json!({"name": "ci", "repositories": [{"repository": "team-a", "permission": "pull"}]});
    w.call(
        &alice(),
        Method::POST,
        "/api/v1/repository-users",
        Some(body),
    )
    .await;
    let m = mallory();
    let list = w.call(&m, Method::GET, "/api/v1/repositories", None).await;
    assert_eq!(list.body["total"], 0);
    for uri in [
        "/api/v1/repositories/team-a",
        "/api/v1/repositories/team-a/images",
        "/api/v1/repositories/team-a/artifacts?image=app",
        "/api/v1/repositories/team-a/history",
        "/api/v1/repositories/team-a/push-commands",
        "/api/v1/repository-users/10042-ci",
    ] {
        let a = w.call(&m, Method::GET, uri, None).await;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{uri}");
    }
    for (method, uri) in [
        (Method::DELETE, "/api/v1/repositories/team-a"),
        (
            Method::DELETE,
            "/api/v1/repositories/team-a/tags/v1?image=app",
        ),
        (Method::POST, "/api/v1/repository-users/10042-ci/secret"),
        (Method::DELETE, "/api/v1/repository-users/10042-ci"),
    ] {
        let a = w.call(&m, method.clone(), uri, None).await;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{method} {uri}");
    }
    let a = w
        .call(
            &m,
            Method::PATCH,
            "/api/v1/repositories/team-a",
            Some(json!({"access_level": "public"})),
        )
        .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    let grab = json!({"repositories": [{"repository": "team-a", "permission": "push_pull"}]});
    let a = w
        .call(&m, Method::POST, "/api/v1/repository-users", Some(grab))
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    let users = w
        .call(&m, Method::GET, "/api/v1/repository-users", None)
        .await;
    assert_eq!(users.body["total"], 0);
    let a = w
        .call(&m, Method::GET, "/api/v1/repositories?account=10042", None)
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    for uri in ["/api/v1/accounts", "/api/v1/console-users"] {
        let a = w.call(&m, Method::GET, uri, None).await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{uri}");
    }
    // Repository users push and pull; they do not manage.
    let body = json!({"name": "bot", "repositories": [{"repository": "team-a", "permission": "push_pull"}]});
    let bot = w
        .call(
            &alice(),
            Method::POST,
            "/api/v1/repository-users",
            Some(body),
        )
        .await;
    let bot = basic("10042-bot", bot.body["secret"].as_str().unwrap());
    let a = w
        .call(&bot, Method::GET, "/api/v1/repositories", None)
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_administrator_manages_accounts_console_users_and_tokens() {
    let w = world().await;
    let a = w
        .call(
            &admin(),
            Method::POST,
            "/api/v1/accounts",
            Some(json!({"id": 30000, "name": "newco"})),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED);
    let a = w
        .call(
            &admin(),
            Method::POST,
            "/api/v1/accounts",
            Some(json!({"id": 30000, "name": "again"})),
        )
        .await;
    assert_eq!(a.status, StatusCode::CONFLICT);
    let accounts = w
        .call(&admin(), Method::GET, "/api/v1/accounts", None)
        .await;
    assert_eq!(accounts.body["total"], 3);
    let user = json!({"username": "bob", "password": "bobs-password", "account": 30000});
    let a = w
        .call(&admin(), Method::POST, "/api/v1/console-users", Some(user))
        .await;
    assert_eq!(a.status, StatusCode::CREATED);
    assert!(a.body.get("password_hash").is_none());
    let short = json!({"username": "eve", "password": "short", "account": 30000});
    let a = w
        .call(&admin(), Method::POST, "/api/v1/console-users", Some(short))
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    let users = w
        .call(
            &admin(),
            Method::GET,
            "/api/v1/console-users?account=30000",
            None,
        )
        .await;
    assert_eq!(users.body["items"][0]["username"], "bob");
    let admins = w
        .call(&admin(), Method::GET, "/api/v1/console-users", None)
        .await;
    assert_eq!(admins.body["items"][0]["username"], "admin");
    // The admin acts on the default account unless it names another.
    let a = w
        .call(
            &admin(),
            Method::POST,
            "/api/v1/repositories?account=30000",
            Some(json!({"name": "newco-main"})),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED);
    let bob = basic("bob", "bobs-password");
    let mine = w
        .call(&bob, Method::GET, "/api/v1/repositories", None)
        .await;
    assert_eq!(mine.body["items"][0]["name"], "newco-main");

    // API tokens: made by any console user, shown once, usable, deletable.
    let made = w
        .call(
            &bob,
            Method::POST,
            "/api/v1/api-tokens",
            Some(json!({"description": "ci"})),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED);
    let token = Auth::Token(made.body["token"].as_str().unwrap().to_owned());
    let mine = w
        .call(&token, Method::GET, "/api/v1/repositories", None)
        .await;
    assert_eq!(mine.body["items"][0]["name"], "newco-main");
    let tokens = w.call(&bob, Method::GET, "/api/v1/api-tokens", None).await;
    assert_eq!(tokens.body["total"], 1);
    assert!(tokens.body["items"][0].get("token").is_none());
    let id = tokens.body["items"][0]["id"].as_str().unwrap().to_owned();
    let a = w
        .call(
            &alice(),
            Method::DELETE,
            &format!("/api/v1/api-tokens/{id}"),
            None,
        )
        .await;
    assert_eq!(
        a.status,
        StatusCode::NOT_FOUND,
        "only its owner deletes a token"
    );
    let a = w
        .call(
            &bob,
            Method::DELETE,
            &format!("/api/v1/api-tokens/{id}"),
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    let a = w
        .call(&token, Method::GET, "/api/v1/repositories", None)
        .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
}

/// Every operation of the OpenAPI document, once, in one story; fails if the document grows an
/// operation no test calls.
/// Remote registries: created, listed, read, changed and deleted; the password goes in and is
/// sealed, and no answer carries it; invalid input is a 400 naming the mistake; a registry a
/// proxy repository uses cannot be deleted (409 naming the repository); another account's
/// console user finds none of them.
#[tokio::test]
async fn remote_registries_keep_their_password_to_themselves() {
    let w = world().await;
    const SECRET: &str = "upstream-password-7f3a";
    let mut answers = Vec::new();
    let body = json!({
        "name": "hub", "url": "https://Registry-1.Docker.io/", "username": "bot",
        "password": SECRET, "insecure": false,
    });
    let a = w
        .call(&alice(), Method::POST, "/api/v1/registries", Some(body))
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    assert_eq!(a.body["url"], "https://registry-1.docker.io");
    assert_eq!(a.body["username"], "bot");
    assert_eq!(a.body["has_password"], true);
    answers.push(a.body);
    let stored = w
        .registry
        .manage(Principal::SystemAdmin, None)
        .registry(ACCOUNT, &berth_model::RegistryName::parse("hub").unwrap())
        .await
        .unwrap();
    let sealed = stored.sealed_password.unwrap();
    assert_eq!(
        w.registry.config().sealing_key.open(&sealed).unwrap(),
        SECRET.as_bytes()
    );
    let dup = json!({"name": "hub", "url": "https://example.com"});
    let a = w
        .call(&alice(), Method::POST, "/api/v1/registries", Some(dup))
        .await;
    assert_eq!(a.status, StatusCode::CONFLICT);
    for (body, says) in [
        (
            json!({"name": "Hub", "url": "https://a.io"}),
            "registry name",
        ),
        (json!({"name": "x"}), "url is required"),
        (json!({"name": "x", "url": "ftp://a.io"}), "scheme"),
        (
            json!({"name": "x", "url": "https://u:p@a.io"}),
            "user or password",
        ),
        (json!({"name": "x", "url": "https://a.io/?q=1"}), "query"),
        (
            json!({"name": "x", "url": "https://a.io", "password": "p"}),
            "needs a username",
        ),
        (
            json!({"name": "x", "url": "https://a.io", "username": "u".repeat(257)}),
            "limit",
        ),
        (
            json!({"name": "x", "url": "https://a.io", "insecure": "yes"}),
            "true or false",
        ),
        (
            json!({"name": "x", "url": "https://a.io", "secret": "p"}),
            "unknown field",
        ),
    ] {
        let a = w
            .call(&alice(), Method::POST, "/api/v1/registries", Some(body))
            .await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{says}");
        assert!(a.message().contains(says), "{says}: {}", a.message());
    }
    let anonymous = json!({"name": "ghcr", "url": "https://ghcr.io"});
    let a = w
        .call(
            &alice(),
            Method::POST,
            "/api/v1/registries",
            Some(anonymous),
        )
        .await;
    assert_eq!(a.body["username"], Value::Null);
    assert_eq!(a.body["has_password"], false);
    let list = w
        .call(&alice(), Method::GET, "/api/v1/registries", None)
        .await;
    assert_eq!(list.body["total"], 2);
    assert_eq!(list.body["items"][0]["name"], "ghcr");
    answers.push(list.body);
    let a = w
        .call(&alice(), Method::GET, "/api/v1/registries/hub", None)
        .await;
    assert_eq!(a.status, StatusCode::OK);
    answers.push(a.body);
    let a = w
        .call(
            &alice(),
            Method::PATCH,
            "/api/v1/registries/hub",
            Some(json!({"insecure": true, "password": format!("{SECRET}-2")})),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(
        (a.body["insecure"].clone(), a.body["has_password"].clone()),
        (json!(true), json!(true))
    );
    answers.push(a.body);
    for a in &answers {
        assert!(!a.to_string().contains(SECRET), "{a}");
    }

    // A proxy repository of it: shown with its registry and namespace; fixed at creation.
    let cache = json!({"name": "hub-cache", "proxy": {"registry": "hub", "namespace": "library"}});
    let a = w
        .call(&alice(), Method::POST, "/api/v1/repositories", Some(cache))
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    assert_eq!(
        a.body["proxy"],
        json!({"registry": "hub", "namespace": "library"})
    );
    let plain = w.create_repository(&alice(), "plain", None).await;
    assert_eq!(plain.body["proxy"], Value::Null);
    for (proxy, says) in [
        (json!({"registry": "nope"}), "registry nope does not exist"),
        (
            json!({"registry": "hub", "namespace": "Bad Name"}),
            "proxy.namespace",
        ),
        (
            json!({"registry": "hub", "prefix": "x"}),
            "unknown field proxy.prefix",
        ),
        (json!("hub"), "proxy is"),
    ] {
        let body = json!({"name": "cache-two", "proxy": proxy});
        let a = w
            .call(&alice(), Method::POST, "/api/v1/repositories", Some(body))
            .await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{says}");
        assert!(a.message().contains(says), "{says}: {}", a.message());
    }
    let a = w
        .call(
            &alice(),
            Method::PATCH,
            "/api/v1/repositories/hub-cache",
            Some(json!({"proxy": null})),
        )
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert!(a.message().contains("cannot be changed"), "{}", a.message());
    let a = w
        .call(&alice(), Method::DELETE, "/api/v1/registries/hub", None)
        .await;
    assert_eq!(a.status, StatusCode::CONFLICT);
    assert!(a.message().contains("hub-cache"), "{}", a.message());

    // Another account's console user: nothing to see, change or delete.
    let m = mallory();
    let list = w.call(&m, Method::GET, "/api/v1/registries", None).await;
    assert_eq!(list.body["total"], 0);
    for (method, uri) in [
        (Method::GET, "/api/v1/registries/hub"),
        (Method::GET, "/api/v1/registries/hub?account=10042"),
        (Method::DELETE, "/api/v1/registries/hub"),
        (Method::GET, "/api/v1/registries/missing"),
        (Method::GET, "/api/v1/registries/NOT%20A%20NAME"),
    ] {
        let a = w.call(&m, method.clone(), uri, None).await;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{method} {uri}");
    }
    let a = w
        .call(
            &m,
            Method::PATCH,
            "/api/v1/registries/hub?account=10042",
            Some(json!({"url": "https://evil.example"})),
        )
        .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    let a = w
        .call(&m, Method::GET, "/api/v1/registries?account=10042", None)
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    let a = w
        .call(&m, Method::POST, "/api/v1/registries/hub/ping", None)
        .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);

    // Removing the username removes the password too.
    let a = w
        .call(
            &alice(),
            Method::PATCH,
            "/api/v1/registries/hub",
            Some(json!({"username": null})),
        )
        .await;
    assert_eq!(
        (a.body["username"].clone(), a.body["has_password"].clone()),
        (Value::Null, json!(false))
    );
    let a = w
        .call(
            &alice(),
            Method::PATCH,
            "/api/v1/registries/hub",
            Some(json!({"password": "alone"})),
        )
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    w.call(
        &alice(),
        Method::DELETE,
        "/api/v1/repositories/hub-cache",
        None,
    )
    .await;
    let a = w
        .call(&alice(), Method::DELETE, "/api/v1/registries/hub", None)
        .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    let a = w
        .call(&alice(), Method::GET, "/api/v1/registries/hub", None)
        .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_tour_covers_every_documented_operation() {
    let w = world().await;
    let login = json!({"username": "admin", "password": ADMIN_PASSWORD});
    w.call(&Auth::None, Method::POST, "/api/v1/session", Some(login))
        .await;
    w.call(&admin(), Method::GET, "/api/v1/session", None).await;
    w.create_repository(&admin(), "tour", None).await;
    w.call(&admin(), Method::GET, "/api/v1/repositories", None)
        .await;
    w.call(&admin(), Method::GET, "/api/v1/repositories/tour", None)
        .await;
    w.call(
        &admin(),
        Method::PATCH,
        "/api/v1/repositories/tour",
        Some(json!({"quota_bytes": 1_000_000})),
    )
    .await;
    let digest = w.push("tour/app", "v1", "tour").await;
    w.call(
        &admin(),
        Method::GET,
        "/api/v1/repositories/tour/images",
        None,
    )
    .await;
    w.call(
        &admin(),
        Method::GET,
        "/api/v1/repositories/tour/artifacts?image=app",
        None,
    )
    .await;
    w.call(
        &admin(),
        Method::GET,
        "/api/v1/repositories/tour/push-commands",
        None,
    )
    .await;
    w.call(
        &admin(),
        Method::DELETE,
        "/api/v1/repositories/tour/tags/v1?image=app",
        None,
    )
    .await;
    let uri = format!("/api/v1/repositories/tour/artifacts/{digest}?image=app");
    let whole = w.call(&admin(), Method::GET, &uri, None).await;
    assert_eq!(whole.status, StatusCode::OK, "{:?}", whole.body);
    w.call(&admin(), Method::DELETE, &uri, None).await;
    w.push("tour/other/img", "v1", "other").await;
    let deleted = w
        .call(
            &admin(),
            Method::DELETE,
            "/api/v1/repositories/tour/images?name=other/img",
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{:?}", deleted.body);
    let images = w
        .call(&admin(), Method::GET, "/api/v1/repositories/tour", None)
        .await;
    assert_eq!(images.body["image_count"], 0, "both images are gone");
    w.call(
        &admin(),
        Method::GET,
        "/api/v1/repositories/tour/history",
        None,
    )
    .await;
    let user = json!({"name": "t", "repositories": [{"repository": "tour", "permission": "pull"}]});
    w.call(
        &admin(),
        Method::POST,
        "/api/v1/repository-users",
        Some(user),
    )
    .await;
    w.call(&admin(), Method::GET, "/api/v1/repository-users", None)
        .await;
    w.call(
        &admin(),
        Method::GET,
        "/api/v1/repository-users/10042-t",
        None,
    )
    .await;
    w.call(
        &admin(),
        Method::PATCH,
        "/api/v1/repository-users/10042-t",
        Some(json!({"description": "d"})),
    )
    .await;
    w.call(
        &admin(),
        Method::POST,
        "/api/v1/repository-users/10042-t/secret",
        None,
    )
    .await;
    w.call(
        &admin(),
        Method::DELETE,
        "/api/v1/repository-users/10042-t",
        None,
    )
    .await;
    w.call(
        &admin(),
        Method::POST,
        "/api/v1/accounts",
        Some(json!({"id": 5, "name": "five"})),
    )
    .await;
    w.call(&admin(), Method::GET, "/api/v1/accounts", None)
        .await;
    let cu = json!({"username": "five", "password": "five-password", "account": 5});
    w.call(&admin(), Method::POST, "/api/v1/console-users", Some(cu))
        .await;
    w.call(
        &admin(),
        Method::GET,
        "/api/v1/console-users?account=5",
        None,
    )
    .await;
    let got = w
        .call(&admin(), Method::GET, "/api/v1/console-users/five", None)
        .await;
    assert_eq!(got.status, StatusCode::OK);
    let changed = w
        .call(
            &admin(),
            Method::PATCH,
            "/api/v1/console-users/five",
            Some(json!({"password": "another-five-password"})),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK);
    let own = w
        .call(
            &basic("five", "another-five-password"),
            Method::PUT,
            "/api/v1/session/password",
            Some(json!({"current_password": "another-five-password", "new_password": "five-again-password"})),
        )
        .await;
    assert_eq!(own.status, StatusCode::NO_CONTENT, "{:?}", own.body);
    let gone = w
        .call(&admin(), Method::DELETE, "/api/v1/console-users/five", None)
        .await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT);
    let token = w
        .call(
            &admin(),
            Method::POST,
            "/api/v1/api-tokens",
            Some(json!({})),
        )
        .await;
    w.call(&admin(), Method::GET, "/api/v1/api-tokens", None)
        .await;
    let id = token.body["id"].as_str().unwrap();
    w.call(
        &admin(),
        Method::DELETE,
        &format!("/api/v1/api-tokens/{id}"),
        None,
    )
    .await;
    let registry = json!({"name": "tour-hub", "url": "https://registry.example.net"});
    w.call(&admin(), Method::POST, "/api/v1/registries", Some(registry))
        .await;
    w.call(&admin(), Method::GET, "/api/v1/registries", None)
        .await;
    w.call(&admin(), Method::GET, "/api/v1/registries/tour-hub", None)
        .await;
    w.call(
        &admin(),
        Method::PATCH,
        "/api/v1/registries/tour-hub",
        Some(json!({"username": "u", "password": "p"})),
    )
    .await;
    // Nothing listens there: the ping says so, with 200.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    w.call(
        &admin(),
        Method::PATCH,
        "/api/v1/registries/tour-hub",
        Some(json!({"url": url})),
    )
    .await;
    let ping = w
        .call(
            &admin(),
            Method::POST,
            "/api/v1/registries/tour-hub/ping",
            None,
        )
        .await;
    assert_eq!(ping.status, StatusCode::OK, "{:?}", ping.body);
    assert_eq!(ping.body["reachable"], false);
    // A replication rule from the tour repository to that registry, run once.
    let rule = json!({"name": "tour-out", "direction": "push", "registry": "tour-hub",
        "source": "tour", "destination": "copies", "trigger": {"type": "event"}});
    let created = w
        .call(
            &admin(),
            Method::POST,
            "/api/v1/replication-rules",
            Some(rule),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    assert_eq!(created.body["copy_referrers"], true);
    w.call(&admin(), Method::GET, "/api/v1/replication-rules", None)
        .await;
    w.call(
        &admin(),
        Method::GET,
        "/api/v1/replication-rules/tour-out",
        None,
    )
    .await;
    let changed = w
        .call(
            &admin(),
            Method::PATCH,
            "/api/v1/replication-rules/tour-out",
            Some(json!({"trigger": {"type": "schedule", "interval": "2h"}, "tag_filter": "v*"})),
        )
        .await;
    assert_eq!(
        changed.body["trigger"],
        json!({"type": "schedule", "interval": "2h"})
    );
    let in_use = w
        .call(
            &admin(),
            Method::DELETE,
            "/api/v1/registries/tour-hub",
            None,
        )
        .await;
    assert_eq!(in_use.status, StatusCode::CONFLICT, "{:?}", in_use.body);
    let started = w
        .call(
            &admin(),
            Method::POST,
            "/api/v1/replication-rules/tour-out/executions",
            None,
        )
        .await;
    assert_eq!(started.status, StatusCode::ACCEPTED, "{:?}", started.body);
    assert_eq!(started.body["status"], "running");
    let listed = w
        .call(
            &admin(),
            Method::GET,
            "/api/v1/replication-rules/tour-out/executions",
            None,
        )
        .await;
    assert_eq!(listed.body["items"][0]["id"], started.body["id"]);
    let one = format!(
        "/api/v1/replication-rules/tour-out/executions/{}",
        started.body["id"]
    );
    w.call(&admin(), Method::GET, &one, None).await;
    w.call(
        &admin(),
        Method::DELETE,
        "/api/v1/replication-rules/tour-out",
        None,
    )
    .await;
    let gone = w
        .call(
            &admin(),
            Method::DELETE,
            "/api/v1/registries/tour-hub",
            None,
        )
        .await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT, "{:?}", gone.body);
    // Empty now: deletable.
    let deleted = w
        .call(&admin(), Method::DELETE, "/api/v1/repositories/tour", None)
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{:?}", deleted.body);
    w.call(&admin(), Method::DELETE, "/api/v1/session", None)
        .await;

    let covered = w.covered.lock().unwrap().clone();
    let missing: Vec<_> = w
        .api
        .operations()
        .into_iter()
        .filter(|op| !covered.contains(op))
        .collect();
    assert!(
        missing.is_empty(),
        "operations no test called successfully: {missing:?}"
    );
}

/// A GET of the console's `uri`: status, content type and body.
async fn get_page(w: &World, uri: &str) -> (StatusCode, String, String) {
    let request = Request::get(uri).body(Full::new(Bytes::new())).unwrap();
    let response = w.console.handle(None, request).await;
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        content_type,
        String::from_utf8(body.to_vec()).unwrap(),
    )
}

/// The files under `dir`, as paths relative to `prefix` joined with `/`.
fn files_under(dir: &std::path::Path, prefix: &str, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().into_string().unwrap();
        if name.starts_with('.') {
            continue;
        }
        let path = format!("{prefix}{name}");
        if entry.file_type().unwrap().is_dir() {
            files_under(&entry.path(), &format!("{path}/"), out);
        } else {
            out.push(path);
        }
    }
}

/// The specifiers of a module's static imports (`import ... from '...'`, `import '...'`,
/// `export ... from '...'`): the string each statement ends with, statements starting a line as
/// the console's modules are written.
fn imports_of(module: &str) -> Vec<&str> {
    let mut specifiers = Vec::new();
    let mut offset = 0;
    for line in module.split_inclusive('\n') {
        let rest = &module[offset + line.len() - line.trim_start().len()..];
        offset += line.len();
        let is_import = rest
            .strip_prefix("import")
            .is_some_and(|after| after.starts_with([' ', '{', '*', '\'', '"']));
        let is_reexport = rest.starts_with("export {") || rest.starts_with("export *");
        if !is_import && !is_reexport {
            continue;
        }
        let statement = rest.split(';').next().unwrap().trim_end();
        match statement.chars().last() {
            Some(quote @ ('\'' | '"')) => {
                let inner = &statement[..statement.len() - 1];
                specifiers.push(&inner[inner.rfind(quote).unwrap() + 1..]);
            }
            _ if is_reexport => {} // `export { ... }` of the module's own names
            _ => panic!("an import this test cannot read: {statement}"),
        }
    }
    specifiers
}

/// The asset `specifier` names when `module` (both under `/assets/`) imports it.
fn resolve_import(module: &str, specifier: &str) -> String {
    assert!(
        specifier.starts_with("./") || specifier.starts_with("../"),
        "{module} imports {specifier}: modules import each other by relative paths, never from \
         another origin"
    );
    let mut parts: Vec<&str> = module.split('/').collect();
    parts.pop();
    for part in specifier.split('/') {
        match part {
            "." => {}
            ".." => assert!(
                parts.pop().is_some(),
                "{module}: {specifier} leaves /assets/"
            ),
            part => parts.push(part),
        }
    }
    parts.join("/")
}

#[tokio::test]
async fn the_console_page_and_the_document_are_served() {
    let w = world().await;
    let (status, content_type, index) = get_page(&w, "/").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "text/html; charset=utf-8");

    // Every file of assets/ but the page is served under /assets/, as itself, with its type.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets");
    let mut files = Vec::new();
    files_under(&dir, "", &mut files);
    files.retain(|file| file != "index.html");
    files.sort();
    let mut modules = std::collections::BTreeMap::new();
    for file in &files {
        let (status, content_type, body) = get_page(&w, &format!("/assets/{file}")).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "{file} is not served: add it to ASSETS in lib.rs"
        );
        assert_eq!(
            body,
            std::fs::read_to_string(dir.join(file)).unwrap(),
            "{file}"
        );
        match file.rsplit_once('.').map(|(_, extension)| extension) {
            Some("js") => {
                assert_eq!(content_type, "text/javascript; charset=utf-8", "{file}");
                modules.insert(file.clone(), body);
            }
            Some("css") => assert_eq!(content_type, "text/css; charset=utf-8", "{file}"),
            _ => panic!("{file}: the console's assets are script modules and style sheets"),
        }
    }

    // The page loads the entry module and the style sheet, and no inline script (the CSP
    // forbids one); from the entry, the imports reach every module, each of them served.
    assert!(
        index.contains(r#"<script type="module" src="/assets/app.js"></script>"#),
        "{index}"
    );
    assert!(index.contains(r#"<link rel="stylesheet" href="/assets/app.css">"#));
    assert_eq!(index.matches("<script").count(), 1, "{index}");
    let mut reached = BTreeSet::from(["app.js".to_owned()]);
    let mut pending = vec!["app.js".to_owned()];
    while let Some(module) = pending.pop() {
        for specifier in imports_of(&modules[&module]) {
            let target = resolve_import(&module, specifier);
            let (status, content_type, _) = get_page(&w, &format!("/assets/{target}")).await;
            assert_eq!(
                (status, content_type.as_str()),
                (StatusCode::OK, "text/javascript; charset=utf-8"),
                "{module} imports {specifier}: /assets/{target} is not a served module"
            );
            if reached.insert(target.clone()) {
                pending.push(target);
            }
        }
    }
    let unreached: Vec<_> = modules.keys().filter(|m| !reached.contains(*m)).collect();
    assert!(
        unreached.is_empty(),
        "modules no import reaches: {unreached:?}"
    );

    for uri in [
        "/assets/missing.js",
        "/assets/",
        "/assets/index.html",
        "/app.js",
    ] {
        let (status, content_type, body) = get_page(&w, uri).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
        assert_eq!(content_type, "application/json", "{uri}");
        let error: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(error["error"]["code"], "NOT_FOUND", "{uri}: {body}");
    }
    let request = Request::get("/api/v1/openapi.json")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let response = w.console.handle(None, request).await;
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let doc: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(doc["openapi"], "3.0.3");
    let request = Request::post("/api/v1/repositories")
        .header("content-type", "text/plain")
        .header(
            "authorization",
            format!("Basic {}", STANDARD.encode("alice:password-of-a-person")),
        )
        .body(Full::new(Bytes::from("name=x")))
        .unwrap();
    let response = w.console.handle(None, request).await;
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

/// Puts `bytes` as a blob of `image` and gives its descriptor with `media_type`.
async fn blob(w: &World, image: &str, media_type: &str, bytes: Vec<u8>) -> Value {
    let name = Name::parse(image).unwrap();
    let bytes = Bytes::from(bytes);
    let digest = berth_model::Digest::sha256(&bytes);
    let size = bytes.len();
    let body = Box::pin(futures::stream::once(async move { Ok(bytes) }));
    w.registry
        .put_blob(
            &Principal::SystemAdmin,
            &name,
            &digest,
            berth_core::RequestBody::new(body, None),
        )
        .await
        .unwrap();
    json!({"mediaType": media_type, "digest": digest.to_string(), "size": size})
}

/// Puts `manifest` as `image`'s `tag` (none: by its digest) and gives its digest.
async fn manifest(w: &World, image: &str, tag: Option<&str>, manifest: &Value) -> String {
    let media_type = manifest["mediaType"].as_str().unwrap();
    let digest = berth_model::Digest::sha256(manifest.to_string().as_bytes()).to_string();
    w.registry
        .put_manifest(
            &Principal::SystemAdmin,
            &Name::parse(image).unwrap(),
            &Reference::parse(tag.unwrap_or(&digest)).unwrap(),
            berth_core::RequestBody::from_bytes(Bytes::from(manifest.to_string())),
            Some(media_type),
        )
        .await
        .unwrap()
        .digest
        .to_string()
}

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

#[tokio::test]
async fn an_artifact_shows_whole_with_layers_config_platforms_and_referrers() {
    let w = world().await;
    w.create_repository(&alice(), "team-a", None).await;
    let image = "team-a/app";
    let mut children = Vec::new();
    for arch in ["amd64", "arm64"] {
        let config = json!({"architecture": arch, "os": "linux", "config": {"Cmd": ["/app"]}});
        let config = blob(
            &w,
            image,
            "application/vnd.oci.image.config.v1+json",
            config.to_string().into_bytes(),
        )
        .await;
        let layer = blob(
            &w,
            image,
            "application/vnd.oci.image.layer.v1.tar+gzip",
            vec![arch.len() as u8; 1000],
        )
        .await;
        let m = json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config, "layers": [layer]});
        let digest = manifest(&w, image, None, &m).await;
        children.push((arch, digest, m.to_string().len()));
    }
    let index = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": children.iter().map(|(arch, digest, size)| json!({
            "mediaType": OCI_MANIFEST, "digest": digest, "size": size,
            "platform": {"os": "linux", "architecture": arch, "variant": (*arch == "arm64").then_some("v8")},
        })).collect::<Vec<_>>(),
    });
    let index_digest = manifest(&w, image, Some("v1"), &index).await;
    // A signature of the index: an artifact whose subject it is.
    let empty = blob(
        &w,
        image,
        "application/vnd.oci.empty.v1+json",
        b"{}".to_vec(),
    )
    .await;
    let mut sig_layer = blob(
        &w,
        image,
        "application/vnd.example.signature",
        b"signed".to_vec(),
    )
    .await;
    sig_layer["annotations"] = json!({"org.opencontainers.image.title": "index.sig"});
    let signature = json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": "application/vnd.example.signature",
        "config": empty, "layers": [sig_layer],
        "subject": {"mediaType": "application/vnd.oci.image.index.v1+json", "digest": index_digest, "size": index.to_string().len()},
    });
    let signature_digest = manifest(&w, image, None, &signature).await;

    let uri = |d: &str| format!("/api/v1/repositories/team-a/artifacts/{d}?image=app");
    let whole = w
        .call(&alice(), Method::GET, &uri(&index_digest), None)
        .await;
    assert_eq!(whole.status, StatusCode::OK, "{:?}", whole.body);
    let b = &whole.body;
    assert_eq!(b["artifact"]["digest"], index_digest);
    assert_eq!(b["artifact"]["tags"], json!(["v1"]));
    assert_eq!(
        b["manifest"].as_str().unwrap(),
        index.to_string(),
        "the document exactly as stored"
    );
    assert_eq!(b["config"], Value::Null, "an index has no config");
    assert_eq!(b["layers"], json!([]));
    let platforms: Vec<(&str, &str)> = b["platforms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["platform"].as_str().unwrap(),
                p["digest"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        platforms,
        vec![
            ("linux/amd64", children[0].1.as_str()),
            ("linux/arm64/v8", children[1].1.as_str())
        ]
    );
    assert_eq!(
        b["platforms"][1]["pull_command"]["command"],
        format!(
            "docker pull registry.example.com/team-a/app@{}",
            children[1].1
        )
    );
    let referrers = b["referrers"].as_array().unwrap();
    assert_eq!(referrers.len(), 1);
    assert_eq!(referrers[0]["digest"], signature_digest);
    assert_eq!(
        referrers[0]["artifact_type"],
        "application/vnd.example.signature"
    );
    assert_eq!(
        referrers[0]["pull_commands"][0]["podman"],
        format!(
            "podman pull --tls-verify=false registry.example.com/team-a/app@{signature_digest}"
        )
    );

    // A platform's image: its config (with the blob's JSON) and its layers with sizes.
    let child = w
        .call(&alice(), Method::GET, &uri(&children[1].1), None)
        .await;
    let c = &child.body;
    assert_eq!(
        c["config"]["media_type"],
        "application/vnd.oci.image.config.v1+json"
    );
    assert_eq!(c["config"]["content"]["architecture"], "arm64");
    assert_eq!(c["layers"][0]["size"], 1000);
    assert_eq!(
        c["layers"][0]["media_type"],
        "application/vnd.oci.image.layer.v1.tar+gzip"
    );
    assert_eq!(c["subject"], Value::Null);
    assert_eq!(c["referrers"], json!([]));

    // The signature names its subject and its file; its config is not an object: no content.
    let sig = w
        .call(&alice(), Method::GET, &uri(&signature_digest), None)
        .await;
    assert_eq!(sig.body["subject"], index_digest);
    assert_eq!(sig.body["layers"][0]["title"], "index.sig");
    assert_eq!(sig.body["config"]["content"], json!({}));

    // Reading an artifact whole is not a pull.
    w.registry.flush_pulls().await.unwrap();
    let list = w
        .call(
            &alice(),
            Method::GET,
            "/api/v1/repositories/team-a/artifacts?image=app&size=100",
            None,
        )
        .await;
    assert!(
        list.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["pull_count"] == 0)
    );

    // Another account's artifact, a missing one and a bad digest.
    let other = w
        .call(&mallory(), Method::GET, &uri(&index_digest), None)
        .await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);
    let missing = format!("sha256:{}", "0".repeat(64));
    let gone = w.call(&alice(), Method::GET, &uri(&missing), None).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    let bad = w
        .call(&alice(), Method::GET, &uri("sha256:nope"), None)
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}
