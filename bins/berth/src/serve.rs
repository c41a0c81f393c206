//! `berth serve`: sockets, TLS, the routes around the protocol, background tasks, and a
//! graceful shutdown that finishes in-flight requests and flushes pull statistics. Every
//! connection is admitted under the caps and watched for the timeouts of `conn.rs`.

use std::convert::Infallible;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use berth_console::{Console, ConsoleConfig};
use berth_core::Registry;
use berth_model::AccountId;
use berth_policy::Principal;
use berth_v2::token::TokenKey;
use berth_v2::{AuthConfig, AuthMode, Body, Gateway};
use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tracing::{Instrument as _, debug, error, info, warn};

use crate::backends;
use crate::config::{AuthModeName, Config, TlsConfig};
use crate::conn::{self, Gate, Limits, Reason, TimedBody, Tracked};

/// How long in-flight requests may take to finish after a shutdown signal.
const DRAIN: Duration = Duration::from_secs(30);

/// Runs the server until SIGTERM or SIGINT.
pub(crate) async fn serve(config: Config) -> Result<(), String> {
    let _lock = backends::lock_data_dir(&config)?;
    let registry = backends::registry(&config).await?;
    let account = AccountId(config.default_account);
    let admin_password = std::env::var("BERTH_ADMIN_PASSWORD")
        .ok()
        .filter(|p| !p.is_empty());
    let boot = registry
        .identity()
        .bootstrap(account, "default", admin_password.as_deref())
        .await
        .map_err(|e| format!("cannot set up the default account: {e}"))?;
    if boot.account_created {
        info!(account = account.0, "created the default account");
    }
    if let Some(password) = boot.generated_admin_password {
        // Shown once: only its hash is stored.
        eprintln!(
            "\n  berth: created the system administrator `admin` with password\n\n      {password}\n\n  (shown once; set BERTH_ADMIN_PASSWORD on first start to choose it)\n"
        );
    }
    if config.metadata.postgres_url.is_some() && config.auth.token_key.is_none() {
        warn!(
            "auth.token_key is not set: tokens from this node are not accepted by other nodes \
             sharing the store; set the same BERTH_TOKEN_KEY on every node"
        );
    }
    if config.metadata.postgres_url.is_some() && config.auth.sealing_key.is_none() {
        warn!(
            "auth.sealing_key is not set: remote registries' passwords sealed by this node do \
             not open on other nodes sharing the store; set the same BERTH_SEALING_KEY on every \
             node"
        );
    }
    let key = backends::token_key(&config)?;
    let mut auth = AuthConfig::new(TokenKey::new(key.clone())?);
    auth.mode = match config.auth.mode {
        AuthModeName::Token => AuthMode::Token,
        AuthModeName::Basic => AuthMode::Basic,
    };
    auth.public_url = config.public_url.clone();
    auth.tls = config.tls.is_some();
    auth.token_ttl = config.auth.token_ttl.get();
    let tls = config.tls.as_ref().map(tls_acceptor).transpose()?;

    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    let local = listener
        .local_addr()
        .map_err(|e| format!("cannot read the listening address: {e}"))?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    info!(
        address = %local,
        metadata = registry.metadata().name(),
        mode = ?auth.mode,
        "listening on {scheme}://{local}"
    );

    let console = ConsoleConfig {
        public_host: config
            .public_url
            .as_deref()
            .map(|url| url.split_once("://").map_or(url, |(_, host)| host))
            .map(|host| host.trim_end_matches('/').to_owned()),
        default_account: account,
        // Behind a TLS-terminating proxy the public URL says https: the cookie is Secure too.
        tls: config.tls.is_some()
            || config
                .public_url
                .as_deref()
                .is_some_and(|url| url.starts_with("https://")),
    };
    let limits = connection_limits(&config);
    info!(
        max_connections = limits.max_connections,
        max_per_source = limits.max_per_source,
        head_timeout_s = limits.head_timeout.as_secs(),
        idle_timeout_s = limits.idle_timeout.as_secs(),
        "connection limits"
    );
    let gate = Gate::new(limits);
    let app = Arc::new(App {
        console: Console::new(registry.clone(), console),
        gateway: Gateway::new(registry.clone(), auth),
        registry: registry.clone(),
        account,
        metrics: crate::metrics::Http::default(),
        trusted_proxies: config.trusted_proxies.clone(),
        started: Instant::now(),
        gate: gate.clone(),
    });
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let when_stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    let flusher = tokio::spawn({
        let (registry, rx) = (registry.clone(), stopped.clone());
        async move { registry.run_pull_flusher(when_stopped(rx)).await }
    });
    let collector = tokio::spawn({
        let (registry, rx) = (registry.clone(), stopped.clone());
        async move { registry.run_gc(when_stopped(rx)).await }
    });
    let replicator = tokio::spawn({
        let (registry, rx) = (registry.clone(), stopped.clone());
        async move { registry.run_replication(when_stopped(rx)).await }
    });

    let graceful = GracefulShutdown::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // A request head larger than this is refused (431); HTTP/2 gets the same bound on its header
    // list, and a cap on the streams one connection may open at once.
    let header_bytes = usize::try_from(config.limits.max_header_bytes).unwrap_or(usize::MAX);
    builder.http1().max_buf_size(header_bytes);
    builder
        .http2()
        .max_header_list_size(u32::try_from(header_bytes).unwrap_or(u32::MAX))
        .max_concurrent_streams(config.limits.h2_max_streams)
        .max_pending_accept_reset_streams(32)
        .max_local_error_reset_streams(256);
    let mut signal = std::pin::pin!(shutdown_signal());
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: wait rather than spin.
                    warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut signal => break,
        };
        // Over a cap, the connection is refused before anything is read from it.
        let admitted = match gate.admit(peer.ip()) {
            Ok(admitted) => admitted,
            Err(reason) => {
                refuse(stream, reason);
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let (gate, app, builder, watcher) = (
            gate.clone(),
            app.clone(),
            builder.clone(),
            graceful.watcher(),
        );
        let acceptor = tls.clone();
        // The handshake, if any, runs in the connection's task, so a slow client never holds up
        // the accept loop; it is due within the head timeout.
        tokio::spawn(async move {
            let (source, watcher) = (peer.ip(), watcher);
            match acceptor {
                None => connection(stream, admitted, app, source, gate, &builder, watcher).await,
                Some(acceptor) => {
                    let handshake =
                        tokio::time::timeout(gate.limits().head_timeout, acceptor.accept(stream));
                    match handshake.await {
                        Ok(Ok(stream)) => {
                            connection(stream, admitted, app, source, gate, &builder, watcher).await
                        }
                        Ok(Err(e)) => debug!(peer = %peer, error = %e, "TLS handshake failed"),
                        Err(_) => {
                            gate.note(Reason::HeadTimeout);
                            debug!(peer = %peer, "TLS handshake timed out");
                        }
                    }
                }
            }
        });
    }
    drop(listener);
    info!("shutting down: finishing in-flight requests");
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(DRAIN) => warn!("requests still running after {DRAIN:?}; stopping anyway"),
    }
    let _ = stop.send(true);
    let _ = flusher.await;
    let _ = collector.await;
    let _ = replicator.await;
    info!(
        pending_pulls = registry.pending_pulls(),
        "stopped; pull statistics flushed"
    );
    Ok(())
}

