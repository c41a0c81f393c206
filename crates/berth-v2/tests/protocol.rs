//! The v2 endpoints through their public surface: `http::Request` in, `http::Response` out, over
//! a registry on in-memory backends.

use std::sync::Arc;

use berth_core::{Registry, RegistryConfig};
use berth_meta::{
    Access, AccountId, AccountStore, MemoryMetadata, NewRepository, Permission, RegistryStore,
    Timestamp,
};
use berth_model::{Digest, RepositoryName};
use berth_policy::{Principal, RepositoryUserFacts};
use berth_storage::MemoryStore;
use berth_v2::V2;
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt as _, Full};

async fn v2() -> V2 {
    let meta = Arc::new(MemoryMetadata::new());
    meta.create_account(AccountId(1), "acme", Timestamp::now())
        .await
        .unwrap();
    let new = NewRepository {
        account: AccountId(1),
        name: RepositoryName::parse("team").unwrap(),
        access: Access::Private,
        quota: None,
        delete_orphan_referrers: true,
        proxy: None,
    };
    meta.create_repository(new, "admin", Timestamp::now())
        .await
        .unwrap();
    V2::new(Arc::new(Registry::new(
        Arc::new(MemoryStore::new()),
        meta,
        RegistryConfig::default(),
    )))
}

fn pusher() -> Principal {
    Principal::RepositoryUser(RepositoryUserFacts {
        name: "1-ci".into(),
        account: AccountId(1),
        expires: None,
        disabled: false,
        permissions: vec![(RepositoryName::parse("team").unwrap(), Permission::PushPull)],
    })
}

struct Answer {
    status: StatusCode,
    headers: http::HeaderMap,
    body: Bytes,
}

