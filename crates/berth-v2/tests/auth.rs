//! Authentication through the gateway's public surface: Basic credentials, the token flow and
//! its challenge, expiry and permissions at every request and token issue, refreshed secrets,
//! forged tokens, and failed-login throttling. In-memory backends, `http` requests.

mod support;

use std::net::IpAddr;
use std::sync::Arc;

use berth_core::{Registry, RegistryConfig};
use berth_meta::{Permission, RepositoryUserUpdate, Timestamp};
use berth_model::RepositoryUserName;
use berth_storage::MemoryStore;
use berth_v2::token::TokenKey;
use berth_v2::{AuthConfig, AuthMode, Gateway};
use bytes::Bytes;
use http::{Method, StatusCode};
use support::*;

/// A stored user name as the management calls take it.
fn user_name(name: &str) -> RepositoryUserName {
    RepositoryUserName::parse(name).unwrap()
}

const START: &str = "/v2/team-a/app/blobs/uploads/";

#[tokio::test]
async fn anonymous_base_gets_the_challenge_of_its_mode() {
    let f = fixture(AuthMode::Token).await;
    let a = f.send(Method::GET, "/v2/", None).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(a.code(), "UNAUTHORIZED");
    assert_eq!(
        a.header("www-authenticate"),
        r#"Bearer realm="http://registry.test/token",service="berth""#
    );
    assert_eq!(a.header("docker-distribution-api-version"), "registry/2.0");
    let a = f
        .send(Method::GET, "/v2/team-a/app/manifests/latest", None)
        .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        a.header("www-authenticate"),
        r#"Bearer realm="http://registry.test/token",service="berth",scope="repository:team-a/app:pull""#
    );

    let f = fixture(AuthMode::Basic).await;
    let a = f.send(Method::GET, "/v2/", None).await;
    assert_eq!(a.header("www-authenticate"), r#"Basic realm="berth""#);
}

#[tokio::test]
async fn basic_logins_check_the_secret_and_the_record() {
    let f = fixture(AuthMode::Basic).await;
    let (name, secret) = f.user("ci", &[("team-a", Permission::PushPull)]).await;
    assert_eq!(name, "10042-ci");
    let ok = f
        .send(Method::GET, "/v2/", Some(basic(&name, &secret)))
        .await;
    assert_eq!(ok.status, StatusCode::OK);
    let wrong = f
        .send(Method::GET, "/v2/", Some(basic(&name, "nope")))
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.header("www-authenticate"), r#"Basic realm="berth""#);
    let start = f
        .send(Method::POST, START, Some(basic(&name, &secret)))
        .await;
    assert_eq!(start.status, StatusCode::ACCEPTED);
    // Not attached to team-b.
    let other = f
        .send(
            Method::POST,
            "/v2/team-b/app/blobs/uploads/",
            Some(basic(&name, &secret)),
        )
        .await;
    assert_eq!(other.status, StatusCode::FORBIDDEN);
    assert_eq!(other.code(), "DENIED");

    // Expired: refused at the next request, with the reason.
    let update = RepositoryUserUpdate {
        expires: Some(Some(
            Timestamp::now().minus(std::time::Duration::from_secs(1)),
        )),
        ..RepositoryUserUpdate::default()
    };
    f.registry
        .identity()
        .update_repository_user(&user_name(&name), update, "admin")
        .await
        .unwrap();
    let expired = f
        .send(Method::POST, START, Some(basic(&name, &secret)))
        .await;
    assert_eq!(expired.status, StatusCode::UNAUTHORIZED);
    assert!(
        expired.message().contains("expired"),
        "{}",
        expired.message()
    );
    let update = RepositoryUserUpdate {
        expires: Some(None),
        ..RepositoryUserUpdate::default()
    };
    f.registry
        .identity()
        .update_repository_user(&user_name(&name), update, "admin")
        .await
        .unwrap();
    let again = f
        .send(Method::POST, START, Some(basic(&name, &secret)))
        .await;
    assert_eq!(again.status, StatusCode::ACCEPTED);

    // A refreshed secret replaces the old one at once.
    let fresh = f
        .registry
        .identity()
        .refresh_secret(&user_name(&name), "admin")
        .await
        .unwrap();
    let old = f
        .send(Method::GET, "/v2/", Some(basic(&name, &secret)))
        .await;
    assert_eq!(old.status, StatusCode::UNAUTHORIZED);
    let new = f
        .send(Method::GET, "/v2/", Some(basic(&name, &fresh.secret)))
        .await;
    assert_eq!(new.status, StatusCode::OK);
}