/// Serves one admitted connection (plain or TLS) under its watch until it ends or times out.
async fn connection<S>(
    stream: S,
    admitted: conn::Admitted,
    app: Arc<App>,
    source: IpAddr,
    gate: Arc<Gate>,
    builder: &auto::Builder<TokioExecutor>,
    watcher: hyper_util::server::graceful::Watcher,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (io, watch) = conn::watched(stream, admitted);
    let service = service(app, source, watch.clone(), gate.clone());
    let serving = watcher.watch(
        builder
            .serve_connection(TokioIo::new(io), service)
            .into_owned(),
    );
    if let Err(e) = conn::serve(serving, watch, gate).await {
        debug!(error = %e, "connection ended with an error");
    }
}

/// The service of one connection: each request is in flight on the connection's watch until its
/// response is sent, and its body must keep moving.
fn service(
    app: Arc<App>,
    peer: IpAddr,
    watch: Arc<conn::Watch>,
    gate: Arc<Gate>,
) -> impl hyper::service::Service<
    Request<Incoming>,
    Response = Response<Body>,
    Error = Infallible,
    Future = impl Future<Output = Result<Response<Body>, Infallible>> + Send,
> + Clone
+ Send
+ 'static {
    service_fn(move |request: Request<Incoming>| {
        let in_flight = watch.request();
        let timeout = gate.limits().body_timeout;
        let bytes_in = app.metrics.bytes_in.clone();
        let request = request.map(|body| TimedBody::new(body, timeout, gate.clone(), bytes_in));
        let app = app.clone();
        async move {
            let response = app.handle(peer, request).await;
            let bytes_out = app.metrics.bytes_out.clone();
            Ok::<_, Infallible>(
                response.map(|body| Tracked::new(body, in_flight, bytes_out).boxed_unsync()),
            )
        }
    })
}

