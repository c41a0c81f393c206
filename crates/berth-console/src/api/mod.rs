//! The management API under `/api/v1`: routing, who is calling, errors, and request bodies.
//! The endpoints live by area: repositories and their images (`repositories.rs`), remote
//! registries (`registries.rs`), replication rules and their executions (`replication.rs`),
//! repository users (`users.rs`), and sessions, accounts, console
//! users and API tokens (`admin.rs`).

mod admin;
mod registries;
mod replication;
mod repositories;
mod users;

use std::net::IpAddr;

use berth_core::identity::{API_TOKEN_PREFIX, IdentityError};
use berth_core::{ManageError, Manager, ReadError, RequestBody};
use berth_meta::{AccountId, ConsoleUser, Page};
use berth_model::RepositoryName;
use berth_model::http_text::{Plus, basic_credentials, percent_decode, query_pairs, strip_scheme};
use berth_policy::Principal;
use http::{HeaderMap, Method, StatusCode, header};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::session;
use crate::{Answer, Console};

/// A failure, as `{"error":{"code","message"}}` with its status.
#[derive(Debug)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) code: &'static str,
    pub(crate) message: String,
    /// Seconds to wait (429).
    pub(crate) retry_after: Option<u64>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "INVALID", message)
    }

    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "NOT_FOUND", message)
    }

    pub(crate) fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "FORBIDDEN", message)
    }

    pub(crate) fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "CONFLICT", message)
    }

    fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", message)
    }

    /// A server failure: its cause chain goes to the log (inside the request's span, which
    /// names its id); the caller reads only that the server failed.
    /// A backend that cannot be reached is 503 `UNAVAILABLE` naming it, with `Retry-After`.
    pub(crate) fn internal(e: &(dyn std::error::Error + 'static)) -> Self {
        tracing::error!(error = %berth_core::error_chain(e), "the management API failed");
        berth_core::metrics::note_backend_failure(e);
        if let Some(outage) = berth_core::unavailable_backend(e) {
            return ApiError {
                retry_after: Some(5),
                ..Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "UNAVAILABLE",
                    format!("{outage} is unavailable; try again in a moment"),
                )
            };
        }
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL",
            "internal error; the server log has the cause under this request's id",
        )
    }

    /// The metadata store's answer, for the API.
    pub(crate) fn meta(e: berth_meta::Error) -> Self {
        match e {
            berth_meta::Error::NotFound { .. } => Self::not_found(e.to_string()),
            berth_meta::Error::AlreadyExists { .. } => Self::conflict(e.to_string()),
            berth_meta::Error::RepositoryNotEmpty { .. } => Self::conflict(e.to_string()),
            berth_meta::Error::RegistryInUse { .. } => Self::conflict(e.to_string()),
            berth_meta::Error::RegistryUsedByRule { .. } => Self::conflict(e.to_string()),
            berth_meta::Error::ForeignRepository(r) => {
                Self::invalid(format!("repository {r} does not exist in this account"))
            }
            e => Self::internal(&e),
        }
    }

    /// A login or credential failure, for the API.
    pub(crate) fn identity(e: IdentityError) -> Self {
        match e {
            IdentityError::BadCredentials
            | IdentityError::Expired { .. }
            | IdentityError::Disabled { .. } => Self::unauthorized(e.to_string()),
            IdentityError::TooManyAttempts { retry_after } => ApiError {
                retry_after: Some(retry_after.as_secs().max(1)),
                ..Self::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "TOO_MANY_REQUESTS",
                    e.to_string(),
                )
            },
            IdentityError::Invalid(m) => Self::invalid(m),
            IdentityError::NotFound { .. } => Self::not_found(e.to_string()),
            IdentityError::AlreadyExists { .. } => Self::conflict(e.to_string()),
            IdentityError::ForeignRepository(r) => {
                Self::invalid(format!("repository {r} does not exist in this account"))
            }
            e => Self::internal(&e),
        }
    }

    /// A management failure, for the API.
    pub(crate) fn manage(e: ManageError) -> Self {
        match e {
            ManageError::Denied(denial) => Self::forbidden(denial.to_string()),
            ManageError::NotFound { .. } => Self::not_found(e.to_string()),
            ManageError::Invalid(message) => Self::invalid(message),
            ManageError::Conflict(message) => Self::conflict(message),
            ManageError::Identity(e) => Self::identity(e),
            ManageError::Metadata(e) => Self::meta(e),
            ManageError::Engine(e) => Self::engine(e),
        }
    }

    /// An engine failure (artifact and tag deletes), for the API.
    pub(crate) fn engine(e: berth_core::Error) -> Self {
        match e {
            berth_core::Error::ManifestUnknown { .. }
            | berth_core::Error::NameUnknown(_)
            | berth_core::Error::ImageUnknown(_) => Self::not_found(e.to_string()),
            berth_core::Error::Denied(_) | berth_core::Error::ReadOnly(_) => {
                Self::forbidden(e.to_string())
            }
            e => Self::internal(&e),
        }
    }

    /// A body that could not be read.
    fn body(e: ReadError) -> Self {
        match e {
            ReadError::TooLarge { limit } => Self::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "PAYLOAD_TOO_LARGE",
                format!("request bodies are at most {limit} bytes"),
            ),
            ReadError::Busy => ApiError {
                retry_after: Some(1),
                ..Self::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "TOO_MANY_REQUESTS",
                    e.to_string(),
                )
            },
            e => Self::invalid(e.to_string()),
        }
    }
}

