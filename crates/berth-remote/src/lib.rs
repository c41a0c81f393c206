//! The client side of the OCI Distribution protocol: berth asking a remote registry (Docker
//! Hub, GHCR, a distribution registry, another berth) for manifests and blobs, for the
//! pull-through cache, and pushing them to it, for replication.
//!
//! # Contract
//!
//! - One [`Client`] per [`Endpoint`]; it is cheap to clone (an `Arc` inside) and every clone
//!   shares the connection pool and the token cache. Its futures and blob streams are `Send` and
//!   `'static`: spawn them, or drop them to cancel (dropping a future or a [`RemoteBlob`] body
//!   closes or returns the connection; nothing is left running).
//! - Reads: `GET /v2/`, and `HEAD`/`GET` of manifests and blobs. Every one answers `None` for a
//!   404 and an [`Error`] variant per decision otherwise: [`Error::is_unreachable`] says whether
//!   the remote is down (serve from the cache, retry later), the others that it answered and
//!   said no.
//! - Writes, for replication: [`Client::blob_exists`], [`Client::mount_blob`] (a 202 instead of
//!   a mount is `false`, its upload session cancelled), [`Client::push_blob`] (a `POST` then one
//!   streamed `PUT`), [`Client::put_manifest`] (the exact bytes, the digest checked),
//!   [`Client::delete_manifest`]. They ask for `repository:<name>:pull,push` tokens (a delete
//!   for `pull,push,delete`, a mount also for `repository:<from>:pull`, in one token request).
//!   A blob body is never buffered, so it is sent once: the `PUT` carries what the `POST` was
//!   accepted with, and a 401 to it is final. It has no overall time limit, only the idle
//!   limits of [`ClientOptions`] on the registry's side.
//! - Listings: [`Client::list_tags`], [`Client::catalog`], [`Client::referrers`], page by page
//!   through `Link: <…>; rel="next"`, bounded (100,000 entries, 4 MiB a page). A registry
//!   without the referrers API is read through the referrers tag schema.
//! - Authentication: a request goes out anonymous, or preemptively with what the endpoint asked
//!   for before (Basic credentials, or a cached token for the request's scope). On a 401 the
//!   `WWW-Authenticate` challenge decides: `Basic` gets the endpoint's credentials, `Bearer` gets
//!   a token from its realm (the Docker token flow, with the credentials when there are some) for
//!   the request's scopes and any others the challenge names. The request is then retried once
//!   (unless its body is a stream). Tokens are cached per scope until shortly before they
//!   expire.
//! - Credentials and tokens go to the endpoint and its token realm only: a redirect to another
//!   host (a CDN, presigned S3) is followed without them, as is an upload `Location` or a `Link`
//!   on another origin; no error, log line or `Debug` output holds them. A realm on plain HTTP
//!   for an HTTPS endpoint is refused.
//! - Manifests are read whole up to [`ClientOptions::max_manifest_size`] and kept as the exact
//!   bytes, their digest computed over them and checked against the reference and the
//!   `Docker-Content-Digest` header. Blobs are streamed both ways, never buffered whole, and not
//!   hashed here: the caller verifies them as it stores them (berth's `BlobStore` does while
//!   writing), and a remote verifies what is pushed to it.
//! - Time limits ([`ClientOptions`]): to connect, to the response head, and for each idle gap in
//!   a body; a whole blob may take as long as it keeps moving, read or sent.

mod auth;
mod body;
mod challenge;
mod client;
mod error;
mod listing;
mod name;
mod push;

use std::fmt;
use std::time::Duration;

use berth_model::Digest;
use bytes::Bytes;
use futures::stream::BoxStream;

pub use client::Client;
pub use error::Error;
pub use name::RemoteName;