/// Refuses a connection over a cap: a best-effort `503` (written only if the socket takes it at
/// once), then the close.
fn refuse(stream: tokio::net::TcpStream, reason: Reason) {
    const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain\r\n\
        content-length: 21\r\nretry-after: 1\r\nconnection: close\r\n\r\ntoo many connections\n";
    let _ = stream.try_write(BUSY);
    debug!(reason = reason.as_str(), "connection refused");
}

/// The connection limits of `config`, with the caps derived from the descriptor limit where
/// not set.
fn connection_limits(config: &Config) -> Limits {
    let l = &config.limits;
    let max_connections = match l.max_connections {
        0 => conn::derived_max_connections().1,
        n => n,
    };
    let max_per_source = match l.max_connections_per_source {
        0 => (max_connections / 4).clamp(1, 1024),
        n => n,
    };
    Limits {
        head_timeout: l.head_timeout.get(),
        idle_timeout: l.idle_timeout.get(),
        body_timeout: l.body_timeout.get(),
        send_timeout: l.send_timeout.get(),
        max_connections,
        max_per_source,
    }
}

async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
}

fn tls_acceptor(tls: &TlsConfig) -> Result<TlsAcceptor, String> {
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&tls.cert)
        .and_then(|certs| certs.collect())
        .map_err(|e| format!("TLS certificate {}: {e}", tls.cert.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "TLS certificate {} holds no certificate",
            tls.cert.display()
        ));
    }
    let key = PrivateKeyDer::from_pem_file(&tls.key)
        .map_err(|e| format!("TLS key {}: {e}", tls.key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("TLS certificate and key do not go together: {e}"))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// The header carrying a request's id, in the answer.
const REQUEST_ID: &str = "x-request-id";

/// A `Content-Length` header's value.
fn content_length(headers: &http::HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// The client a request comes from: the peer, or, when the peer is a trusted proxy, the
/// right-most address of `X-Forwarded-For` (all its headers, in order) that is not itself a
/// trusted proxy. An entry that is not an address ends the walk (what lies left of it was
/// written by the client and proves nothing).
fn client_address(peer: IpAddr, headers: &http::HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        let Ok(address) = hop.trim().parse::<IpAddr>() else {
            break;
        };
        client = address;
        if !trusted.contains(&address) {
            break;
        }
    }
    client
}

/// An incoming `X-Request-Id` fit to log and to send back: 1 to 64 characters of letters,
/// digits, `-`, `_`, `.` and `:`.
fn incoming_request_id(headers: &http::HeaderMap) -> Option<String> {
    let value = headers.get(REQUEST_ID)?.to_str().ok()?;
    let fits = (1..=64).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
    fits.then(|| value.to_owned())
}

/// A fresh request id: 16 hex digits, random.
fn request_id() -> String {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).expect("the operating system's random generator failed");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Everything a request may reach.
struct App {
    console: Console,
    gateway: Gateway,
    registry: Arc<Registry>,
    account: AccountId,
    metrics: crate::metrics::Http,
    /// Peers whose `X-Request-Id` is kept.
    trusted_proxies: Vec<IpAddr>,
    started: Instant,
    gate: Arc<Gate>,
}

impl App {
    async fn handle<B>(&self, peer: IpAddr, request: Request<B>) -> Response<Body>
    where
        B: berth_core::HttpBody,
    {
        let started = Instant::now();
        let method = request.method().clone();
        let path = request.uri().path().to_owned();
        let operation = crate::metrics::Operation::of(&method, &path);
        let _uploading = self.metrics.start(operation);
        let bytes_in = content_length(request.headers());
        // Behind a trusted proxy, the client is the one `X-Forwarded-For` names (for login
        // throttling and the log); anyone else's header is ignored.
        let client = client_address(peer, request.headers(), &self.trusted_proxies);
        let mut request = request;
        if !self.trusted_proxies.contains(&peer) {
            // Only a trusted proxy says how the client reached it.
            request.headers_mut().remove("x-forwarded-proto");
        }
        // Every line logged while answering carries the request's id (the span), and the client
        // gets the same id in `X-Request-Id`, so a report can be matched to its cause. A trusted
        // proxy's id is kept, so that its log and berth's name the same request. The caller is
        // named in the span (`principal`) by whichever surface authenticates it.
        let id = self
            .trusted_proxies
            .contains(&peer)
            .then(|| incoming_request_id(request.headers()))
            .flatten()
            .unwrap_or_else(request_id);
        let span = tracing::info_span!("request", id = %id, principal = tracing::field::Empty);
        let mut response = async {
            match path.as_str() {
                "/healthz" => text(StatusCode::OK, "ok\n"),
                "/readyz" => self.ready().await,
                "/metrics" => self.metrics().await,
                p if Gateway::owns(p) => self.gateway.handle(Some(client), request).await,
                p if Console::owns(p) => self.console.handle(Some(client), request).await,
                _ => json_error(StatusCode::NOT_FOUND, "NOT_FOUND", "no such page"),
            }
        }
        .instrument(span.clone())
        .await;
        if let Ok(value) = http::HeaderValue::from_str(&id) {
            response.headers_mut().insert(REQUEST_ID, value);
        }
        let status = response.status();
        let elapsed = started.elapsed();
        self.metrics.answered(operation, status, elapsed);
        let _entered = span.enter();
        let elapsed_us = elapsed.as_micros() as u64;
        // The answer's declared length (a streamed body without one logs none).
        let bytes_out = content_length(response.headers())
            .or_else(|| http_body::Body::size_hint(response.body()).exact());
        if status.is_server_error() {
            error!(%method, path, status = status.as_u16(), bytes_in, bytes_out, elapsed_us, %peer, %client, "request failed");
        } else {
            debug!(target: "berth::access", %method, path, status = status.as_u16(), bytes_in, bytes_out, elapsed_us, %peer, %client, "request");
        }
        response
    }

    /// Ready when the metadata store and the blob storage both answer (a read of the default
    /// account, a `stat` of a digest no one stores); otherwise 503 naming the one that does not
    /// (its cause goes to the log, not to an anonymous prober).
    async fn ready(&self) -> Response<Body> {
        let admin = self.registry.manage(Principal::SystemAdmin, None);
        if let Err(e) = admin.account(self.account).await {
            warn!(error = %berth_core::error_chain(&e), "not ready: the metadata store failed");
            return text(
                StatusCode::SERVICE_UNAVAILABLE,
                "not ready: the metadata store is unavailable\n",
            );
        }
        let probe = berth_model::Digest::sha256(b"berth readiness probe");
        match self.registry.blob_store().stat(&probe).await {
            Ok(_) | Err(berth_storage::Error::BlobNotFound(_)) => text(StatusCode::OK, "ready\n"),
            Err(e) => {
                warn!(error = %berth_core::error_chain(&e), "not ready: the blob storage failed");
                text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "not ready: the blob storage is unavailable\n",
                )
            }
        }
    }

    async fn metrics(&self) -> Response<Body> {
        // The connection gate's and the body budget's families, then everything else.
        let mut out = String::new();
        out.push_str("# HELP berth_connections_open Connections open now.\n");
        out.push_str("# TYPE berth_connections_open gauge\n");
        out.push_str(&format!("berth_connections_open {}\n", self.gate.open()));
        out.push_str(
            "# HELP berth_connections_refused_total Connections refused at accept, by the cap they met.\n",
        );
        out.push_str("# TYPE berth_connections_refused_total counter\n");
        for reason in [Reason::TooManyConnections, Reason::TooManyFromSource] {
            out.push_str(&format!(
                "berth_connections_refused_total{{cap=\"{}\"}} {}\n",
                reason.as_str(),
                self.gate.count(reason)
            ));
        }
        out.push_str(
            "# HELP berth_connections_timed_out_total Connections or request bodies ended by a timeout.\n",
        );
        out.push_str("# TYPE berth_connections_timed_out_total counter\n");
        for reason in [
            Reason::HeadTimeout,
            Reason::IdleTimeout,
            Reason::BodyTimeout,
            Reason::SendTimeout,
        ] {
            out.push_str(&format!(
                "berth_connections_timed_out_total{{timeout=\"{}\"}} {}\n",
                reason.as_str(),
                self.gate.count(reason)
            ));
        }
        let budget = self.registry.memory_budget();
        out.push_str(
            "# HELP berth_buffered_body_bytes Bytes of manifest and JSON bodies held in memory now.\n",
        );
        out.push_str("# TYPE berth_buffered_body_bytes gauge\n");
        out.push_str(&format!("berth_buffered_body_bytes {}\n", budget.in_use()));
        out.push_str(
            "# HELP berth_buffered_body_refused_total Requests answered 429 because the body memory bound was reached.\n",
        );
        out.push_str("# TYPE berth_buffered_body_refused_total counter\n");
        out.push_str(&format!(
            "berth_buffered_body_refused_total {}\n",
            budget.refused()
        ));
        // A scrape must not hang on a metadata store that is down: the gauge is left out then.
        let upload_sessions =
            tokio::time::timeout(Duration::from_secs(2), self.registry.open_uploads())
                .await
                .ok()
                .and_then(Result::ok);
        let text_out = crate::metrics::render(&crate::metrics::Sources {
            upload_sessions,
            http: &self.metrics,
            engine: self.registry.counters(),
            extra: &out,
            uptime: self.started.elapsed(),
        });
        let mut response = text(StatusCode::OK, text_out);
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            http::HeaderValue::from_static("text/plain; version=0.0.4"),
        );
        response
    }
}

