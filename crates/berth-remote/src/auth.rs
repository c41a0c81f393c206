//! The authentication flow: anonymous first, then what the `WWW-Authenticate` challenge asks
//! for (Basic credentials, or a token from the Docker token flow), retried once; what the
//! endpoint asked for and the tokens it gave are remembered so that later requests carry them
//! at once.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use reqwest::{Method, Response, StatusCode, header};
use serde::Deserialize;
use url::Url;

use crate::Error;
use crate::body::Payload;
use crate::challenge::{self, Challenge};
use crate::client::{Inner, read_error, read_limited};

/// Token answers are small; anything longer is not one.
const MAX_TOKEN_BODY: u64 = 1 << 20;

/// Tokens kept at most; expired ones go first, then all when still full (one per repository a
/// cache pulls from, so a bound protects against an unbounded set of names).
const MAX_TOKENS: usize = 1024;

/// One request as the flow sends it (and sends again, unless its body is a stream).
pub(crate) struct Op<'a> {
    pub(crate) method: Method,
    pub(crate) url: &'a Url,
    /// `url` without its query, for messages (an upload's `Location` may carry signed state).
    pub(crate) shown: String,
    /// The token scopes it needs, space-separated (`repository:<name>:pull`,
    /// `repository:<name>:pull,push repository:<from>:pull`); `None` for `/v2/`.
    pub(crate) scope: Option<String>,
    pub(crate) accept: Option<&'static str>,
    pub(crate) body: Payload,
}

impl<'a> Op<'a> {
    /// `method` on `url` with `scope`, accepting anything, without a body.
    pub(crate) fn new(method: Method, url: &'a Url, scope: Option<String>) -> Self {
        let mut shown = url.clone();
        shown.set_query(None);
        Op {
            method,
            url,
            shown: shown.into(),
            scope,
            accept: None,
            body: Payload::Empty,
        }
    }
}

/// How a request that got an answer was authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Used {
    Anonymous,
    Basic,
    /// A token, fetched with the endpoint's credentials or anonymously.
    Token {
        with_credentials: bool,
    },
}

impl Used {
    pub(crate) fn with_credentials(self) -> bool {
        matches!(
            self,
            Used::Basic
                | Used::Token {
                    with_credentials: true
                }
        )
    }
}

/// The scheme an endpoint asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scheme {
    Basic,
    Bearer,
}

/// What the endpoint asked for before, and its tokens by scope.
#[derive(Default)]
pub(crate) struct AuthState {
    scheme: Option<Scheme>,
    /// The last Bearer challenge answered: its realm and service, for tokens fetched ahead.
    bearer: Option<Challenge>,
    tokens: HashMap<String, Token>,
}

#[derive(Clone)]
struct Token {
    value: String,
    with_credentials: bool,
    /// When to stop sending it: its expiry less a margin, from the moment it was asked for.
    until: Instant,
}

/// The `Authorization` a request carries.
enum Sent {
    Anonymous,
    Basic,
    Token(Token),
}

impl Sent {
    fn used(&self) -> Used {
        match self {
            Sent::Anonymous => Used::Anonymous,
            Sent::Basic => Used::Basic,
            Sent::Token(t) => Used::Token {
                with_credentials: t.with_credentials,
            },
        }
    }
}

/// The token endpoint's answer (Docker's token spec; `access_token` is the OAuth 2 name).
#[derive(Deserialize)]
struct TokenAnswer {
    token: Option<String>,
    access_token: Option<String>,
    expires_in: Option<u64>,
    // `issued_at` is the server's clock; expiry counts from the local clock instead, which
    // cannot be skewed against itself. Read only to be sure it is no reason to refuse.
    #[serde(rename = "issued_at")]
    _issued_at: Option<serde_json::Value>,
}

/// How long a token is used: its lifetime (60 s when not given, as the Docker spec says) less a
/// tenth, at least 5 s and at most a minute, for clock and transit.
fn usable_for(expires_in: Option<u64>) -> Duration {
    let lifetime = Duration::from_secs(expires_in.unwrap_or(60));
    let margin = (lifetime / 10).clamp(Duration::from_secs(5), Duration::from_secs(60));
    lifetime.saturating_sub(margin)
}

impl AuthState {
    fn preemptive(&mut self, scope: &str, has_credentials: bool, now: Instant) -> Sent {
        match self.scheme {
            Some(Scheme::Basic) if has_credentials => Sent::Basic,
            Some(Scheme::Bearer) => match self.tokens.get(scope) {
                Some(t) if t.until > now => Sent::Token(t.clone()),
                Some(_) => {
                    self.tokens.remove(scope);
                    Sent::Anonymous
                }
                None => Sent::Anonymous,
            },
            _ => Sent::Anonymous,
        }
    }