/// A remote registry and how to log in to it.
#[derive(Clone)]
pub struct Endpoint {
    /// The registry's base URL, `http(s)://host[:port][/path]`; `/v2/` is appended to it.
    /// [`Client::new`] refuses other schemes, credentials in the URL, a query or a fragment.
    pub url: url::Url,
    /// The user name for Basic authentication and the token endpoint.
    pub username: Option<String>,
    /// The password or access token that goes with `username`.
    pub password: Option<String>,
    /// Accept TLS certificates that do not verify (self-signed, expired, another host's).
    pub insecure: bool,
}

impl Endpoint {
    /// An endpoint at `url`, anonymous, verifying TLS certificates.
    pub fn parse(url: &str) -> Result<Self, Error> {
        let url = url::Url::parse(url).map_err(|e| Error::invalid(url, e.to_string()))?;
        Ok(Endpoint {
            url,
            username: None,
            password: None,
            insecure: false,
        })
    }

    /// This endpoint with credentials.
    pub fn with_credentials(mut self, username: &str, password: &str) -> Self {
        self.username = Some(username.to_owned());
        self.password = Some(password.to_owned());
        self
    }
}

/// Written by hand: the password is never printed.
impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint")
            .field("url", &self.url.as_str())
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("insecure", &self.insecure)
            .finish()
    }
}

/// Limits and identification of a [`Client`].
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// To establish a connection (TCP and TLS). Default 10 s.
    pub connect_timeout: Duration,
    /// From sending a request to its response head; for a streamed blob upload, from its last
    /// byte to the response head. Default 30 s.
    pub response_timeout: Duration,
    /// The longest gap between two reads of a body; for a streamed blob upload, the longest
    /// the registry may take no bytes while there are some to send. Default 60 s.
    pub read_timeout: Duration,
    /// The largest manifest read. Default 4 MiB (what distribution accepts).
    pub max_manifest_size: u64,
    /// The `User-Agent` header. Default `berth/<version>`.
    pub user_agent: String,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            connect_timeout: Duration::from_secs(10),
            response_timeout: Duration::from_secs(30),
            read_timeout: Duration::from_secs(60),
            max_manifest_size: 4 << 20,
            user_agent: concat!("berth/", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }
}

/// What [`Client::ping`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ping {
    /// An HTTP answer came.
    pub reachable: bool,
    /// Credentials were given and the registry accepted them (Basic, or a token for no scope).
    pub authenticated: bool,
    /// What happened, for people: `reachable; anonymous access`, `credentials refused by …`.
    pub message: String,
}

/// A manifest's identity from a `HEAD` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestHead {
    /// `Docker-Content-Digest` (or the digest asked for).
    pub digest: Digest,
    /// The media type of `Content-Type`, without parameters.
    pub media_type: String,
    /// `Content-Length`.
    pub size: u64,
}

/// A manifest as the remote sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteManifest {
    /// The digest of `bytes`: with the algorithm of the digest asked for, else sha256.
    pub digest: Digest,
    /// The media type of `Content-Type`, or the document's `mediaType` when the header is
    /// generic (`application/json`) or missing.
    pub media_type: String,
    /// The exact bytes received.
    pub bytes: Bytes,
}

/// A blob being received.
pub struct RemoteBlob {
    /// `Content-Length`, when the remote sent one.
    pub size: Option<u64>,
    /// The bytes as they arrive. An error (the connection dropped, an idle gap over
    /// [`ClientOptions::read_timeout`]) is [`Error::Unreachable`] and ends the stream; a body
    /// shorter than its `Content-Length` is such an error too.
    pub body: BoxStream<'static, Result<Bytes, Error>>,
}

impl fmt::Debug for RemoteBlob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteBlob")
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

/// A manifest that names another as its `subject`: an entry of the referrers index
/// ([`Client::referrers`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Referrer {
    /// The referring manifest's digest.
    pub digest: Digest,
    /// Its media type.
    pub media_type: String,
    /// Its `artifactType` (or its config's media type), when the registry gave one.
    pub artifact_type: Option<String>,
    /// The size of the referring manifest, in bytes.
    pub size: u64,
}