pub(crate) type ApiResult<T = Answer> = Result<T, ApiError>;

/// Who calls the management API.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    /// The console user (or administrator) record.
    pub(crate) user: ConsoleUser,
    /// What it may do, for the engine's checks.
    pub(crate) principal: Principal,
    /// Whether it authenticated with the session cookie (writes then need a same-origin
    /// JSON request).
    pub(crate) by_cookie: bool,
}

impl Caller {
    pub(crate) fn is_admin(&self) -> bool {
        self.principal == Principal::SystemAdmin
    }

    /// The account a request acts on: the `account` query parameter, else the console user's
    /// own, else (for the administrator) the default account. Whether the caller may act on it
    /// is the engine's decision.
    pub(crate) fn account(&self, query: &Query, default: AccountId) -> ApiResult<AccountId> {
        match (&self.principal, query.get("account")) {
            (_, Some(asked)) => asked
                .parse()
                .map(AccountId)
                .map_err(|_| ApiError::invalid(format!("account {asked:?} is not a number"))),
            (Principal::ConsoleUser { account }, None) => Ok(*account),
            (_, None) => Ok(default),
        }
    }
}

/// The query string, decoded.
#[derive(Debug, Default)]
pub(crate) struct Query(Vec<(String, String)>);

impl Query {
    fn parse(query: Option<&str>) -> Self {
        Query(query_pairs(query.unwrap_or_default()))
    }

    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A required parameter.
    pub(crate) fn require(&self, name: &str) -> ApiResult<&str> {
        self.get(name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| ApiError::invalid(format!("query parameter {name} is required")))
    }

    /// `page` (from 1, default 1) and `size` (1 to 100, default 20); given empty, they are
    /// refused like any other value that is not a number.
    pub(crate) fn page(&self) -> ApiResult<Page> {
        let number = |name: &str, default: u32, max: u32| -> ApiResult<u32> {
            match self.get(name) {
                None => Ok(default),
                Some(v) => match v.parse::<u32>() {
                    Ok(n) if (1..=max).contains(&n) => Ok(n),
                    _ => Err(ApiError::invalid(format!(
                        "{name} must be a whole number from 1 to {max}, not {v:?}"
                    ))),
                },
            }
        };
        Ok(Page {
            page: number("page", 1, u32::MAX)?,
            size: number("size", 20, 100)?,
        })
    }
}

/// One request, as the endpoints see it.
pub(crate) struct Call<'a> {
    pub(crate) console: &'a Console,
    pub(crate) method: Method,
    pub(crate) headers: HeaderMap,
    pub(crate) query: Query,
    /// The body, unread: it is read only once the caller is known ([`Call::json`] takes the
    /// [`Caller`] as proof), so nobody unauthorized makes the server hold a byte of it.
    body: std::sync::Mutex<Option<RequestBody>>,
    pub(crate) source: Option<IpAddr>,
}

/// The largest body of a login (a name and a password).
const MAX_LOGIN_BODY: u64 = 16 << 10;

