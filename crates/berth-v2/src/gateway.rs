//! The registry's front door: who is calling, the token endpoint, and the challenge.
//!
//! [`Gateway::handle`] answers `/token` itself and everything under `/v2` through [`V2`], after
//! resolving the caller's [`Principal`] from the `Authorization` header:
//! - none: anonymous (it may pull public repositories; `GET /v2/` asks it to log in);
//! - `Basic`: a repository user's name and secret, or a console user's or the system
//!   administrator's name and password, checked against the current record at every request
//!   (expiry and permissions included);
//! - `Bearer`: a token from `/token`, verified by signature alone.
//!
//! Every 401 carries the `WWW-Authenticate` challenge of the configured [`AuthMode`]; in token
//! mode it names the scope the request needs, so a client knows what token to fetch.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use berth_core::identity::IdentityError;
use berth_core::{Error as EngineError, Registry};
use berth_model::http_text::{basic_credentials, forwarded_https, query_pairs, strip_scheme};
use berth_model::{AccountId, Name};
use berth_policy::{Action, Denial, Principal};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, Uri, header};

use crate::errors::{ErrorCode, OciError};
use crate::handlers::{Body, V2, error_response, full};
use crate::route::{self, Route, StartUpload};
use crate::token::{self, Claims, TokenKey};

/// How clients are asked to authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    /// `WWW-Authenticate: Basic`: credentials on every request.
    Basic,
    /// `WWW-Authenticate: Bearer realm=.../token`: the Docker token flow. Basic credentials are
    /// still accepted on requests, for simple clients.
    Token,
}

/// Authentication settings.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// The challenge clients get.
    pub mode: AuthMode,
    /// The service name in challenges and tokens.
    pub service: String,
    /// The registry's public base URL (`https://registry.example.com`) for the token realm; when
    /// `None`, the realm is built from the request's `Host` and [`AuthConfig::tls`].
    pub public_url: Option<String>,
    /// Whether clients reach this server over TLS (for a realm built from `Host`).
    pub tls: bool,
    /// How long a token lives.
    pub token_ttl: Duration,
    /// The key tokens are signed with; nodes sharing a store must share it.
    pub key: TokenKey,
}

impl AuthConfig {
    /// Token mode, service `berth`, tokens of 5 minutes, signed with `key`.
    pub fn new(key: TokenKey) -> Self {
        AuthConfig {
            mode: AuthMode::Token,
            service: "berth".to_owned(),
            public_url: None,
            tls: false,
            token_ttl: Duration::from_secs(300),
            key,
        }
    }
}

/// Authentication in front of the v2 protocol.
#[derive(Debug, Clone)]
pub struct Gateway {
    v2: V2,
    registry: Arc<Registry>,
    config: Arc<AuthConfig>,
}

/// Scopes one token request may ask for: clients ask for one to three (a push with a mount asks
/// for two); each costs a repository lookup and grows the token.
const MAX_SCOPES: usize = 32;

/// An answer made here rather than by the protocol.
type Refusal = Box<Response<Body>>;

impl Gateway {
    /// The front door of `registry`.
    pub fn new(registry: Arc<Registry>, config: AuthConfig) -> Self {
        Gateway {
            v2: V2::new(registry.clone()),
            registry,
            config: Arc::new(config),
        }
    }

    /// Whether `path` is the gateway's to answer (`/v2`, `/v2/...`, `/token`).
    pub fn owns(path: &str) -> bool {
        path == "/v2" || path.starts_with("/v2/") || path == "/token"
    }

    /// Answers one request from `source` (the peer address, for slowing down failed logins).
    pub async fn handle<B>(&self, source: Option<IpAddr>, request: Request<B>) -> Response<Body>
    where
        B: berth_core::HttpBody,
    {
        let path = request.uri().path();
        if path == "/token" {
            return self
                .issue_token(source, request.method(), request.uri(), request.headers())
                .await;
        }
        let (method, uri) = (request.method().clone(), request.uri().clone());
        let origin = origin(request.headers(), self.config.tls);
        let (principal, claims) = match self.principal(source, request.headers()).await {
            Ok(found) => found,
            Err(refusal) => return self.challenge(*refusal, &method, &uri, &origin, None),
        };
        note_caller(&caller_name(&principal, request.headers()).0);
        let is_base = path == "/v2" || path == "/v2/";
        if is_base && principal == Principal::Anonymous {
            let e = OciError::new(ErrorCode::Unauthorized, "authentication required");
            return self.challenge(error_response(&e), &method, &uri, &origin, None);
        }
        let principal = match (&claims, path == "/v2/_catalog") {
            // A token for the catalog lists what its subject may see now.
            (Some(claims), true) if claims.allows("registry", "catalog", "*") => {
                match self.registry.identity().principal_of(&claims.sub).await {
                    Ok(p) => p,
                    Err(e) => return identity_refusal(&e),
                }
            }
            _ => principal,
        };
        let response = self.v2.handle(&principal, request).await;
        if response.status() == StatusCode::UNAUTHORIZED {
            let error = claims.is_some().then_some("insufficient_scope");
            return self.challenge(response, &method, &uri, &origin, error);
        }
        response
    }