    fn keep(&mut self, scope: String, token: Token, now: Instant) {
        if self.tokens.len() >= MAX_TOKENS {
            self.tokens.retain(|_, t| t.until > now);
            if self.tokens.len() >= MAX_TOKENS {
                self.tokens.clear();
            }
        }
        if token.until > now {
            self.tokens.insert(scope, token);
        }
    }
}

impl Inner {
    fn state(&self) -> std::sync::MutexGuard<'_, AuthState> {
        // The state is consistent at every unlock: a panic elsewhere cannot leave it half-made.
        self.auth.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sends `op` through the authentication flow: the answer that is not a 401, and how it was
    /// authenticated. A 401 that the flow cannot get past is [`Error::Unauthorized`].
    pub(crate) async fn send(&self, op: &Op<'_>) -> Result<(Response, Used), Error> {
        let key = op.scope.clone().unwrap_or_default();
        let has_credentials = self.credentials.is_some();
        // A URL the registry pointed elsewhere (an upload `Location`, a `Link`) gets no
        // credentials, as a redirect would not.
        let own = self.owns(op.url);
        let mut sent = if own {
            self.state()
                .preemptive(&key, has_credentials, Instant::now())
        } else {
            Sent::Anonymous
        };
        let mut challenged = false;
        loop {
            let response = self.execute(op, &sent).await?;
            if response.status() != StatusCode::UNAUTHORIZED {
                return Ok((response, sent.used()));
            }
            if let Sent::Token(_) = sent {
                // Revoked or expired early: not to be sent again.
                self.state().tokens.remove(&key);
            }
            // A streamed body is gone once sent: its 401 is the answer.
            if challenged || !own || !op.body.replayable() {
                return Err(self.refused(op, &sent, response).await);
            }
            challenged = true;
            let challenge = match choose(&op.shown, response.headers())? {
                Some(challenge) => challenge,
                None => return Err(self.refused(op, &sent, response).await),
            };
            if challenge.is("basic") {
                self.state().scheme = Some(Scheme::Basic);
                if !has_credentials || matches!(sent, Sent::Basic) {
                    return Err(self.refused(op, &sent, response).await);
                }
                sent = Sent::Basic;
            } else {
                {
                    let mut state = self.state();
                    state.scheme = Some(Scheme::Bearer);
                    state.bearer = Some(challenge.clone());
                }
                let scope = merge_scopes(op.scope.as_deref(), challenge.param("scope"));
                let token = self.token(op, &challenge, scope.as_deref()).await?;
                self.state()
                    .keep(key.clone(), token.clone(), Instant::now());
                sent = Sent::Token(token);
            }
        }
    }

    /// Makes the credentials go with `op` from its first attempt, for an operation that
    /// anonymous access answers with less rather than with a 401 (the catalog: berth and
    /// distribution list nothing to an anonymous caller). Without credentials, nothing to do.
    /// Otherwise the endpoint's scheme is learnt first when unknown (`GET /v2/`, as docker
    /// does), and for Bearer a token for `op`'s scope is fetched ahead from the last challenge's
    /// realm and cached, so that [`Inner::send`] sends it at once.
    pub(crate) async fn authenticate_ahead(&self, op: &Op<'_>) -> Result<(), Error> {
        if self.credentials.is_none() {
            return Ok(());
        }
        if self.state().scheme.is_none() {
            let url = self.url("v2/");
            self.send(&Op::new(Method::GET, &url, None)).await?;
        }
        let key = op.scope.clone().unwrap_or_default();
        let challenge = {
            let mut state = self.state();
            match state.preemptive(&key, true, Instant::now()) {
                Sent::Anonymous if state.scheme == Some(Scheme::Bearer) => state.bearer.clone(),
                _ => None,
            }
        };
        if let Some(challenge) = challenge {
            let token = self.token(op, &challenge, op.scope.as_deref()).await?;
            self.state().keep(key, token, Instant::now());
        }
        Ok(())
    }

