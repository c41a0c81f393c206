//! The gateway's test fixture: a registry on in-memory backends with an account of three
//! repositories (and another account's), each holding an image, behind a `Gateway`; a client
//! that sends requests from a source and asks the token endpoint.

#![allow(dead_code, unreachable_pub)] // Each test binary uses its own part.

use std::net::IpAddr;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use berth_core::identity::RepositoryUserSpec;
use berth_core::{Registry, RegistryConfig};
use berth_meta::{
    Access, AccountId, AccountStore, MemoryMetadata, NewRepository, Permission, RegistryStore,
    Timestamp,
};
use berth_model::RepositoryName;
use berth_storage::MemoryStore;
use berth_v2::token::TokenKey;
use berth_v2::{AuthConfig, AuthMode, Gateway};
use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt as _, Full};

pub const ACCOUNT: AccountId = AccountId(10042);

pub struct Fixture {
    pub gateway: Gateway,
    pub registry: Arc<Registry>,
}

pub async fn fixture(mode: AuthMode) -> Fixture {
    fixture_on(mode, Arc::new(MemoryStore::new())).await
}

/// [`fixture`] over a blob store of the test's own.
pub async fn fixture_on(mode: AuthMode, blobs: Arc<dyn berth_storage::BlobStore>) -> Fixture {
    let meta = Arc::new(MemoryMetadata::new());
    meta.create_account(ACCOUNT, "acme", Timestamp::now())
        .await
        .unwrap();
    meta.create_account(AccountId(7), "other", Timestamp::now())
        .await
        .unwrap();
    for (account, name, access) in [
        (ACCOUNT, "team-a", Access::Private),
        (ACCOUNT, "team-b", Access::Private),
        (ACCOUNT, "open", Access::Public),
        (AccountId(7), "theirs", Access::Private),
    ] {
        let new = NewRepository {
            account,
            name: RepositoryName::parse(name).unwrap(),
            access,
            quota: None,
            delete_orphan_referrers: true,
            proxy: None,
        };
        meta.create_repository(new, "admin", Timestamp::now())
            .await
            .unwrap();
    }
    let registry = Arc::new(Registry::new(blobs, meta, RegistryConfig::default()));
    registry
        .identity()
        .bootstrap(ACCOUNT, "acme", Some("admin-password"))
        .await
        .unwrap();
    // An image in the repositories the tests list tags of (a missing image is 404).
    for image in ["team-a/app", "team-b/app", "open/app"] {
        push_empty_image(&registry, image).await;
    }
    let mut config = AuthConfig::new(TokenKey::generate());
    config.mode = mode;
    Fixture {
        gateway: Gateway::new(registry.clone(), config),
        registry,
    }
}

/// Pushes a manifest with an empty config and no layers to `image`, tagged `latest`.
pub async fn push_empty_image(registry: &Registry, image: &str) {
    use berth_core::RequestBody;
    let (who, name) = (
        berth_policy::Principal::SystemAdmin,
        berth_model::Name::parse(image).unwrap(),
    );
    let config = Bytes::from_static(b"{}");
    let digest = berth_model::Digest::sha256(&config);
    registry
        .put_blob(&who, &name, &digest, RequestBody::from_bytes(config))
        .await
        .unwrap();
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest.to_string(), "size": 2},
        "layers": [],
    });
    registry
        .put_manifest(
            &who,
            &name,
            &berth_model::Reference::parse("latest").unwrap(),
            RequestBody::from_bytes(manifest.to_string()),
            Some("application/vnd.oci.image.manifest.v1+json"),
        )
        .await
        .unwrap();
}

impl Fixture {
    pub async fn user(&self, name: &str, permissions: &[(&str, Permission)]) -> (String, String) {
        let spec = RepositoryUserSpec {
            name: Some(name.into()),
            permissions: permissions
                .iter()
                .map(|(r, p)| (RepositoryName::parse(r).unwrap(), *p))
                .collect(),
            ..RepositoryUserSpec::default()
        };
        let created = self
            .registry
            .identity()
            .create_repository_user(ACCOUNT, spec, "admin")
            .await
            .unwrap();
        (created.record.name, created.secret)
    }

    pub async fn send(&self, method: Method, uri: &str, auth: Option<String>) -> Answer {
        self.send_from(None, method, uri, auth, Bytes::new()).await
    }

    pub async fn send_from(
        &self,
        source: Option<IpAddr>,
        method: Method,
        uri: &str,
        auth: Option<String>,
        body: Bytes,
    ) -> Answer {
        self.request(source, method, uri, auth, &[], body).await
    }

    /// One request with headers of the caller's own.
    pub async fn request(
        &self,
        source: Option<IpAddr>,
        method: Method,
        uri: &str,
        auth: Option<String>,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> Answer {
        let mut request = Request::builder()
            .method(method)
            .uri(uri)
            .header("host", "registry.test");
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = self
            .gateway
            .handle(source, request.body(Full::new(body)).unwrap())
            .await;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        Answer {
            status,
            headers,
            body,
        }
    }

    /// A token for `scope` (Basic credentials `user:secret`, or anonymous).
    pub async fn token(&self, creds: Option<(&str, &str)>, scope: &str) -> Result<String, Answer> {
        let uri = format!("/token?service=berth&scope={scope}");
        let answer = self
            .send(Method::GET, &uri, creds.map(|(u, p)| basic(u, p)))
            .await;
        if answer.status != StatusCode::OK {
            return Err(answer);
        }
        Ok(answer.json()["token"].as_str().unwrap().to_owned())
    }

    /// The claims of a token for `scope`, decoded (the signature is the server's business).
    pub async fn token_claims(
        &self,
        creds: Option<(&str, &str)>,
        scope: &str,
    ) -> serde_json::Value {
        let token = self.token(creds, scope).await.unwrap();
        let payload = token.split('.').nth(1).unwrap();
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }
}

#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

impl Answer {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    pub fn code(&self) -> String {
        self.json()["errors"][0]["code"]
            .as_str()
            .unwrap_or("")
            .to_owned()
    }

    pub fn message(&self) -> String {
        self.json()["errors"][0]["message"]
            .as_str()
            .unwrap_or("")
            .to_owned()
    }
}

pub fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{user}:{password}")))
}

pub fn bearer(token: &str) -> Option<String> {
    Some(format!("Bearer {token}"))
}