    /// The caller, from the `Authorization` header; the token's claims when it is a token.
    async fn principal(
        &self,
        source: Option<IpAddr>,
        headers: &HeaderMap,
    ) -> Result<(Principal, Option<Claims>), Refusal> {
        let Some(value) = headers.get(header::AUTHORIZATION) else {
            return Ok((Principal::Anonymous, None));
        };
        let value = value.to_str().unwrap_or_default();
        if let Some(token) = strip_scheme(value, "Bearer") {
            let claims = token::verify(
                &self.config.key,
                &self.config.service,
                token,
                self.registry.now(),
            )
            .map_err(|e| {
                Box::new(error_response(&OciError::new(
                    ErrorCode::Unauthorized,
                    e.to_string(),
                )))
            })?;
            return Ok((Principal::Token(claims.facts()), Some(claims)));
        }
        if is_empty_basic(value) {
            return Ok((Principal::Anonymous, None));
        }
        let (user, password) = basic_credentials(value).ok_or_else(|| {
            Box::new(error_response(&OciError::new(
                ErrorCode::Unauthorized,
                "the Authorization header must be Basic credentials or a Bearer token",
            )))
        })?;
        match self
            .registry
            .identity()
            .login(source, &user, &password)
            .await
        {
            Ok(principal) => Ok((principal, None)),
            Err(e) => Err(Box::new(identity_refusal(&e))),
        }
    }

