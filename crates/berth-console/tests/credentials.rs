//! Revocable console credentials and hostile input, through the management API: password
//! changes, resets, disabling and deleting console users end their sessions and API tokens at
//! once; bodies are not read before the caller is known; logins are throttled per name; input
//! the OpenAPI document forbids is refused.

mod support;

use std::net::IpAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use serde_json::json;
use support::world::*;

/// Logs in with a name and password; the session cookie.
async fn log_in(w: &World, username: &str, password: &str) -> Auth {
    let a = w
        .call(
            &Auth::None,
            Method::POST,
            "/api/v1/session",
            Some(json!({"username": username, "password": password})),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    let set_cookie = a.headers["set-cookie"].to_str().unwrap();
    Auth::Cookie(set_cookie.split(';').next().unwrap().to_owned())
}

/// An API token of the caller.
async fn api_token(w: &World, auth: &Auth) -> Auth {
    let a = w
        .call(auth, Method::POST, "/api/v1/api-tokens", Some(json!({})))
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    Auth::Token(a.body["token"].as_str().unwrap().to_owned())
}

async fn whoami(w: &World, auth: &Auth) -> StatusCode {
    w.call(auth, Method::GET, "/api/v1/session", None)
        .await
        .status
}

#[tokio::test]
async fn changing_ones_password_ends_every_session_and_token() {
    let w = world().await;
    let cookie = log_in(&w, "alice", "password-of-a-person").await;
    let other_browser = log_in(&w, "alice", "password-of-a-person").await;
    let token = api_token(&w, &alice()).await;
    let change =
        |current: &str, new: &str| json!({"current_password": current, "new_password": new});

    let wrong = w
        .call(
            &cookie,
            Method::PUT,
            "/api/v1/session/password",
            Some(change("not it", "a-new-password")),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN, "{:?}", wrong.body);
    let short = w
        .call(
            &cookie,
            Method::PUT,
            "/api/v1/session/password",
            Some(change("password-of-a-person", "日本語です")),
        )
        .await;
    assert_eq!(
        short.status,
        StatusCode::BAD_REQUEST,
        "5 characters are too few, whatever their 15 bytes"
    );
    assert_eq!(whoami(&w, &other_browser).await, StatusCode::OK);

    let changed = w
        .call(
            &cookie,
            Method::PUT,
            "/api/v1/session/password",
            Some(change("password-of-a-person", "a-new-password")),
        )
        .await;
    assert_eq!(changed.status, StatusCode::NO_CONTENT, "{:?}", changed.body);
    // The browser that changed it gets a new session; every other credential ends.
    let renewed = changed.headers["set-cookie"].to_str().unwrap();
    let renewed = Auth::Cookie(renewed.split(';').next().unwrap().to_owned());
    assert_eq!(whoami(&w, &renewed).await, StatusCode::OK);
    assert_eq!(whoami(&w, &cookie).await, StatusCode::UNAUTHORIZED);
    assert_eq!(whoami(&w, &other_browser).await, StatusCode::UNAUTHORIZED);
    assert_eq!(whoami(&w, &token).await, StatusCode::UNAUTHORIZED);
    assert_eq!(whoami(&w, &alice()).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        whoami(&w, &basic("alice", "a-new-password")).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_administrator_resets_disables_and_deletes_console_users() {
    let w = world().await;
    let cookie = log_in(&w, "alice", "password-of-a-person").await;
    let token = api_token(&w, &alice()).await;
    let patch = |body| async {
        w.call(
            &admin(),
            Method::PATCH,
            "/api/v1/console-users/alice",
            Some(body),
        )
        .await
    };

    // A console user may not manage others, nor itself this way.
    let refused = w
        .call(
            &alice(),
            Method::PATCH,
            "/api/v1/console-users/mallory",
            Some(json!({"disabled": true})),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    let disabled = patch(json!({"disabled": true})).await;
    assert_eq!(disabled.status, StatusCode::OK, "{:?}", disabled.body);
    assert_eq!(disabled.body["disabled"], true);
    assert_eq!(whoami(&w, &cookie).await, StatusCode::UNAUTHORIZED);
    assert_eq!(whoami(&w, &token).await, StatusCode::UNAUTHORIZED);
    let basic_login = w.call(&alice(), Method::GET, "/api/v1/session", None).await;
    assert_eq!(basic_login.status, StatusCode::UNAUTHORIZED);
    assert!(
        basic_login.message().contains("disabled"),
        "{basic_login:?}"
    );
    let login = w
        .call(
            &Auth::None,
            Method::POST,
            "/api/v1/session",
            Some(json!({"username": "alice", "password": "password-of-a-person"})),
        )
        .await;
    assert_eq!(login.status, StatusCode::UNAUTHORIZED);

    let enabled = patch(json!({"disabled": false})).await;
    assert_eq!(enabled.body["disabled"], false);
    let cookie = log_in(&w, "alice", "password-of-a-person").await;
    assert_eq!(whoami(&w, &cookie).await, StatusCode::OK);

    // A reset ends the sessions too; the new password works, the old one does not.
    let reset = patch(json!({"password": "reset-by-the-admin"})).await;
    assert_eq!(reset.status, StatusCode::OK);
    assert_eq!(whoami(&w, &cookie).await, StatusCode::UNAUTHORIZED);
    assert_eq!(whoami(&w, &alice()).await, StatusCode::UNAUTHORIZED);
    let alice_now = basic("alice", "reset-by-the-admin");
    assert_eq!(whoami(&w, &alice_now).await, StatusCode::OK);
    let unknown_field = patch(json!({"role": "admin"})).await;
    assert_eq!(unknown_field.status, StatusCode::BAD_REQUEST);

    // The administrator cannot lock itself out through the API.
    for (method, body) in [
        (Method::PATCH, Some(json!({"disabled": true}))),
        (
            Method::PATCH,
            Some(json!({"password": "a-reset-of-its-own"})),
        ),
        (Method::DELETE, None),
    ] {
        let a = w
            .call(&admin(), method, "/api/v1/console-users/admin", body)
            .await;
        assert_eq!(a.status, StatusCode::CONFLICT, "{:?}", a.body);
    }

    let cookie = log_in(&w, "alice", "reset-by-the-admin").await;
    let deleted = w
        .call(
            &admin(),
            Method::DELETE,
            "/api/v1/console-users/alice",
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_eq!(whoami(&w, &cookie).await, StatusCode::UNAUTHORIZED);
    assert_eq!(whoami(&w, &alice_now).await, StatusCode::UNAUTHORIZED);
    let gone = w
        .call(&admin(), Method::GET, "/api/v1/console-users/alice", None)
        .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
}

/// A body that sends one chunk and then never ends, like a client holding a request open.
struct Held(Option<Bytes>);

impl http_body::Body for Held {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        match self.0.take() {
            Some(chunk) => Poll::Ready(Some(Ok(http_body::Frame::data(chunk)))),
            None => Poll::Pending,
        }
    }
}

#[tokio::test]
async fn writes_are_refused_before_their_body_is_read() {
    let w = world().await;
    for (method, uri) in [
        (Method::POST, "/api/v1/repositories"),
        (Method::PATCH, "/api/v1/repository-users/10042-x"),
        (Method::POST, "/api/v1/accounts"),
    ] {
        let request = Request::builder()
            .method(method.clone())
            .uri(uri)
            .header("content-type", "application/json")
            .header("content-length", "1048000")
            .body(Held(Some(Bytes::from_static(b"{\"name\":"))))
            .unwrap();
        // The body never completes: a server that read it first would never answer.
        let response =
            tokio::time::timeout(Duration::from_secs(30), w.console.handle(None, request))
                .await
                .unwrap_or_else(|_| panic!("{method} {uri} waited for the body"));
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "{method} {uri}"
        );
    }
    // A console user who is not the administrator is refused an administrator's write the same
    // way, body unread.
    let request = Request::post("/api/v1/accounts")
        .header("content-type", "application/json")
        .header(
            "authorization",
            "Basic YWxpY2U6cGFzc3dvcmQtb2YtYS1wZXJzb24=", // alice:password-of-a-person
        )
        .body(Held(Some(Bytes::from_static(b"{"))))
        .unwrap();
    let response = tokio::time::timeout(Duration::from_secs(30), w.console.handle(None, request))
        .await
        .expect("answered without the body");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    // A login's body is its credentials: read, but only a few KiB of it.
    let request = Request::post("/api/v1/session")
        .header("content-type", "application/json")
        .header("content-length", "1000000")
        .body(Held(Some(Bytes::from_static(b"{"))))
        .unwrap();
    let response = tokio::time::timeout(Duration::from_secs(30), w.console.handle(None, request))
        .await
        .expect("answered without the body");
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn one_identitys_good_logins_do_not_reset_anothers_failures() {
    let w = world().await;
    let source: IpAddr = "192.0.2.10".parse().unwrap();
    let mut statuses = Vec::new();
    for attempt in 0..20 {
        if attempt % 3 == 2 {
            // The attacker's own good login, from the same source.
            let good = w
                .call_from(source, &alice(), Method::GET, "/api/v1/session", None)
                .await;
            assert_eq!(good.status, StatusCode::OK, "{:?}", good.body);
            continue;
        }
        let guess = w
            .call_from(
                source,
                &basic("admin", &format!("guess-{attempt}")),
                Method::GET,
                "/api/v1/session",
                None,
            )
            .await;
        statuses.push(guess.status);
        if guess.status == StatusCode::TOO_MANY_REQUESTS {
            assert!(guess.headers.contains_key("retry-after"));
            break;
        }
    }
    let failures = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    assert_eq!(
        (failures, statuses.last()),
        (10, Some(&StatusCode::TOO_MANY_REQUESTS)),
        "{statuses:?}"
    );
    // Held back even with the right password: guessing gains nothing by speed.
    let right = w
        .call_from(source, &admin(), Method::GET, "/api/v1/session", None)
        .await;
    assert_eq!(right.status, StatusCode::TOO_MANY_REQUESTS);
    // Another source is not held back for the name.
    let elsewhere: IpAddr = "198.51.100.1".parse().unwrap();
    let ok = w
        .call_from(elsewhere, &admin(), Method::GET, "/api/v1/session", None)
        .await;
    assert_eq!(ok.status, StatusCode::OK);
}

#[tokio::test]
async fn input_the_document_forbids_is_refused() {
    let w = world().await;
    for uri in [
        "/api/v1/repositories?size=",
        "/api/v1/repositories?page=",
        "/api/v1/repositories?size=0",
    ] {
        let a = w.call(&admin(), Method::GET, uri, None).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{uri}");
    }
    let array = w
        .call(
            &admin(),
            Method::POST,
            "/api/v1/repositories",
            Some(json!(["team", "private", null])),
        )
        .await;
    assert_eq!(array.status, StatusCode::BAD_REQUEST, "{:?}", array.body);
    let array = w
        .call(
            &admin(),
            Method::POST,
            "/api/v1/accounts",
            Some(json!([7, "seven"])),
        )
        .await;
    assert_eq!(array.status, StatusCode::BAD_REQUEST, "{:?}", array.body);
    for name in [
        "",
        "has space",
        "-dash-first",
        "tab\tname",
        "ünïcode",
        &"x".repeat(65),
    ] {
        let a = w
            .call(
                &admin(),
                Method::POST,
                "/api/v1/console-users",
                Some(
                    json!({"username": name, "password": "long-enough-password", "account": null}),
                ),
            )
            .await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{name:?}");
    }
    for password in ["short", "ééééééé", &"p".repeat(257)] {
        let a = w
            .call(
                &admin(),
                Method::POST,
                "/api/v1/console-users",
                Some(json!({"username": "bob", "password": password, "account": null})),
            )
            .await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{password:?}");
    }
    let fine = w
        .call(
            &admin(),
            Method::POST,
            "/api/v1/console-users",
            Some(json!({"username": "bob.smith@acme", "password": "éééééééé", "account": null})),
        )
        .await;
    assert_eq!(fine.status, StatusCode::CREATED, "{:?}", fine.body);
}
