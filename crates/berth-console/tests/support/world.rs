//! The world the API tests run in: a console over a registry on in-memory backends, with the
//! accounts and console users every test starts from, and a client that checks every answer
//! against the OpenAPI document and notes which operations were called.

#![allow(unreachable_pub)]

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use berth_console::{Console, ConsoleConfig};
use berth_core::{Registry, RegistryConfig, RequestBody};
use berth_meta::{AccountId, AccountStore, MemoryMetadata, Timestamp};
use berth_model::{Digest, Name, Reference};
use berth_policy::Principal;
use berth_storage::MemoryStore;
use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt as _, Full};
use serde_json::{Value, json};

use super::openapi::OpenApi;

pub const ACCOUNT: AccountId = AccountId(10042);
pub const OTHER: AccountId = AccountId(20000);
pub const ADMIN_PASSWORD: &str = "admin-password";

pub struct World {
    pub console: Console,
    pub registry: Arc<Registry>,
    pub api: OpenApi,
    pub covered: Mutex<BTreeSet<(String, String)>>,
}

#[derive(Clone)]
pub enum Auth {
    None,
    Basic(String, String),
    Cookie(String),
    Token(String),
}

pub fn basic(user: &str, password: &str) -> Auth {
    Auth::Basic(user.into(), password.into())
}

#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: http::HeaderMap,
    pub body: Value,
}

impl Answer {
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }

    pub fn message(&self) -> &str {
        self.body["error"]["message"].as_str().unwrap_or("")
    }
}

pub async fn world() -> World {
    let meta = Arc::new(MemoryMetadata::new());
    meta.create_account(OTHER, "other", Timestamp::now())
        .await
        .unwrap();
    let registry = Arc::new(Registry::new(
        Arc::new(MemoryStore::new()),
        meta,
        RegistryConfig::default(),
    ));
    registry
        .identity()
        .bootstrap(ACCOUNT, "acme", Some(ADMIN_PASSWORD))
        .await
        .unwrap();
    for (account, name) in [(ACCOUNT, "alice"), (OTHER, "mallory")] {
        registry
            .identity()
            .create_console_user(Some(account), name, "password-of-a-person")
            .await
            .unwrap();
    }
    let config = ConsoleConfig {
        public_host: Some("registry.example.com".into()),
        default_account: ACCOUNT,
        tls: false,
    };
    World {
        console: Console::new(registry.clone(), config),
        registry,
        api: OpenApi::load(),
        covered: Mutex::new(BTreeSet::new()),
    }
}

pub fn alice() -> Auth {
    basic("alice", "password-of-a-person")
}

pub fn mallory() -> Auth {
    basic("mallory", "password-of-a-person")
}

pub fn admin() -> Auth {
    basic("admin", ADMIN_PASSWORD)
}

impl World {
    pub async fn call(
        &self,
        auth: &Auth,
        method: Method,
        uri: &str,
        body: Option<Value>,
    ) -> Answer {
        self.call_with(auth, method, uri, body, &[]).await
    }

    /// A call from `source` (the peer address logins are throttled by).
    pub async fn call_from(
        &self,
        source: std::net::IpAddr,
        auth: &Auth,
        method: Method,
        uri: &str,
        body: Option<Value>,
    ) -> Answer {
        self.call_as(Some(source), auth, method, uri, body, &[])
            .await
    }

    pub async fn call_with(
        &self,
        auth: &Auth,
        method: Method,
        uri: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Answer {
        self.call_as(None, auth, method, uri, body, headers).await
    }

    async fn call_as(
        &self,
        source: Option<std::net::IpAddr>,
        auth: &Auth,
        method: Method,
        uri: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Answer {
        let mut request = Request::builder()
            .method(method.clone())
            .uri(uri)
            .header("host", "console.test");
        match auth {
            Auth::None => {}
            Auth::Basic(u, p) => {
                request = request.header(
                    "authorization",
                    format!("Basic {}", STANDARD.encode(format!("{u}:{p}"))),
                )
            }
            Auth::Cookie(c) => request = request.header("cookie", c.as_str()),
            Auth::Token(t) => request = request.header("authorization", format!("Bearer {t}")),
        }
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let bytes = match body {
            Some(value) => {
                request = request.header("content-type", "application/json");
                Bytes::from(value.to_string())
            }
            None => Bytes::new(),
        };
        let response = self
            .console
            .handle(source, request.body(Full::new(bytes)).unwrap())
            .await;
        let status = response.status();
        let headers = response.headers().clone();
        let raw = response.into_body().collect().await.unwrap().to_bytes();
        let path = uri.split('?').next().unwrap();
        self.api.check(method.as_str(), path, status.as_u16(), &raw);
        // An operation is covered once it has succeeded: a refusal proves the checks, not the
        // operation.
        if status.is_success() {
            self.covered
                .lock()
                .unwrap()
                .insert((method.to_string(), self.api.template_of(path)));
        }
        let body = if raw.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&raw).unwrap()
        };
        Answer {
            status,
            headers,
            body,
        }
    }

    pub async fn create_repository(&self, auth: &Auth, name: &str, quota: Option<u64>) -> Answer {
        let body = json!({"name": name, "access_level": "private", "quota_bytes": quota});
        self.call(auth, Method::POST, "/api/v1/repositories", Some(body))
            .await
    }

    /// Pushes a one-layer image through the engine, as a registry client would.
    pub async fn push(&self, image: &str, tag: &str, seed: &str) -> Digest {
        let name = Name::parse(image).unwrap();
        let who = Principal::SystemAdmin;
        let mut descriptors = Vec::new();
        for part in ["config", "layer"] {
            let bytes = Bytes::from(format!("{part} of {seed}"));
            let digest = Digest::sha256(&bytes);
            let size = bytes.len() as u64;
            let body = Box::pin(futures::stream::once(async move { Ok(bytes) }));
            self.registry
                .put_blob(&who, &name, &digest, RequestBody::new(body, None))
                .await
                .unwrap();
            descriptors.push(json!({"digest": digest.to_string(), "size": size}));
        }
        let mut config = descriptors[0].clone();
        config["mediaType"] = json!("application/vnd.oci.image.config.v1+json");
        let mut layer = descriptors[1].clone();
        layer["mediaType"] = json!("application/vnd.oci.image.layer.v1.tar+gzip");
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": config,
            "layers": [layer],
        });
        self.registry
            .put_manifest(
                &who,
                &name,
                &Reference::parse(tag).unwrap(),
                RequestBody::from_bytes(Bytes::from(manifest.to_string())),
                Some("application/vnd.oci.image.manifest.v1+json"),
            )
            .await
            .unwrap()
            .digest
    }
}