    /// Adds the challenge to a 401 answer.
    fn challenge(
        &self,
        mut response: Response<Body>,
        method: &Method,
        uri: &Uri,
        origin: &str,
        error: Option<&str>,
    ) -> Response<Body> {
        if response.status() != StatusCode::UNAUTHORIZED {
            return response;
        }
        let challenge = match self.config.mode {
            AuthMode::Basic => format!("Basic realm=\"{}\"", self.config.service),
            AuthMode::Token => {
                let mut c = format!(
                    "Bearer realm=\"{}\",service=\"{}\"",
                    self.realm(origin),
                    self.config.service
                );
                let scopes = scopes(method, uri);
                if !scopes.is_empty() {
                    c.push_str(&format!(",scope=\"{}\"", scopes.join(" ")));
                }
                if let Some(error) = error {
                    c.push_str(&format!(",error=\"{error}\""));
                }
                c
            }
        };
        if let Ok(value) = HeaderValue::from_str(&challenge) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, value);
        }
        response
    }

    /// The token endpoint's URL: under the public URL, else under the request's origin.
    fn realm(&self, origin: &str) -> String {
        match &self.config.public_url {
            Some(url) => format!("{}/token", url.trim_end_matches('/')),
            None => format!("{origin}/token"),
        }
    }

    /// `GET /token?service=...&scope=...`: a token granting what the caller may do of what it
    /// asks, decided now against the current records.
    async fn issue_token(
        &self,
        source: Option<IpAddr>,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
    ) -> Response<Body> {
        if method != Method::GET {
            let e = OciError::new(ErrorCode::Unsupported, "the token endpoint takes GET")
                .with_header(header::ALLOW, "GET");
            return error_response(&e);
        }
        let mut scopes = Vec::new();
        for (key, value) in query_pairs(uri.query().unwrap_or_default()) {
            match key.as_str() {
                "scope" => scopes.extend(value.split(' ').map(str::to_owned)),
                "service" if value != self.config.service => {
                    let e = OciError::new(
                        ErrorCode::BadRequest,
                        format!(
                            "this registry's service is {:?}, not {value:?}",
                            self.config.service
                        ),
                    );
                    return error_response(&e);
                }
                _ => {}
            }
        }
        if scopes.len() > MAX_SCOPES {
            let e = OciError::new(
                ErrorCode::BadRequest,
                format!("at most {MAX_SCOPES} scopes per token request"),
            );
            return error_response(&e);
        }
        let principal = match headers.get(header::AUTHORIZATION) {
            None => Principal::Anonymous,
            Some(value) if is_empty_basic(value.to_str().unwrap_or_default()) => {
                Principal::Anonymous
            }
            Some(value) => {
                let Some((user, password)) = basic_credentials(value.to_str().unwrap_or_default())
                else {
                    let e = OciError::new(
                        ErrorCode::Unauthorized,
                        "the token endpoint takes Basic credentials",
                    );
                    return self.basic_challenge(error_response(&e));
                };
                match self
                    .registry
                    .identity()
                    .login_current(source, &user, &password)
                    .await
                {
                    Ok(p) => p,
                    Err(e) => return self.basic_challenge(identity_refusal(&e)),
                }
            }
        };
        let (subject, account) = caller_name(&principal, headers);
        note_caller(&subject);
        let now = self.registry.now();
        let mut claims = Claims::new(
            &self.config.service,
            &subject,
            account,
            now,
            self.config.token_ttl,
        );
        for scope in scopes.iter().filter(|s| !s.is_empty()) {
            if let Err(e) = self.decide(&principal, scope, &mut claims).await {
                return error_response(&OciError::from(&e));
            }
        }
        let token = token::sign(&self.config.key, &claims);
        let body = serde_json::json!({
            "token": token,
            "access_token": token,
            "expires_in": claims.expires_in(),
            "issued_at": now.rfc3339(),
        });
        let mut response = Response::new(full(body.to_string()));
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }

    /// Grants or refuses each action of one `type:name:actions` scope.
    async fn decide(
        &self,
        principal: &Principal,
        scope: &str,
        claims: &mut Claims,
    ) -> Result<(), EngineError> {
        let Some((kind, rest)) = scope.split_once(':') else {
            return Ok(());
        };
        let Some((name, actions)) = rest.rsplit_once(':') else {
            return Ok(());
        };
        match kind {
            "registry" if name == "catalog" => {
                if *principal != Principal::Anonymous {
                    claims.grant("registry", "catalog", vec!["*".to_owned()]);
                }
                Ok(())
            }
            "repository" => {
                let Ok(oci_name) = Name::parse(name) else {
                    return Ok(());
                };
                let mut wanted = Vec::new();
                for action in actions.split(',') {
                    match action {
                        "pull" => wanted.push(Action::Pull),
                        "push" => wanted.push(Action::Push),
                        "delete" => wanted.push(Action::Delete),
                        "*" => wanted.extend([Action::Pull, Action::Push, Action::Delete]),
                        _ => {}
                    }
                }
                wanted.sort_by_key(|a| a.as_str());
                wanted.dedup();
                let mut granted = Vec::new();
                for action in wanted {
                    match self
                        .registry
                        .check(principal, action, oci_name.repository())
                        .await
                    {
                        Ok(()) => granted.push(action.as_str().to_owned()),
                        // Not logged in, or no such repository: nothing to grant, and the
                        // request answers for itself (401, or 404 NAME_UNKNOWN).
                        Err(EngineError::NameUnknown(_))
                        | Err(EngineError::Denied(
                            Denial::AuthenticationRequired { .. }
                            | Denial::InsufficientScope { .. },
                        )) => {}
                        Err(EngineError::Denied(denial)) => {
                            claims.refuse(name, action, denial.to_string());
                        }
                        Err(e) => return Err(e),
                    }
                }
                if !granted.is_empty() {
                    claims.grant("repository", name, granted);
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn basic_challenge(&self, mut response: Response<Body>) -> Response<Body> {
        if response.status() == StatusCode::UNAUTHORIZED {
            let value = format!("Basic realm=\"{}\"", self.config.service);
            if let Ok(value) = HeaderValue::from_str(&value) {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, value);
            }
        }
        response
    }
}

/// The answer to a failed login.
fn identity_refusal(e: &IdentityError) -> Response<Body> {
    error_response(&OciError::from(e))
}

/// `Basic` with an empty name and password (`Og==`), which skopeo and podman send when they have
/// no credentials for a registry that challenged them: anonymous, not a failed login.
fn is_empty_basic(value: &str) -> bool {
    basic_credentials(value).is_some_and(|(user, password)| user.is_empty() && password.is_empty())
}

/// The login name of a request's Basic credentials.
/// Names the caller in the request's span: its name, or `anonymous`.
fn note_caller(name: &str) {
    berth_core::note_caller(if name.is_empty() { "anonymous" } else { name });
}

/// Who a principal is (empty for anonymous), and its account: a token's subject, a log line's
/// `principal`.
fn caller_name(principal: &Principal, headers: &HeaderMap) -> (String, Option<AccountId>) {
    match principal {
        Principal::Anonymous => (String::new(), None),
        Principal::RepositoryUser(u) => (u.name.clone(), Some(u.account)),
        Principal::ConsoleUser { account } => (login_name(headers), Some(*account)),
        Principal::SystemAdmin => (login_name(headers), None),
        Principal::Token(t) => (t.subject.clone().unwrap_or_default(), t.account),
    }
}

fn login_name(headers: &HeaderMap) -> String {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| basic_credentials(v.to_str().ok()?))
        .map(|(user, _)| user)
        .unwrap_or_default()
}

/// `scheme://host` the client reached: https with berth's own TLS or when a proxy in front says
/// so (`X-Forwarded-Proto`), the `Host` it asked for.
fn origin(headers: &HeaderMap, tls: bool) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let proto = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok());
    let scheme = if tls || forwarded_https(proto) {
        "https"
    } else {
        "http"
    };
    format!("{scheme}://{host}")
}

