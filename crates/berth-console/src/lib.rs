//! berth's management REST API (`/api/v1`, described by an OpenAPI document) and its web
//! console (`/`).
//!
//! [`Console::handle`] takes an `http::Request` and answers: `/api/v1/...` with JSON (errors as
//! `{"error":{"code","message"}}`, lists as `items`, `page`, `size`, `total`), `/` and
//! `/assets/...` with the console's static page, script modules and style, which are hand-written
//! files embedded in the binary (no build step). Callers authenticate with the session cookie the
//! console's login sets (signed, so any node sharing the key accepts it), with HTTP Basic as a
//! console user or the system administrator, or with an API token. A console user sees and
//! manages its own account only; another account's repositories and users are "not found".

mod api;
pub mod json;
mod service;
mod session;

use std::net::IpAddr;
use std::sync::Arc;

use berth_core::Registry;
use berth_meta::AccountId;
use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt as _, Full, combinators::UnsyncBoxBody};

/// The OpenAPI 3 document of the management API, served at `/api/v1/openapi.json`.
pub const OPENAPI: &str = include_str!("../openapi.json");

const INDEX_HTML: &str = include_str!("../assets/index.html");

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// A file served at `/assets/<path>`.
struct Asset {
    path: &'static str,
    content_type: &'static str,
    body: &'static str,
}

/// The [`Asset`] of `assets/<path>`, embedded (the file names itself only once).
macro_rules! asset {
    ($path:literal, $content_type:expr) => {
        Asset {
            path: $path,
            content_type: $content_type,
            body: include_str!(concat!("../assets/", $path)),
        }
    };
}

/// The files served under `/assets/`: the style sheet and every script module, which name each
/// other by these paths (the module graph starts at `app.js`; a module missing here is a 404 in
/// the browser, and a test follows every import to catch it first).
const ASSETS: &[Asset] = &[
    asset!("app.css", CSS),
    asset!("app.js", JS),
    asset!("api.js", JS),
    asset!("dialogs.js", JS),
    asset!("commands.js", JS),
    asset!("dom.js", JS),
    asset!("format.js", JS),
    asset!("menus.js", JS),
    asset!("passwords.js", JS),
    asset!("routes.js", JS),
    asset!("shell.js", JS),
    asset!("table.js", JS),
    asset!("ui.js", JS),
    asset!("pages/accounts.js", JS),
    asset!("pages/api-tokens.js", JS),
    asset!("pages/artifact.js", JS),
    asset!("pages/artifacts.js", JS),
    asset!("pages/console-users.js", JS),
    asset!("pages/history.js", JS),
    asset!("pages/login.js", JS),
    asset!("pages/registries.js", JS),
    asset!("pages/repositories.js", JS),
    asset!("pages/repository.js", JS),
    asset!("pages/users.js", JS),
];

/// A response body (the same type as berth-v2's, so a server can answer with either).
pub type Body = UnsyncBoxBody<Bytes, std::io::Error>;

/// Console settings.
#[derive(Debug, Clone)]
pub struct ConsoleConfig {
    /// The host (and port) users push to, for the commands the console shows; when `None`,
    /// the `Host` of each request.
    pub public_host: Option<String>,
    /// The account the system administrator acts on when a request names none.
    pub default_account: AccountId,
    /// Whether users reach the console over TLS (the session cookie is then `Secure`).
    pub tls: bool,
}

impl Default for ConsoleConfig {
    /// Commands name each request's `Host`; the administrator's default account is 1 (the one
    /// [`Registry::in_memory`] creates); plain HTTP.
    fn default() -> Self {
        ConsoleConfig {
            public_host: None,
            default_account: AccountId(1),
            tls: false,
        }
    }
}

/// The management API and web console over a registry.
#[derive(Debug, Clone)]
pub struct Console {
    registry: Arc<Registry>,
    config: Arc<ConsoleConfig>,
}

/// An answer: status, headers, bytes.
pub(crate) struct Answer {
    status: StatusCode,
    headers: Vec<(header::HeaderName, String)>,
    body: Bytes,
}

impl Answer {
    pub(crate) fn empty(status: StatusCode) -> Self {
        Answer {
            status,
            headers: Vec::new(),
            body: Bytes::new(),
        }
    }

    pub(crate) fn json(status: StatusCode, value: &serde_json::Value) -> Self {
        Self::raw_json(status, value.to_string())
    }

    pub(crate) fn raw_json(status: StatusCode, body: impl Into<Bytes>) -> Self {
        Answer {
            status,
            headers: vec![(header::CONTENT_TYPE, "application/json".into())],
            body: body.into(),
        }
        .header(header::CACHE_CONTROL, "no-store")
    }

    fn asset(content_type: &str, body: &'static str) -> Self {
        Answer {
            status: StatusCode::OK,
            headers: vec![(header::CONTENT_TYPE, content_type.into())],
            body: Bytes::from_static(body.as_bytes()),
        }
        .header(header::CACHE_CONTROL, "no-cache")
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
    }

    pub(crate) fn header(mut self, name: header::HeaderName, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    fn into_response(self) -> Response<Body> {
        let mut response = Response::new(
            Full::new(self.body)
                .map_err(|never| match never {})
                .boxed_unsync(),
        );
        *response.status_mut() = self.status;
        for (name, value) in self.headers {
            if let Ok(value) = HeaderValue::from_str(&value) {
                response.headers_mut().append(name, value);
            }
        }
        response
    }
}

impl From<api::ApiError> for Answer {
    fn from(e: api::ApiError) -> Self {
        let body = serde_json::json!({"error": {"code": e.code, "message": e.message}});
        let answer = Answer::json(e.status, &body);
        match e.retry_after {
            Some(seconds) => answer.header(header::RETRY_AFTER, seconds.to_string()),
            None => answer,
        }
    }
}

impl Console {
    /// The console over `registry` (whose metadata store keeps the sessions, so every node
    /// sharing it accepts them).
    pub fn new(registry: Arc<Registry>, config: ConsoleConfig) -> Self {
        Console {
            registry,
            config: Arc::new(config),
        }
    }

    /// Whether `path` is the console's: the API, the page and its assets.
    pub fn owns(path: &str) -> bool {
        path == "/" || path.starts_with("/api/") || path.starts_with("/assets/")
    }

    /// Answers one request from `source` (the peer address, for slowing down failed logins).
    pub async fn handle<B>(&self, source: Option<IpAddr>, request: Request<B>) -> Response<Body>
    where
        B: berth_core::HttpBody,
    {
        let path = request.uri().path();
        let is_read = request.method() == Method::GET || request.method() == Method::HEAD;
        let answer = if path.starts_with("/api/") {
            match self.api(source, request).await {
                Ok(answer) => answer,
                Err(e) => e.into(),
            }
        } else if !is_read {
            api::ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "METHOD_NOT_ALLOWED",
                "the console's pages are read with GET",
            )
            .into()
        } else if path == "/" {
            Answer::asset("text/html; charset=utf-8", INDEX_HTML)
                .header(
                    header::CONTENT_SECURITY_POLICY,
                    "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
                )
                .header(header::X_FRAME_OPTIONS, "DENY")
                .header(header::REFERRER_POLICY, "same-origin")
        } else {
            let name = path.strip_prefix("/assets/");
            match ASSETS.iter().find(|asset| Some(asset.path) == name) {
                Some(asset) => Answer::asset(asset.content_type, asset.body),
                None => api::ApiError::not_found("no such page").into(),
            }
        };
        answer.into_response()
    }
}