fn text(status: StatusCode, body: impl Into<Bytes>) -> Response<Body> {
    let mut response = Response::new(
        Full::new(body.into())
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

fn json_error(status: StatusCode, code: &str, message: &str) -> Response<Body> {
    let body = serde_json::json!({"error": {"code": code, "message": message}}).to_string();
    let mut response = text(status, body);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_is_read_from_x_forwarded_for_only_behind_a_trusted_proxy() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let proxy = ip("10.0.0.2");
        let trusted = [proxy, ip("10.0.0.3")];
        let mut headers = http::HeaderMap::new();
        headers.append("x-forwarded-for", "6.6.6.6, 203.0.113.7".parse().unwrap());
        headers.append("x-forwarded-for", "10.0.0.3".parse().unwrap());
        assert_eq!(client_address(proxy, &headers, &trusted), ip("203.0.113.7"));
        // An untrusted peer's header is ignored.
        assert_eq!(
            client_address(ip("198.51.100.1"), &headers, &trusted),
            ip("198.51.100.1")
        );
        // Garbage ends the walk at the last address read; no header: the proxy itself.
        let mut garbage = http::HeaderMap::new();
        garbage.append("x-forwarded-for", "203.0.113.9, nonsense".parse().unwrap());
        assert_eq!(client_address(proxy, &garbage, &trusted), proxy);
        assert_eq!(
            client_address(proxy, &http::HeaderMap::new(), &trusted),
            proxy
        );
        // Only proxies in the chain: the left-most of them.
        let mut proxies = http::HeaderMap::new();
        proxies.append("x-forwarded-for", "10.0.0.3".parse().unwrap());
        assert_eq!(client_address(proxy, &proxies, &trusted), ip("10.0.0.3"));
    }
}