impl Answer {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

async fn send(
    v2: &V2,
    who: &Principal,
    method: Method,
    uri: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> Answer {
    let mut request = Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response: Response<_> = v2
        .handle(who, request.body(Full::new(body.into())).unwrap())
        .await;
    let (parts, body) = response.into_parts();
    Answer {
        status: parts.status,
        headers: parts.headers,
        body: body.collect().await.unwrap().to_bytes(),
    }
}

/// Uploads `bytes` in two chunks through the session endpoints; returns its digest.
async fn upload(v2: &V2, who: &Principal, bytes: &[u8]) -> Digest {
    let digest = Digest::sha256(bytes);
    let started = send(
        v2,
        who,
        Method::POST,
        "/v2/team/app/blobs/uploads/",
        &[],
        Bytes::new(),
    )
    .await;
    assert_eq!(started.status, StatusCode::ACCEPTED);
    let location = started.header("location").to_owned();
    let half = bytes.len() / 2;
    let range = format!("0-{}", half - 1);
    let patched = send(
        v2,
        who,
        Method::PATCH,
        &location,
        &[("content-range", &range)],
        Bytes::copy_from_slice(&bytes[..half]),
    )
    .await;
    assert_eq!(
        (patched.status, patched.header("range")),
        (StatusCode::ACCEPTED, range.as_str())
    );
    let done = send(
        v2,
        who,
        Method::PUT,
        &format!("{location}?digest={digest}"),
        &[],
        Bytes::copy_from_slice(&bytes[half..]),
    )
    .await;
    assert_eq!(
        done.status,
        StatusCode::CREATED,
        "{:?}",
        String::from_utf8_lossy(&done.body)
    );
    assert_eq!(done.header("docker-content-digest"), digest.as_str());
    digest
}

#[tokio::test]
async fn push_and_pull_an_image_over_the_protocol() {
    let (v2, who) = (v2().await, pusher());
    let base = send(&v2, &who, Method::GET, "/v2/", &[], Bytes::new()).await;
    assert_eq!(
        (base.status, base.header("docker-distribution-api-version")),
        (StatusCode::OK, "registry/2.0")
    );

    let layer: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
    let layer_digest = upload(&v2, &who, &layer).await;
    let config = b"{\"architecture\":\"amd64\"}";
    let config_digest = Digest::sha256(config);
    let mono = send(
        &v2,
        &who,
        Method::POST,
        &format!("/v2/team/app/blobs/uploads/?digest={config_digest}"),
        &[],
        &config[..],
    )
    .await;
    assert_eq!(mono.status, StatusCode::CREATED, "monolithic upload");

    let head = send(
        &v2,
        &who,
        Method::HEAD,
        &format!("/v2/team/app/blobs/{layer_digest}"),
        &[],
        Bytes::new(),
    )
    .await;
    assert_eq!(
        (head.status, head.header("content-length")),
        (StatusCode::OK, "10000")
    );
    let part = send(
        &v2,
        &who,
        Method::GET,
        &format!("/v2/team/app/blobs/{layer_digest}"),
        &[("range", "bytes=10-19")],
        Bytes::new(),
    )
    .await;
    assert_eq!(
        (part.status, part.header("content-range")),
        (StatusCode::PARTIAL_CONTENT, "bytes 10-19/10000")
    );
    assert_eq!(&part.body[..], &layer[10..20]);
    let uri = format!("/v2/team/app/blobs/{layer_digest}");
    let several = send(
        &v2,
        &who,
        Method::GET,
        &uri,
        &[("range", "bytes=0-1,5-6")],
        Bytes::new(),
    )
    .await;
    assert_eq!(
        (several.status, several.body.len()),
        (StatusCode::OK, 10_000),
        "an unreadable Range is ignored"
    );
    let past = send(
        &v2,
        &who,
        Method::GET,
        &uri,
        &[("range", "bytes=20000-")],
        Bytes::new(),
    )
    .await;
    assert_eq!(past.status, StatusCode::RANGE_NOT_SATISFIABLE);

    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest.to_string(), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer_digest.to_string(), "size": layer.len()}],
    }))
    .unwrap();
    let ct = [("content-type", "application/vnd.oci.image.manifest.v1+json")];
    let put = send(
        &v2,
        &who,
        Method::PUT,
        "/v2/team/app/manifests/v1",
        &ct,
        manifest.clone(),
    )
    .await;
    assert_eq!(
        put.status,
        StatusCode::CREATED,
        "{:?}",
        String::from_utf8_lossy(&put.body)
    );
    let digest = Digest::sha256(&manifest);
    assert_eq!(put.header("docker-content-digest"), digest.as_str());
    send(
        &v2,
        &who,
        Method::PUT,
        "/v2/team/app/manifests/v2",
        &ct,
        manifest.clone(),
    )
    .await;

    let got = send(
        &v2,
        &who,
        Method::GET,
        "/v2/team/app/manifests/v1",
        &[],
        Bytes::new(),
    )
    .await;
    assert_eq!(
        (got.status, got.header("content-type")),
        (StatusCode::OK, "application/vnd.oci.image.manifest.v1+json")
    );
    assert_eq!(&got.body[..], &manifest[..], "the exact bytes pushed");
    let head = send(
        &v2,
        &who,
        Method::HEAD,
        &format!("/v2/team/app/manifests/{digest}"),
        &[],
        Bytes::new(),
    )
    .await;
    assert_eq!(
        (head.status, head.header("docker-content-digest")),
        (StatusCode::OK, digest.as_str())
    );

    let page = send(
        &v2,
        &who,
        Method::GET,
        "/v2/team/app/tags/list?n=1",
        &[],
        Bytes::new(),
    )
    .await;
    assert_eq!(page.json()["tags"], serde_json::json!(["v1"]));
    assert_eq!(
        page.header("link"),
        "</v2/team/app/tags/list?n=1&last=v1>; rel=\"next\""
    );
    let rest = send(
        &v2,
        &who,
        Method::GET,
        "/v2/team/app/tags/list?n=1&last=v1",
        &[],
        Bytes::new(),
    )
    .await;
    assert_eq!(rest.json()["tags"], serde_json::json!(["v2"]));

    let deleted = send(
        &v2,
        &who,
        Method::DELETE,
        "/v2/team/app/manifests/v2",
        &[],
        Bytes::new(),
    )
    .await;
    assert_eq!(deleted.status, StatusCode::ACCEPTED);
    let tags = send(
        &v2,
        &who,
        Method::GET,
        "/v2/team/app/tags/list",
        &[],
        Bytes::new(),
    )
    .await;
    assert_eq!(
        tags.json()["tags"],
        serde_json::json!(["v1"]),
        "a manifest DELETE by tag removes the tag"
    );
    let catalog = send(
        &v2,
        &Principal::SystemAdmin,
        Method::GET,
        "/v2/_catalog",
        &[],
        Bytes::new(),
    )
    .await;
    assert_eq!(
        catalog.json()["repositories"],
        serde_json::json!(["team/app"])
    );
}