    /// One HTTP exchange, up to the response head.
    async fn execute(&self, op: &Op<'_>, sent: &Sent) -> Result<Response, Error> {
        // A streamed body goes through the client without reqwest's read timeout, which would
        // count the whole upload (the body's watchdog stands in for it).
        let http = match op.body {
            Payload::Stream(_) => &self.upload_http,
            _ => &self.http,
        };
        let mut request = http.request(op.method.clone(), op.url.clone());
        if let Some(accept) = op.accept {
            request = request.header(header::ACCEPT, accept);
        }
        request = match (sent, &self.credentials) {
            (Sent::Basic, Some((user, password))) => request.basic_auth(user, Some(password)),
            (Sent::Token(t), _) => request.bearer_auth(&t.value),
            _ => request,
        };
        match &op.body {
            Payload::Empty => self.timed(&op.shown, request.send()).await,
            Payload::Bytes {
                content_type,
                bytes,
            } => {
                let request = request
                    .header(header::CONTENT_TYPE, content_type.clone())
                    .body(bytes.clone());
                self.timed(&op.shown, request.send()).await
            }
            Payload::Stream(body) => {
                let (idle, answer) = (self.options.read_timeout, self.options.response_timeout);
                body.send(&op.shown, request, idle, answer).await
            }
        }
    }

    /// A token for `scope` from the challenge's realm, for `op`.
    async fn token(
        &self,
        op: &Op<'_>,
        challenge: &Challenge,
        scope: Option<&str>,
    ) -> Result<Token, Error> {
        let url = &op.shown;
        let realm = challenge
            .param("realm")
            .ok_or_else(|| Error::invalid(url, "a Bearer challenge without a realm"))?;
        let mut realm_url = Url::parse(realm)
            .map_err(|e| Error::invalid(url, format!("token realm {realm:?} is not a URL: {e}")))?;
        if !matches!(realm_url.scheme(), "http" | "https") {
            return Err(Error::invalid(
                url,
                format!("token realm {realm:?} is not http(s)"),
            ));
        }
        if self.credentials.is_some() && op.url.scheme() == "https" && realm_url.scheme() == "http"
        {
            return Err(Error::invalid(
                url,
                format!("token realm {realm:?} is plain HTTP: credentials are not sent there"),
            ));
        }
        // The URL for messages: the realm as the registry named it, without any query.
        let mut shown = realm_url.clone();
        shown.set_query(None);
        let shown = shown.to_string();
        {
            let mut query = realm_url.query_pairs_mut();
            if let Some(service) = challenge.param("service") {
                query.append_pair("service", service);
            }
            // Several scopes travel as several `scope` parameters, as docker sends them.
            for scope in scope
                .unwrap_or_default()
                .split(' ')
                .filter(|s| !s.is_empty())
            {
                query.append_pair("scope", scope);
            }
        }
        let mut request = self.http.request(Method::GET, realm_url);
        if let Some((user, password)) = &self.credentials {
            request = request.basic_auth(user, Some(password));
        }
        let asked = Instant::now();
        let response = self.timed(&shown, request.send()).await?;
        let status = response.status();
        if status != StatusCode::OK {
            let message = read_error(response).await;
            return Err(match status {
                StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN if self.credentials.is_some() => {
                    Error::Unauthorized {
                        url: shown,
                        message: format!(
                            "credentials refused by the token endpoint of {}: {} {message}",
                            self.host,
                            status.as_u16()
                        ),
                    }
                }
                StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Error::Unauthorized {
                    url: shown,
                    message: format!(
                        "the token endpoint of {} requires credentials: {} {message}",
                        self.host,
                        status.as_u16()
                    ),
                },
                _ => Error::Status {
                    url: shown,
                    status: status.as_u16(),
                    message,
                },
            });
        }
        let body = read_limited(&shown, response, MAX_TOKEN_BODY).await?;
        let answer: TokenAnswer = serde_json::from_slice(&body).map_err(|e| {
            Error::invalid(&shown, format!("the token answer is not token JSON: {e}"))
        })?;
        let value = answer
            .token
            .filter(|t| !t.is_empty())
            .or(answer.access_token.filter(|t| !t.is_empty()))
            .ok_or_else(|| Error::invalid(&shown, "the token answer holds no token"))?;
        if header::HeaderValue::from_str(&format!("Bearer {value}")).is_err() {
            return Err(Error::invalid(
                &shown,
                "the token holds characters a header may not",
            ));
        }
        Ok(Token {
            value,
            with_credentials: self.credentials.is_some(),
            until: asked + usable_for(answer.expires_in),
        })
    }