#[tokio::test]
async fn tokens_grant_what_the_user_may_do_and_say_why_not() {
    let f = fixture(AuthMode::Token).await;
    let (name, secret) = f.user("reader", &[("team-a", Permission::Pull)]).await;
    let token = f
        .token(Some((&name, &secret)), "repository:team-a/app:pull,push")
        .await
        .unwrap();
    let pull = f
        .send(Method::GET, "/v2/team-a/app/tags/list", bearer(&token))
        .await;
    assert_eq!(pull.status, StatusCode::OK, "{:?}", pull);
    let push = f.send(Method::POST, START, bearer(&token)).await;
    assert_eq!(push.status, StatusCode::FORBIDDEN);
    assert_eq!(push.code(), "DENIED");
    assert!(
        push.message().contains("may only pull"),
        "{}",
        push.message()
    );
    // Not asked for: 401 with the scope to ask for.
    let delete = f
        .send(
            Method::DELETE,
            "/v2/team-a/app/manifests/latest",
            bearer(&token),
        )
        .await;
    assert_eq!(delete.status, StatusCode::UNAUTHORIZED);
    assert!(
        delete
            .header("www-authenticate")
            .ends_with(r#"scope="repository:team-a/app:delete",error="insufficient_scope""#),
        "{}",
        delete.header("www-authenticate")
    );
    // Another account's private repository looks exactly like a missing one: nothing granted,
    // and the same answer, with a token as with Basic credentials.
    for credentials in [
        bearer(
            &f.token(
                Some((&name, &secret)),
                "repository:theirs/app:pull%20repository:no-such/app:pull",
            )
            .await
            .unwrap(),
        ),
        Some(basic(&name, &secret)),
    ] {
        let theirs = f
            .send(Method::GET, "/v2/theirs/app/tags/list", credentials.clone())
            .await;
        let missing = f
            .send(
                Method::GET,
                "/v2/no-such/app/tags/list",
                credentials.clone(),
            )
            .await;
        assert_eq!(
            (theirs.status, theirs.code()),
            (StatusCode::NOT_FOUND, "NAME_UNKNOWN".to_owned())
        );
        assert_eq!(
            (missing.status, missing.code()),
            (theirs.status, theirs.code())
        );
        assert_eq!(
            theirs.message().replace("theirs", "no-such"),
            missing.message()
        );
        let push = f
            .send(Method::POST, "/v2/theirs/app/blobs/uploads/", credentials)
            .await;
        assert_eq!(
            (push.status, push.code()),
            (StatusCode::NOT_FOUND, "NAME_UNKNOWN".to_owned())
        );
    }
    let grants = f
        .token_claims(
            Some((&name, &secret)),
            "repository:theirs/app:pull,push%20repository:no-such/app:pull,push",
        )
        .await;
    assert_eq!(grants["access"], serde_json::json!([]), "{grants}");
    assert!(grants["berth"].get("refused").is_none(), "{grants}");
}

#[tokio::test]
async fn anonymous_tokens_pull_public_repositories_only() {
    let f = fixture(AuthMode::Token).await;
    let token = f
        .token(None, "repository:open/app:pull,push")
        .await
        .unwrap();
    let open = f
        .send(Method::GET, "/v2/open/app/tags/list", bearer(&token))
        .await;
    assert_eq!(open.status, StatusCode::OK);
    let push = f
        .send(Method::POST, "/v2/open/app/blobs/uploads/", bearer(&token))
        .await;
    assert_eq!(push.status, StatusCode::UNAUTHORIZED);
    let token = f.token(None, "repository:team-a/app:pull").await.unwrap();
    let private = f
        .send(Method::GET, "/v2/team-a/app/tags/list", bearer(&token))
        .await;
    assert_eq!(private.status, StatusCode::UNAUTHORIZED);
    // Empty Basic credentials (what skopeo and podman send when they have none) are anonymous.
    let empty = f
        .send(Method::GET, "/v2/open/app/tags/list", Some(basic("", "")))
        .await;
    assert_eq!(empty.status, StatusCode::OK);
    let empty = f
        .send(Method::GET, "/v2/team-a/app/tags/list", Some(basic("", "")))
        .await;
    assert_eq!(empty.status, StatusCode::UNAUTHORIZED);
    assert!(
        f.token(Some(("", "")), "repository:open/app:pull")
            .await
            .is_ok()
    );
    // Without any token, the same.
    let plain = f.send(Method::GET, "/v2/open/app/tags/list", None).await;
    assert_eq!(plain.status, StatusCode::OK);
    let plain = f.send(Method::GET, "/v2/team-a/app/tags/list", None).await;
    assert_eq!(plain.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn expired_users_get_no_token_until_extended() {
    let f = fixture(AuthMode::Token).await;
    let (name, secret) = f.user("ci", &[("team-a", Permission::PushPull)]).await;
    let lock = RepositoryUserUpdate {
        expires: Some(Some(Timestamp::from_unix_millis(0))),
        ..RepositoryUserUpdate::default()
    };
    f.registry
        .identity()
        .update_repository_user(&user_name(&name), lock, "admin")
        .await
        .unwrap();
    let refused = f
        .token(Some((&name, &secret)), "repository:team-a/app:pull")
        .await
        .unwrap_err();
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert!(refused.message().contains("expired"));
    let extend = RepositoryUserUpdate {
        expires: Some(Some(
            Timestamp::now().plus(std::time::Duration::from_secs(86_400)),
        )),
        ..RepositoryUserUpdate::default()
    };
    f.registry
        .identity()
        .update_repository_user(&user_name(&name), extend, "admin")
        .await
        .unwrap();
    assert!(
        f.token(Some((&name, &secret)), "repository:team-a/app:pull")
            .await
            .is_ok()
    );
}

/// Without credentials, a repository that does not exist looks exactly like a private one, so
/// an outsider cannot list which names exist; a logged-in user is told it does not exist.
#[tokio::test]
async fn anonymous_callers_cannot_tell_missing_from_private() {
    let f = fixture(AuthMode::Token).await;
    let private = f
        .send(Method::GET, "/v2/team-a/app/manifests/v1", None)
        .await;
    let missing = f
        .send(Method::GET, "/v2/nowhere/app/manifests/v1", None)
        .await;
    assert_eq!(private.status, StatusCode::UNAUTHORIZED);
    assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
    assert_eq!(missing.code(), "UNAUTHORIZED");
    let token = f.token(None, "repository:nowhere/app:pull").await.unwrap();
    let with_token = f
        .send(Method::GET, "/v2/nowhere/app/manifests/v1", bearer(&token))
        .await;
    assert_eq!(with_token.status, StatusCode::UNAUTHORIZED);
    let (name, secret) = f.user("ci", &[("team-a", Permission::Pull)]).await;
    let known = f
        .send(
            Method::GET,
            "/v2/nowhere/app/manifests/v1",
            Some(basic(&name, &secret)),
        )
        .await;
    assert_eq!(known.status, StatusCode::NOT_FOUND);
    assert_eq!(known.code(), "NAME_UNKNOWN");
}

#[tokio::test]
async fn token_requests_are_bounded() {
    let f = fixture(AuthMode::Token).await;
    let many: Vec<String> = (0..33)
        .map(|i| format!("scope=repository:open/app{i}:pull"))
        .collect();
    let a = f
        .send(Method::GET, &format!("/token?{}", many.join("&")), None)
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert!(a.message().contains("at most 32 scopes"), "{}", a.message());
    let post = f.send(Method::POST, "/token", None).await;
    assert_eq!(post.status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn forged_and_foreign_tokens_are_refused() {
    let f = fixture(AuthMode::Token).await;
    let other = fixture(AuthMode::Token).await;
    let (name, secret) = f.user("ci", &[("team-a", Permission::PushPull)]).await;
    let token = f
        .token(Some((&name, &secret)), "repository:team-a/app:pull,push")
        .await
        .unwrap();
    // Signed by another deployment's key.
    let a = other.send(Method::POST, START, bearer(&token)).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    let a = f.send(Method::POST, START, bearer("x.y.z")).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert!(a.header("www-authenticate").starts_with("Bearer realm="));
}

#[tokio::test]
async fn console_users_and_the_admin_log_in_too() {
    let f = fixture(AuthMode::Token).await;
    let admin = basic("admin", "admin-password");
    let token = f
        .token(
            Some(("admin", "admin-password")),
            "repository:theirs/x:push",
        )
        .await
        .unwrap();
    let a = f
        .send(Method::POST, "/v2/theirs/x/blobs/uploads/", bearer(&token))
        .await;
    assert_eq!(a.status, StatusCode::ACCEPTED);
    let a = f.send(Method::GET, "/v2/", Some(admin)).await;
    assert_eq!(a.status, StatusCode::OK);
    let token = f
        .token(Some(("admin", "admin-password")), "registry:catalog:*")
        .await
        .unwrap();
    let catalog = f.send(Method::GET, "/v2/_catalog", bearer(&token)).await;
    assert_eq!(catalog.status, StatusCode::OK);
    let wrong = f
        .token(Some(("admin", "admin-passwore")), "registry:catalog:*")
        .await
        .unwrap_err();
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.header("www-authenticate").starts_with("Basic"));
}

#[tokio::test]
async fn repeated_failures_from_one_source_are_held_back() {
    let f = fixture(AuthMode::Basic).await;
    let (name, secret) = f.user("ci", &[("team-a", Permission::PushPull)]).await;
    let attacker: IpAddr = "192.0.2.7".parse().unwrap();
    let mut statuses = Vec::new();
    for i in 0..12 {
        let a = f
            .send_from(
                Some(attacker),
                Method::GET,
                "/v2/",
                Some(basic(&name, &format!("guess{i}"))),
                Bytes::new(),
            )
            .await;
        statuses.push(a.status.as_u16());
    }
    assert_eq!(&statuses[..10], &[401; 10]);
    assert_eq!(&statuses[10..], &[429, 429]);
    // Even the right secret waits; another source does not.
    let right = f
        .send_from(
            Some(attacker),
            Method::GET,
            "/v2/",
            Some(basic(&name, &secret)),
            Bytes::new(),
        )
        .await;
    assert_eq!(right.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(right.code(), "TOOMANYREQUESTS");
    assert!(right.header("retry-after").parse::<u64>().unwrap() > 0);
    let elsewhere = f
        .send_from(
            Some("192.0.2.8".parse().unwrap()),
            Method::GET,
            "/v2/",
            Some(basic(&name, &secret)),
            Bytes::new(),
        )
        .await;
    assert_eq!(elsewhere.status, StatusCode::OK);
}

/// Two nodes over one metadata store: a secret refreshed on one works on the other at once,
/// and the other's token endpoint refuses the old secret at once (Basic requests may accept it
/// for up to the cache's second, as DESIGN allows between nodes).
#[tokio::test]
async fn a_secret_refreshed_on_another_node_applies_at_once() {
    let node1 = fixture(AuthMode::Token).await;
    let meta = node1.registry.metadata().clone();
    let node2_registry = Arc::new(Registry::new(
        Arc::new(MemoryStore::new()),
        meta,
        RegistryConfig::default(),
    ));
    let node2 = Fixture {
        gateway: Gateway::new(
            node2_registry.clone(),
            AuthConfig::new(TokenKey::generate()),
        ),
        registry: node2_registry,
    };
    let (name, old) = node1.user("ci", &[("team-a", Permission::PushPull)]).await;
    // Node 2 has the record cached from a login.
    let a = node2
        .send(Method::GET, "/v2/", Some(basic(&name, &old)))
        .await;
    assert_eq!(a.status, StatusCode::OK);
    let fresh = node1
        .registry
        .identity()
        .refresh_secret(&user_name(&name), "admin")
        .await
        .unwrap();
    let new = node2
        .send(Method::GET, "/v2/", Some(basic(&name, &fresh.secret)))
        .await;
    assert_eq!(new.status, StatusCode::OK);
    let refused = node2
        .token(Some((&name, &old)), "repository:team-a/app:pull")
        .await
        .unwrap_err();
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert!(
        node2
            .token(Some((&name, &fresh.secret)), "repository:team-a/app:pull")
            .await
            .is_ok()
    );
}
