//! One table over every route: an anonymous caller is challenged for exactly the scope the route
//! enforces, and a token for exactly that scope is then accepted (a client that fetches the
//! token its challenge names is never refused again).

mod support;

use berth_meta::Permission;
use berth_v2::AuthMode;
use bytes::Bytes;
use http::{Method, StatusCode};
use support::*;

/// A route to try: method, path (`{upload}` becomes a fresh upload session of team-a/app,
/// `{manifest}` the digest of team-a/app:latest), and the scope its challenge must name.
struct Case {
    method: Method,
    path: &'static str,
    scope: &'static str,
}

fn case(method: Method, path: &'static str, scope: &'static str) -> Case {
    Case {
        method,
        path,
        scope,
    }
}

const PULL: &str = "repository:team-a/app:pull";
const PUSH: &str = "repository:team-a/app:pull,push";
const DELETE: &str = "repository:team-a/app:delete";

fn cases() -> Vec<Case> {
    let blob = "/v2/team-a/app/blobs/sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";
    vec![
        case(Method::GET, "/v2/team-a/app/tags/list", PULL),
        case(Method::GET, "/v2/team-a/app/manifests/latest", PULL),
        case(Method::HEAD, "/v2/team-a/app/manifests/latest", PULL),
        case(Method::GET, "/v2/team-a/app/manifests/{manifest}", PULL),
        case(Method::PUT, "/v2/team-a/app/manifests/v2", PUSH),
        case(Method::DELETE, "/v2/team-a/app/manifests/latest", DELETE),
        case(
            Method::DELETE,
            "/v2/team-a/app/manifests/{manifest}",
            DELETE,
        ),
        case(Method::GET, blob, PULL),
        case(Method::HEAD, blob, PULL),
        case(Method::DELETE, blob, DELETE),
        case(Method::GET, "/v2/team-a/app/referrers/{manifest}", PULL),
        case(Method::POST, "/v2/team-a/app/blobs/uploads/", PUSH),
        case(
            Method::POST,
            "/v2/team-a/app/blobs/uploads/?digest=sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
            PUSH,
        ),
        case(
            Method::POST,
            "/v2/team-a/app/blobs/uploads/?mount=sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a&from=team-b/app",
            "repository:team-a/app:pull,push repository:team-b/app:pull",
        ),
        case(
            Method::POST,
            "/v2/team-a/app/blobs/uploads/?mount=sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
            PUSH,
        ),
        case(Method::GET, "/v2/team-a/app/blobs/uploads/{upload}", PUSH),
        case(Method::PATCH, "/v2/team-a/app/blobs/uploads/{upload}", PUSH),
        case(
            Method::PUT,
            "/v2/team-a/app/blobs/uploads/{upload}?digest=sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
            PUSH,
        ),
        case(
            Method::DELETE,
            "/v2/team-a/app/blobs/uploads/{upload}",
            PUSH,
        ),
    ]
}

/// The `scope` parameter of a Bearer challenge.
fn challenged_scope(challenge: &str) -> Option<&str> {
    let (_, rest) = challenge.split_once("scope=\"")?;
    rest.split_once('"').map(|(scope, _)| scope)
}

#[tokio::test]
async fn every_route_challenges_for_the_scope_it_enforces() {
    for case in cases() {
        // Each case on its own registry: deletes and uploads change what the next would see.
        let f = fixture(AuthMode::Token).await;
        let (user, secret) = f
            .user(
                "ci",
                &[
                    ("team-a", Permission::PushPull),
                    ("team-b", Permission::PushPull),
                ],
            )
            .await;
        let manifest = f
            .send(
                Method::HEAD,
                "/v2/team-a/app/manifests/latest",
                Some(basic(&user, &secret)),
            )
            .await;
        let manifest = manifest.header("docker-content-digest").to_owned();
        let upload = f
            .send(
                Method::POST,
                "/v2/team-a/app/blobs/uploads/",
                Some(basic(&user, &secret)),
            )
            .await;
        let upload = upload
            .header("location")
            .rsplit('/')
            .next()
            .unwrap()
            .to_owned();
        let path = case
            .path
            .replace("{manifest}", &manifest)
            .replace("{upload}", &upload);
        let what = format!("{} {}", case.method, case.path);

        let anonymous = f.send(case.method.clone(), &path, None).await;
        assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED, "{what}");
        let challenge = anonymous.header("www-authenticate");
        assert_eq!(
            challenged_scope(challenge),
            Some(case.scope),
            "{what}: {challenge}"
        );

        let token = f
            .token(Some((&user, &secret)), &case.scope.replace(' ', "%20"))
            .await
            .unwrap_or_else(|a| panic!("{what}: no token: {a:?}"));
        let body = if case.method == Method::PUT && path.contains("/manifests/") {
            Bytes::from_static(b"{\"schemaVersion\": 2}")
        } else {
            Bytes::new()
        };
        let answered = f
            .send_from(None, case.method.clone(), &path, bearer(&token), body)
            .await;
        assert!(
            answered.status != StatusCode::UNAUTHORIZED && answered.status != StatusCode::FORBIDDEN,
            "{what}: the token for {:?} was refused: {answered:?}",
            case.scope
        );
    }
}