    /// The error for a 401 the flow cannot get past.
    async fn refused(&self, op: &Op<'_>, sent: &Sent, response: Response) -> Error {
        let status = response.status().as_u16();
        let message = read_error(response).await;
        let scope = op
            .scope
            .as_deref()
            .map(|s| format!(" for {s}"))
            .unwrap_or_default();
        let message = match sent {
            Sent::Anonymous
            | Sent::Token(Token {
                with_credentials: false,
                ..
            }) if self.credentials.is_none() => {
                format!(
                    "{} requires credentials{scope}: {status} {message}",
                    self.host
                )
            }
            Sent::Anonymous => format!(
                "{} refused anonymous access{scope}: {status} {message}",
                self.host
            ),
            Sent::Basic | Sent::Token(_) => {
                format!(
                    "credentials refused by {}{scope}: {status} {message}",
                    self.host
                )
            }
        };
        Error::Unauthorized {
            url: op.shown.clone(),
            message,
        }
    }
}

/// The scopes a token is asked for: the operation's, then those of the challenge it lacks. A
/// registry's challenge may name fewer than the operation needs (only the target of a
/// cross-repository mount), or others (what its routes check): the token endpoint grants what it
/// can of the union, as containerd asks.
fn merge_scopes(ours: Option<&str>, challenge: Option<&str>) -> Option<String> {
    let mut scopes: Vec<&str> = Vec::new();
    for scope in ours.into_iter().chain(challenge).flat_map(|s| s.split(' ')) {
        if !scope.is_empty() && !scopes.contains(&scope) {
            scopes.push(scope);
        }
    }
    (!scopes.is_empty()).then(|| scopes.join(" "))
}

/// The challenge to answer from a 401's `WWW-Authenticate` headers: Bearer when offered (it
/// sends the password to the token endpoint only), else Basic; `None` when neither is.
fn choose(url: &str, headers: &header::HeaderMap) -> Result<Option<Challenge>, Error> {
    let mut offered = Vec::new();
    for value in headers.get_all(header::WWW_AUTHENTICATE) {
        let value = value
            .to_str()
            .map_err(|_| Error::invalid(url, "WWW-Authenticate is not visible ASCII"))?;
        let parsed = challenge::parse(value).map_err(|e| Error::invalid(url, e.to_string()))?;
        offered.extend(parsed);
    }
    let bearer = offered.iter().position(|c| c.is("bearer"));
    let basic = offered.iter().position(|c| c.is("basic"));
    Ok(bearer.or(basic).map(|i| offered.swap_remove(i)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_asked_for_the_union_of_scopes() {
        let cases: &[(Option<&str>, Option<&str>, Option<&str>)] = &[
            (None, None, None),
            (Some("repository:a:pull"), None, Some("repository:a:pull")),
            (None, Some("repository:a:pull"), Some("repository:a:pull")),
            (
                Some("repository:a:pull"),
                Some("repository:a:pull"),
                Some("repository:a:pull"),
            ),
            (
                Some("repository:a:pull,push repository:b:pull"),
                Some("repository:a:pull,push"),
                Some("repository:a:pull,push repository:b:pull"),
            ),
            (
                Some("repository:a:pull,push,delete"),
                Some("repository:a:delete"),
                Some("repository:a:pull,push,delete repository:a:delete"),
            ),
            (Some(" "), Some(""), None),
        ];
        for (ours, challenge, expected) in cases {
            assert_eq!(
                merge_scopes(*ours, *challenge).as_deref(),
                *expected,
                "{ours:?} {challenge:?}"
            );
        }
    }

    #[test]
    fn tokens_are_used_until_shortly_before_they_expire() {
        for (expires_in, secs) in [
            (None, 54),
            (Some(300), 270),
            (Some(3600), 3540),
            (Some(3), 0),
        ] {
            assert_eq!(
                usable_for(expires_in),
                Duration::from_secs(secs),
                "{expires_in:?}"
            );
        }
    }

    #[test]
    fn the_cache_sends_live_tokens_of_the_scope_only() {
        let now = Instant::now();
        let mut state = AuthState {
            scheme: Some(Scheme::Bearer),
            ..AuthState::default()
        };
        let token = |until| Token {
            value: "t".into(),
            with_credentials: false,
            until,
        };
        state.keep("a".into(), token(now + Duration::from_secs(10)), now);
        state.keep("dead".into(), token(now), now);
        assert!(matches!(state.preemptive("a", false, now), Sent::Token(_)));
        assert!(matches!(state.preemptive("b", false, now), Sent::Anonymous));
        assert!(matches!(
            state.preemptive("dead", false, now),
            Sent::Anonymous
        ));
        let later = now + Duration::from_secs(11);
        assert!(matches!(
            state.preemptive("a", false, later),
            Sent::Anonymous
        ));
        assert!(state.tokens.is_empty());
        state.scheme = Some(Scheme::Basic);
        assert!(matches!(state.preemptive("a", true, now), Sent::Basic));
        assert!(matches!(state.preemptive("a", false, now), Sent::Anonymous));
    }
}
