//! distribution-spec 1.1.1 beyond the basics, through the gateway: SHA-512 content addresses end
//! to end (chunked and monolithic blob uploads with `digest-algorithm`, manifests by SHA-512
//! digest, referrers of a SHA-512 subject), and a mount that names no source repository.

mod support;

use berth_meta::Permission;
use berth_model::{Algorithm, Digest};
use berth_v2::AuthMode;
use bytes::Bytes;
use http::{Method, StatusCode};
use support::*;

fn sha512(bytes: &[u8]) -> Digest {
    Digest::compute(Algorithm::Sha512, bytes)
}

#[tokio::test]
async fn sha512_content_addresses_work_end_to_end() {
    let f = fixture(AuthMode::Basic).await;
    let (user, secret) = f.user("ci", &[("team-a", Permission::PushPull)]).await;
    let auth = || Some(basic(&user, &secret));
    let send = |method: Method, uri: String, headers: Vec<(&'static str, String)>, body: Bytes| {
        let f = &f;
        let auth = auth();
        async move {
            let headers: Vec<(&str, &str)> =
                headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            f.request(None, method, &uri, auth, &headers, body).await
        }
    };

    // Chunked, the session hashing SHA-512 from the start.
    let layer = Bytes::from(vec![7u8; 100_000]);
    let layer_digest = sha512(&layer);
    let started = send(
        Method::POST,
        "/v2/team-a/app/blobs/uploads/?digest-algorithm=sha512".into(),
        vec![],
        Bytes::new(),
    )
    .await;
    assert_eq!(started.status, StatusCode::ACCEPTED, "{started:?}");
    let location = started.header("location").to_owned();
    let patched = send(
        Method::PATCH,
        location.clone(),
        vec![("content-range", "0-59999".into())],
        layer.slice(..60_000),
    )
    .await;
    assert_eq!(patched.status, StatusCode::ACCEPTED, "{patched:?}");
    let done = send(
        Method::PUT,
        format!("{location}?digest={layer_digest}"),
        vec![],
        layer.slice(60_000..),
    )
    .await;
    assert_eq!(done.status, StatusCode::CREATED, "{done:?}");
    assert_eq!(
        done.header("docker-content-digest"),
        layer_digest.to_string()
    );
    // Monolithic.
    let config = Bytes::from_static(b"{\"architecture\":\"amd64\",\"os\":\"linux\"}");
    let config_digest = sha512(&config);
    let put = send(
        Method::POST,
        format!("/v2/team-a/app/blobs/uploads/?digest={config_digest}"),
        vec![],
        config.clone(),
    )
    .await;
    assert_eq!(put.status, StatusCode::CREATED, "{put:?}");
    for (digest, size) in [(&layer_digest, layer.len()), (&config_digest, config.len())] {
        let head = send(
            Method::HEAD,
            format!("/v2/team-a/app/blobs/{digest}"),
            vec![],
            Bytes::new(),
        )
        .await;
        assert_eq!(head.status, StatusCode::OK);
        assert_eq!(head.header("content-length"), size.to_string());
    }
    let got = send(
        Method::GET,
        format!("/v2/team-a/app/blobs/{layer_digest}"),
        vec![],
        Bytes::new(),
    )
    .await;
    assert_eq!(got.body, layer);

    // A manifest addressed by its SHA-512 digest, and a referrer of it.
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest.to_string(), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer_digest.to_string(), "size": layer.len()}],
    })
    .to_string();
    let manifest_digest = sha512(manifest.as_bytes());
    let pushed = send(
        Method::PUT,
        format!("/v2/team-a/app/manifests/{manifest_digest}"),
        vec![(
            "content-type",
            "application/vnd.oci.image.manifest.v1+json".into(),
        )],
        Bytes::from(manifest.clone()),
    )
    .await;
    assert_eq!(pushed.status, StatusCode::CREATED, "{pushed:?}");
    assert_eq!(
        pushed.header("docker-content-digest"),
        manifest_digest.to_string()
    );
    let read = send(
        Method::GET,
        format!("/v2/team-a/app/manifests/{manifest_digest}"),
        vec![],
        Bytes::new(),
    )
    .await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(read.body, Bytes::from(manifest.clone()), "byte-exact");
    let empty = Bytes::from_static(b"{}");
    let empty_digest = Digest::sha256(&empty);
    send(
        Method::POST,
        format!("/v2/team-a/app/blobs/uploads/?digest={empty_digest}"),
        vec![],
        empty,
    )
    .await;
    let referrer = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": "application/vnd.example.signature",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty_digest.to_string(), "size": 2},
        "layers": [],
        "subject": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": manifest_digest.to_string(), "size": manifest.len()},
    })
    .to_string();
    let pushed = send(
        Method::PUT,
        "/v2/team-a/app/manifests/signature".into(),
        vec![(
            "content-type",
            "application/vnd.oci.image.manifest.v1+json".into(),
        )],
        Bytes::from(referrer),
    )
    .await;
    assert_eq!(pushed.status, StatusCode::CREATED, "{pushed:?}");
    assert_eq!(pushed.header("oci-subject"), manifest_digest.to_string());
    let referrers = send(
        Method::GET,
        format!("/v2/team-a/app/referrers/{manifest_digest}"),
        vec![],
        Bytes::new(),
    )
    .await;
    assert_eq!(referrers.status, StatusCode::OK);
    assert_eq!(
        referrers.json()["manifests"][0]["artifactType"],
        "application/vnd.example.signature"
    );

    // Deleting the subject deletes its referrer too (the repository's default).
    let deleted = send(
        Method::DELETE,
        format!("/v2/team-a/app/manifests/{manifest_digest}"),
        vec![],
        Bytes::new(),
    )
    .await;
    assert_eq!(deleted.status, StatusCode::ACCEPTED, "{deleted:?}");
    let referrers = send(
        Method::GET,
        format!("/v2/team-a/app/referrers/{manifest_digest}"),
        vec![],
        Bytes::new(),
    )
    .await;
    assert_eq!(referrers.json()["manifests"], serde_json::json!([]));
    let signature = send(
        Method::HEAD,
        "/v2/team-a/app/manifests/signature".into(),
        vec![],
        Bytes::new(),
    )
    .await;
    assert_eq!(
        signature.status,
        StatusCode::NOT_FOUND,
        "the referrer went with it"
    );

    // An algorithm the registry does not know is refused at the start.
    let refused = send(
        Method::POST,
        "/v2/team-a/app/blobs/uploads/?digest-algorithm=md5".into(),
        vec![],
        Bytes::new(),
    )
    .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert_eq!(refused.json()["errors"][0]["code"], "DIGEST_INVALID");
}