impl Call<'_> {
    /// The JSON body as `T`, read now that `_caller` is known (an empty body reads as `{}`).
    pub(crate) async fn json<T: DeserializeOwned>(&self, _caller: &Caller) -> ApiResult<T> {
        self.read_json(MAX_BODY).await
    }

    /// The JSON body of a login, before anyone is known: the credentials are in it, so it is
    /// read first, but only up to a few KiB.
    pub(crate) async fn login_json<T: DeserializeOwned>(&self) -> ApiResult<T> {
        self.read_json(MAX_LOGIN_BODY).await
    }

    async fn read_json<T: DeserializeOwned>(&self, limit: u64) -> ApiResult<T> {
        let body = self.body.lock().expect("body lock").take().ok_or_else(|| {
            ApiError::internal(&std::io::Error::other("the request body was read twice"))
        })?;
        let budget = self.console.registry.memory_budget();
        let held = budget.read(body, limit).await.map_err(ApiError::body)?;
        let bytes = held.bytes();
        if bytes.is_empty() {
            return serde_json::from_value(Value::Object(serde_json::Map::new()))
                .map_err(|e| ApiError::invalid(format!("request body: {e}")));
        }
        let json = self
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        if !json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UNSUPPORTED_MEDIA_TYPE",
                "request bodies are JSON (Content-Type: application/json)",
            ));
        }
        // Every body of this API is an object: serde would take a struct from an array too.
        let value: Value = serde_json::from_slice(bytes)
            .map_err(|e| ApiError::invalid(format!("request body: {e}")))?;
        if !value.is_object() {
            return Err(ApiError::invalid("the request body is a JSON object"));
        }
        serde_json::from_value(value).map_err(|e| ApiError::invalid(format!("request body: {e}")))
    }

    /// The JSON object body, whose fields must all be among `allowed` (a misspelt field is an
    /// error, not a silent no-op).
    pub(crate) async fn object(
        &self,
        caller: &Caller,
        allowed: &[&str],
    ) -> ApiResult<serde_json::Map<String, Value>> {
        let map: serde_json::Map<String, Value> = self.json(caller).await?;
        if let Some(unknown) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(ApiError::invalid(format!(
                "unknown field {unknown:?}; expected {}",
                allowed.join(", ")
            )));
        }
        Ok(map)
    }

    /// The host clients reach the registry at, for commands shown to users.
    pub(crate) fn registry_host(&self) -> String {
        match &self.console.config.public_host {
            Some(host) => host.clone(),
            None => self
                .headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("localhost")
                .to_owned(),
        }
    }

    /// The registry's address for commands: `host` (from [`Call::registry_host`]), over plain
    /// HTTP unless the console is configured for TLS (its own, or an https public URL) or a
    /// proxy in front says the client came over HTTPS (`X-Forwarded-Proto`).
    pub(crate) fn registry_address<'h>(&self, host: &'h str) -> crate::json::RegistryAddress<'h> {
        let proto = self
            .headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok());
        crate::json::RegistryAddress {
            host,
            plain_http: !self.console.config.tls && !berth_model::http_text::forwarded_https(proto),
        }
    }

    /// Who calls: the session cookie, Basic credentials of a console user, or an API token.
    pub(crate) async fn caller(&self) -> ApiResult<Caller> {
        let identity = self.console.registry.identity();
        if let Some(value) = self.headers.get(header::AUTHORIZATION) {
            let value = value.to_str().unwrap_or_default();
            if let Some(token) = strip_scheme(value, "Bearer") {
                if !token.starts_with(API_TOKEN_PREFIX) {
                    return Err(ApiError::unauthorized(
                        "the management API takes API tokens (berth_...), not registry tokens",
                    ));
                }
                let (principal, user) = identity
                    .login_with_api_token(self.source, token)
                    .await
                    .map_err(ApiError::identity)?;
                return Ok(Caller {
                    user,
                    principal,
                    by_cookie: false,
                });
            }
            let (name, password) = basic_credentials(value).ok_or_else(|| {
                ApiError::unauthorized("Authorization must be Basic credentials or an API token")
            })?;
            let principal = identity
                .login(self.source, &name, &password)
                .await
                .map_err(ApiError::identity)?;
            return self.console_caller(principal, &name, false).await;
        }
        let Some(cookie) = session::from_headers(&self.headers) else {
            return Err(ApiError::unauthorized("log in first"));
        };
        let (principal, user) = identity
            .console_session(cookie)
            .await
            .map_err(|e| match e {
                IdentityError::BadCredentials | IdentityError::Disabled { .. } => {
                    ApiError::unauthorized("the session ended; log in again")
                }
                e => ApiError::identity(e),
            })?;
        Ok(Caller {
            user,
            principal,
            by_cookie: true,
        })
    }

    async fn console_caller(
        &self,
        principal: Principal,
        name: &str,
        by_cookie: bool,
    ) -> ApiResult<Caller> {
        if !matches!(
            principal,
            Principal::ConsoleUser { .. } | Principal::SystemAdmin
        ) {
            return Err(ApiError::forbidden(
                "repository users push and pull; the management API is for console users",
            ));
        }
        let user = self
            .console
            .registry
            .identity()
            .console_user(name)
            .await
            .map_err(ApiError::identity)?
            .ok_or_else(|| ApiError::unauthorized("invalid username or password"))?;
        Ok(Caller {
            user,
            principal,
            by_cookie,
        })
    }

    /// A caller allowed to make this request: a cookie-authenticated write must come from a
    /// page of this origin (SameSite cookies already stop other sites; this also refuses a
    /// same-site page of another origin).
    pub(crate) async fn authorized(&self) -> ApiResult<Caller> {
        let caller = self.caller().await?;
        berth_core::note_caller(&caller.user.username);
        if caller.by_cookie && self.method != Method::GET && self.method != Method::HEAD {
            let host = self.headers.get(header::HOST).and_then(|h| h.to_str().ok());
            let origin = self
                .headers
                .get(header::ORIGIN)
                .and_then(|h| h.to_str().ok());
            if let (Some(origin), Some(host)) = (origin, host) {
                let origin_host = origin.split_once("://").map_or(origin, |(_, h)| h);
                if origin_host != host {
                    return Err(ApiError::forbidden(format!(
                        "a request from {origin} cannot use this console's session"
                    )));
                }
            }
        }
        Ok(caller)
    }

    /// The engine's management operations, on behalf of `caller`.
    pub(crate) fn manager(&self, caller: &Caller) -> Manager<'_> {
        self.console
            .registry
            .manage(caller.principal.clone(), Some(caller.user.clone()))
    }
}