/// The scopes a request needs, for the challenge.
fn scopes(method: &Method, uri: &Uri) -> Vec<String> {
    let Ok(route) = route::parse(method, uri.path(), uri.query()) else {
        return Vec::new();
    };
    // What the engine checks: every upload endpoint (its status GET and DELETE too) needs push.
    let actions = match &route {
        Route::Base => return Vec::new(),
        Route::Catalog(_) => return vec!["registry:catalog:*".to_owned()],
        Route::ListTags { .. }
        | Route::GetManifest { .. }
        | Route::HeadManifest { .. }
        | Route::GetBlob { .. }
        | Route::HeadBlob { .. }
        | Route::Referrers { .. } => "pull",
        Route::DeleteManifest { .. } | Route::DeleteBlob { .. } => "delete",
        Route::PutManifest { .. }
        | Route::StartUpload { .. }
        | Route::UploadStatus { .. }
        | Route::PatchUpload { .. }
        | Route::CommitUpload { .. }
        | Route::CancelUpload { .. } => "pull,push",
    };
    let mut scopes: Vec<String> = route
        .name()
        .map(|name| format!("repository:{name}:{actions}"))
        .into_iter()
        .collect();
    if let Route::StartUpload {
        start: StartUpload::Mount {
            from: Some(from), ..
        },
        ..
    } = &route
    {
        scopes.push(format!("repository:{from}:pull"));
    }
    scopes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_name_the_scope_a_request_needs() {
        let uri: Uri = "/v2/team-a/app/blobs/uploads/?mount=sha256:0000000000000000000000000000000000000000000000000000000000000000&from=team-b/base"
            .parse()
            .unwrap();
        assert_eq!(
            scopes(&Method::POST, &uri),
            vec![
                "repository:team-a/app:pull,push".to_owned(),
                "repository:team-b/base:pull".to_owned()
            ]
        );
        let uri: Uri = "/v2/team-a/app/manifests/latest".parse().unwrap();
        assert_eq!(
            scopes(&Method::HEAD, &uri),
            vec!["repository:team-a/app:pull".to_owned()]
        );
        assert_eq!(
            scopes(&Method::GET, &"/v2/_catalog".parse().unwrap()),
            vec!["registry:catalog:*".to_owned()]
        );
        assert!(scopes(&Method::GET, &"/v2/".parse().unwrap()).is_empty());
        // An upload's status and its cancel need push, like its chunks.
        let uri: Uri = "/v2/team-a/app/blobs/uploads/0123456789abcdef0123456789abcdef"
            .parse()
            .unwrap();
        for method in [Method::GET, Method::DELETE, Method::PATCH] {
            assert_eq!(
                scopes(&method, &uri),
                vec!["repository:team-a/app:pull,push".to_owned()],
                "{method}"
            );
        }
    }
}