#[tokio::test]
async fn failures_answer_with_the_spec_codes() {
    let (v2, who) = (v2().await, pusher());
    let code = |a: &Answer| {
        a.json()["errors"][0]["code"]
            .as_str()
            .unwrap_or("")
            .to_owned()
    };
    let bad_digest = send(
        &v2,
        &who,
        Method::GET,
        "/v2/team/app/blobs/sha256:123",
        &[],
        Bytes::new(),
    )
    .await;
    assert_eq!(
        (bad_digest.status, code(&bad_digest).as_str()),
        (StatusCode::BAD_REQUEST, "DIGEST_INVALID")
    );
    let unknown = send(
        &v2,
        &who,
        Method::GET,
        "/v2/team/app/manifests/nope",
        &[],
        Bytes::new(),
    )
    .await;
    assert_eq!(
        (unknown.status, code(&unknown).as_str()),
        (StatusCode::NOT_FOUND, "MANIFEST_UNKNOWN")
    );
    let anonymous = send(
        &v2,
        &Principal::Anonymous,
        Method::GET,
        "/v2/team/app/tags/list",
        &[],
        Bytes::new(),
    )
    .await;
    assert_eq!(
        (anonymous.status, code(&anonymous).as_str()),
        (StatusCode::UNAUTHORIZED, "UNAUTHORIZED")
    );
    let no_repo = send(
        &v2,
        &who,
        Method::GET,
        "/v2/other/app/tags/list",
        &[],
        Bytes::new(),
    )
    .await;
    assert_eq!(
        (no_repo.status, code(&no_repo).as_str()),
        (StatusCode::NOT_FOUND, "NAME_UNKNOWN")
    );

    let started = send(
        &v2,
        &who,
        Method::POST,
        "/v2/team/app/blobs/uploads/",
        &[],
        Bytes::new(),
    )
    .await;
    let location = started.header("location").to_owned();
    send(
        &v2,
        &who,
        Method::PATCH,
        &location,
        &[("content-range", "0-3")],
        &b"abcd"[..],
    )
    .await;
    let out_of_order = send(
        &v2,
        &who,
        Method::PATCH,
        &location,
        &[("content-range", "10-13")],
        &b"efgh"[..],
    )
    .await;
    assert_eq!(
        (out_of_order.status, code(&out_of_order).as_str()),
        (StatusCode::RANGE_NOT_SATISFIABLE, "BLOB_UPLOAD_INVALID")
    );
    let status = send(&v2, &who, Method::GET, &location, &[], Bytes::new()).await;
    assert_eq!(
        (status.status, status.header("range")),
        (StatusCode::NO_CONTENT, "0-3")
    );
    let wrong = send(
        &v2,
        &who,
        Method::PUT,
        &format!("{location}?digest={}", Digest::sha256(b"other")),
        &[],
        Bytes::new(),
    )
    .await;
    assert_eq!(
        (wrong.status, code(&wrong).as_str()),
        (StatusCode::BAD_REQUEST, "DIGEST_INVALID")
    );
    let missing = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": Digest::sha256(b"nope").to_string(), "size": 4},
        "layers": [],
    }))
    .unwrap();
    let blob_unknown = send(
        &v2,
        &who,
        Method::PUT,
        "/v2/team/app/manifests/v1",
        &[],
        missing,
    )
    .await;
    assert_eq!(
        (blob_unknown.status, code(&blob_unknown).as_str()),
        (StatusCode::BAD_REQUEST, "MANIFEST_BLOB_UNKNOWN")
    );
    let method = send(
        &v2,
        &who,
        Method::POST,
        "/v2/team/app/manifests/v1",
        &[],
        Bytes::new(),
    )
    .await;
    assert_eq!(
        (method.status, code(&method).as_str()),
        (StatusCode::METHOD_NOT_ALLOWED, "UNSUPPORTED")
    );
}

#[tokio::test]
async fn referrers_list_artifacts_with_a_subject() {
    let (v2, who) = (v2().await, pusher());
    let config = upload(&v2, &who, b"{}").await;
    let image = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config.to_string(), "size": 2},
        "layers": [],
    }))
    .unwrap();
    send(
        &v2,
        &who,
        Method::PUT,
        "/v2/team/app/manifests/v1",
        &[],
        image.clone(),
    )
    .await;
    let subject = Digest::sha256(&image);
    let signature = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": "application/vnd.example.sig",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": config.to_string(), "size": 2},
        "layers": [],
        "subject": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": subject.to_string(), "size": image.len()},
        "annotations": {"signed-by": "ci"},
    }))
    .unwrap();
    let sig = Digest::sha256(&signature);
    let put = send(
        &v2,
        &who,
        Method::PUT,
        &format!("/v2/team/app/manifests/{sig}"),
        &[],
        signature,
    )
    .await;
    assert_eq!(
        (put.status, put.header("oci-subject")),
        (StatusCode::CREATED, subject.as_str())
    );
    let index = send(
        &v2,
        &who,
        Method::GET,
        &format!("/v2/team/app/referrers/{subject}?artifactType=application%2Fvnd.example.sig"),
        &[],
        Bytes::new(),
    )
    .await;
    assert_eq!(
        (index.status, index.header("oci-filters-applied")),
        (StatusCode::OK, "artifactType")
    );
    let listed = index.json();
    assert_eq!(listed["manifests"][0]["digest"], sig.to_string());
    assert_eq!(
        listed["manifests"][0]["artifactType"],
        "application/vnd.example.sig"
    );
    assert_eq!(listed["manifests"][0]["annotations"]["signed-by"], "ci");
}