#[tokio::test]
async fn a_mount_without_from_mounts_within_the_account() {
    let f = fixture(AuthMode::Basic).await;
    let (user, secret) = f
        .user(
            "ci",
            &[
                ("team-a", Permission::PushPull),
                ("team-b", Permission::Pull),
            ],
        )
        .await;
    let auth = Some(basic(&user, &secret));
    // team-b/app holds an image with a config blob (the fixture's); mount it into team-a.
    let manifest = f
        .send(Method::GET, "/v2/team-b/app/manifests/latest", auth.clone())
        .await
        .json();
    let config = manifest["config"]["digest"].as_str().unwrap().to_owned();
    let mounted = f
        .send(
            Method::POST,
            &format!("/v2/team-a/other/blobs/uploads/?mount={config}"),
            auth.clone(),
        )
        .await;
    assert_eq!(mounted.status, StatusCode::CREATED, "{mounted:?}");
    assert_eq!(
        mounted.header("location"),
        format!("/v2/team-a/other/blobs/{config}")
    );
    // A blob the account does not hold: a normal upload session instead.
    let unknown = Digest::sha256(b"nobody has this");
    let started = f
        .send(
            Method::POST,
            &format!("/v2/team-a/other/blobs/uploads/?mount={unknown}"),
            auth,
        )
        .await;
    assert_eq!(started.status, StatusCode::ACCEPTED, "{started:?}");
}

#[tokio::test]
async fn the_chunk_minimum_is_advertised_and_held() {
    let store = std::sync::Arc::new(berth_storage::MemoryStore::with_min_chunk(4096));
    let f = fixture_on(AuthMode::Basic, store).await;
    let (user, secret) = f.user("ci", &[("team-a", Permission::PushPull)]).await;
    let auth = Some(basic(&user, &secret));
    let started = f
        .send(Method::POST, "/v2/team-a/app/blobs/uploads/", auth.clone())
        .await;
    assert_eq!(started.header("oci-chunk-min-length"), "4096");
    let location = started.header("location").to_owned();
    let patch = |range: &'static str, body: &'static [u8]| {
        let (f, auth, location) = (&f, auth.clone(), location.clone());
        async move {
            f.request(
                None,
                Method::PATCH,
                &location,
                auth,
                &[("content-range", range)],
                Bytes::from_static(body),
            )
            .await
        }
    };
    assert_eq!(patch("0-2", b"abc").await.status, StatusCode::ACCEPTED);
    let refused = patch("3-5", b"def").await;
    assert_eq!(refused.status, StatusCode::RANGE_NOT_SATISFIABLE);
    assert!(
        refused.json()["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("OCI-Chunk-Min-Length"),
        "{refused:?}"
    );
    // A store that wants no minimum says nothing.
    let plain = fixture(AuthMode::Basic).await;
    let (user, secret) = plain.user("ci", &[("team-a", Permission::PushPull)]).await;
    let started = plain
        .send(
            Method::POST,
            "/v2/team-a/app/blobs/uploads/",
            Some(basic(&user, &secret)),
        )
        .await;
    assert_eq!(started.status, StatusCode::ACCEPTED);
    assert!(!started.headers.contains_key("oci-chunk-min-length"));
}