/// Largest request body the API reads.
const MAX_BODY: u64 = 1 << 20;

/// A parsed repository name from a path segment, or 404.
pub(crate) fn repository_name(segment: &str) -> ApiResult<RepositoryName> {
    RepositoryName::parse(segment)
        .map_err(|_| ApiError::not_found(format!("repository {segment} does not exist")))
}

impl Console {
    /// Answers one `/api/v1/...` request.
    pub(crate) async fn api<B>(
        &self,
        source: Option<IpAddr>,
        request: http::Request<B>,
    ) -> Result<Answer, ApiError>
    where
        B: berth_core::HttpBody,
    {
        let (parts, body) = request.into_parts();
        let path = parts.uri.path().to_owned();
        let Some(rest) = path.strip_prefix("/api/v1") else {
            return Err(ApiError::not_found("no such endpoint"));
        };
        if rest == "/openapi.json" && parts.method == Method::GET {
            return Ok(Answer::raw_json(StatusCode::OK, crate::OPENAPI));
        }
        let length = parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        let body = RequestBody::from_http(body, length);
        let segments: Vec<String> = rest
            .trim_start_matches('/')
            .split('/')
            .map(|segment| {
                percent_decode(segment, Plus::Literal).unwrap_or_else(|| segment.to_owned())
            })
            .collect();
        let call = Call {
            console: self,
            method: parts.method.clone(),
            headers: parts.headers,
            query: Query::parse(parts.uri.query()),
            body: std::sync::Mutex::new(Some(body)),
            source,
        };
        let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
        let method = parts.method;
        use Method as M;
        match (&method, segments.as_slice()) {
            (&M::POST, ["session"]) => admin::login(&call).await,
            (&M::GET, ["session"]) => admin::whoami(&call).await,
            (&M::DELETE, ["session"]) => admin::logout(&call).await,
            (&M::PUT, ["session", "password"]) => admin::change_password(&call).await,
            (&M::GET, ["repositories"]) => repositories::list(&call).await,
            (&M::POST, ["repositories"]) => repositories::create(&call).await,
            (&M::GET, ["repositories", r]) => repositories::get(&call, r).await,
            (&M::PATCH, ["repositories", r]) => repositories::update(&call, r).await,
            (&M::DELETE, ["repositories", r]) => repositories::delete(&call, r).await,
            (&M::GET, ["repositories", r, "images"]) => repositories::images(&call, r).await,
            (&M::DELETE, ["repositories", r, "images"]) => {
                repositories::delete_image(&call, r).await
            }
            (&M::GET, ["repositories", r, "artifacts"]) => repositories::artifacts(&call, r).await,
            (&M::GET, ["repositories", r, "artifacts", digest]) => {
                repositories::artifact(&call, r, digest).await
            }
            (&M::DELETE, ["repositories", r, "artifacts", digest]) => {
                repositories::delete_artifact(&call, r, digest).await
            }
            (&M::DELETE, ["repositories", r, "tags", tag]) => {
                repositories::delete_tag(&call, r, tag).await
            }
            (&M::GET, ["repositories", r, "push-commands"]) => {
                repositories::push_commands(&call, r).await
            }
            (&M::GET, ["repositories", r, "history"]) => repositories::history(&call, r).await,
            (&M::GET, ["registries"]) => registries::list(&call).await,
            (&M::POST, ["registries"]) => registries::create(&call).await,
            (&M::GET, ["registries", name]) => registries::get(&call, name).await,
            (&M::PATCH, ["registries", name]) => registries::update(&call, name).await,
            (&M::DELETE, ["registries", name]) => registries::delete(&call, name).await,
            (&M::POST, ["registries", name, "ping"]) => registries::ping(&call, name).await,
            (&M::GET, ["replication-rules"]) => replication::list(&call).await,
            (&M::POST, ["replication-rules"]) => replication::create(&call).await,
            (&M::GET, ["replication-rules", name]) => replication::get(&call, name).await,
            (&M::PATCH, ["replication-rules", name]) => replication::update(&call, name).await,
            (&M::DELETE, ["replication-rules", name]) => replication::delete(&call, name).await,
            (&M::POST, ["replication-rules", name, "executions"]) => {
                replication::run(&call, name).await
            }
            (&M::GET, ["replication-rules", name, "executions"]) => {
                replication::executions(&call, name).await
            }
            (&M::GET, ["replication-rules", name, "executions", id]) => {
                replication::execution(&call, name, id).await
            }
            (&M::GET, ["repository-users"]) => users::list(&call).await,
            (&M::POST, ["repository-users"]) => users::create(&call).await,
            (&M::GET, ["repository-users", name]) => users::get(&call, name).await,
            (&M::PATCH, ["repository-users", name]) => users::update(&call, name).await,
            (&M::DELETE, ["repository-users", name]) => users::delete(&call, name).await,
            (&M::POST, ["repository-users", name, "secret"]) => {
                users::refresh_secret(&call, name).await
            }
            (&M::GET, ["accounts"]) => admin::accounts(&call).await,
            (&M::POST, ["accounts"]) => admin::create_account(&call).await,
            (&M::GET, ["console-users"]) => admin::console_users(&call).await,
            (&M::POST, ["console-users"]) => admin::create_console_user(&call).await,
            (&M::GET, ["console-users", name]) => admin::console_user(&call, name).await,
            (&M::PATCH, ["console-users", name]) => admin::update_console_user(&call, name).await,
            (&M::DELETE, ["console-users", name]) => admin::delete_console_user(&call, name).await,
            (&M::GET, ["api-tokens"]) => admin::api_tokens(&call).await,
            (&M::POST, ["api-tokens"]) => admin::create_api_token(&call).await,
            (&M::DELETE, ["api-tokens", id]) => admin::delete_api_token(&call, id).await,
            _ => Err(ApiError::not_found(format!(
                "no endpoint {method} /api/v1{rest}"
            ))),
        }
    }
}

/// A JSON answer.
pub(crate) fn ok(status: StatusCode, value: Value) -> ApiResult {
    Ok(Answer::json(status, &value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_default_and_refuse_nonsense() {
        let page = Query::parse(Some("page=3&size=50")).page().unwrap();
        assert_eq!((page.page, page.size), (3, 50));
        let page = Query::parse(None).page().unwrap();
        assert_eq!((page.page, page.size), (1, 20));
        for bad in ["page=0", "size=0", "size=101", "page=x", "page=-1"] {
            assert!(Query::parse(Some(bad)).page().is_err(), "{bad}");
        }
        assert_eq!(
            Query::parse(Some("image=a%2Fb+c")).get("image"),
            Some("a/b c")
        );
    }
}
