//! [`Client`]: the reads, each one request through the authentication flow (`auth.rs`) and the
//! reading of its answer; and what the writes (`push.rs`) and listings (`listing.rs`) share:
//! scopes, [`Inner::fetch`], the reading of headers, bodies and error answers.

use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex};

use berth_model::manifest::media_type;
use berth_model::{Algorithm, Digest, Reference};
use bytes::{Bytes, BytesMut};
use futures::StreamExt as _;
use reqwest::{Method, Response, StatusCode, header};
use url::Url;

use crate::auth::{AuthState, Op, Used};
use crate::{
    ClientOptions, Endpoint, Error, ManifestHead, Ping, RemoteBlob, RemoteManifest, RemoteName,
};

/// Every manifest and index media type a registry may answer with, best first (schema 1 is
/// left out: berth refuses it).
const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
application/vnd.oci.image.manifest.v1+json, \
application/vnd.docker.distribution.manifest.list.v2+json, \
application/vnd.docker.distribution.manifest.v2+json";

/// How much of an error body is read for its message.
const MAX_ERROR_BODY: u64 = 64 << 10;

/// A client of one remote registry. Cloning is cheap and shares connections and tokens.
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) http: reqwest::Client,
    /// The same client without a read timeout, for streamed uploads (see `body.rs`).
    pub(crate) upload_http: reqwest::Client,
    /// The endpoint URL with a trailing `/`, which `v2/...` is joined to.
    base: Url,
    /// The endpoint URL as given, for messages.
    shown: String,
    /// `host[:port]`, for messages.
    pub(crate) host: String,
    pub(crate) credentials: Option<(String, String)>,
    pub(crate) options: ClientOptions,
    pub(crate) auth: Mutex<AuthState>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("endpoint", &self.inner.shown)
            .field("username", &self.inner.credentials.as_ref().map(|(u, _)| u))
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client of `endpoint`. Fails when the URL is not `http(s)://host[:port][/path]` (no
    /// credentials in it, no query or fragment), or when the TLS setup cannot be built.
    pub fn new(endpoint: Endpoint, options: ClientOptions) -> Result<Client, Error> {
        let Endpoint {
            url,
            username,
            password,
            insecure,
        } = endpoint;
        let mut shown = url.clone();
        // Never echo what was in the userinfo, even in the refusal.
        let _ = shown.set_username("");
        let _ = shown.set_password(None);
        let shown = shown.to_string();
        let refuse = |message: &str| Err(Error::invalid(&shown, message));
        if !matches!(url.scheme(), "http" | "https") {
            return refuse("the endpoint URL must be http:// or https://");
        }
        let Some(host) = url.host_str() else {
            return refuse("the endpoint URL has no host");
        };
        if !url.username().is_empty() || url.password().is_some() {
            return refuse("credentials go in the endpoint's username and password, not its URL");
        }
        if url.query().is_some() || url.fragment().is_some() {
            return refuse("the endpoint URL may not have a query or a fragment");
        }
        let host = match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        };
        let mut base = url;
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let credentials = match (username, password) {
            (Some(user), password) => Some((user, password.unwrap_or_default())),
            (None, Some(_)) => return refuse("a password without a username"),
            (None, None) => None,
        };
        let builder = || {
            reqwest::Client::builder()
                .user_agent(options.user_agent.clone())
                .connect_timeout(options.connect_timeout)
                .tls_danger_accept_invalid_certs(insecure)
                // reqwest drops `Authorization` when a redirect leaves the host, port or scheme:
                // a CDN or a presigned URL never sees the registry's credentials.
                .redirect(reqwest::redirect::Policy::limited(10))
        };
        let built = |builder: reqwest::ClientBuilder| {
            builder
                .build()
                .map_err(|e| Error::invalid(&shown, format!("cannot build the HTTP client: {e}")))
        };
        // reqwest's read timeout runs from the request's start to the response head, then for
        // each gap in the body: right for reads, wrong for a blob sent for minutes.
        let http = built(builder().read_timeout(options.read_timeout))?;
        let upload_http = built(builder())?;
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                upload_http,
                base,
                shown: shown.trim_end_matches('/').to_owned(),
                host,
                credentials,
                options,
                auth: Mutex::new(AuthState::default()),
            }),
        })
    }

    /// The endpoint's URL, for messages (it never holds credentials).
    pub fn endpoint_url(&self) -> &str {
        &self.inner.shown
    }

    /// `GET /v2/`: whether the registry answers, and whether it accepts the credentials (Basic,
    /// or a token for no scope). Never fails: what went wrong is in the message.
    pub async fn ping(&self) -> Ping {
        let inner = &self.inner;
        let url = inner.url("v2/");
        let op = Op::new(Method::GET, &url, None);
        let has_credentials = inner.credentials.is_some();
        let (reachable, authenticated, message) = match inner.send(&op).await {
            Ok((response, used)) if response.status().is_success() => {
                let message = match used {
                    Used::Basic => "reachable; credentials accepted (Basic)".to_owned(),
                    Used::Token {
                        with_credentials: true,
                    } => "reachable; credentials accepted (token)".to_owned(),
                    _ if has_credentials => "reachable; anonymous access (the registry asked \
                                             for no credentials, so they were not checked)"
                        .to_owned(),
                    _ => "reachable; anonymous access".to_owned(),
                };
                (true, used.with_credentials(), message)
            }
            Ok((response, _)) => {
                let e = status_error(url.as_str(), response).await;
                (
                    true,
                    false,
                    format!("reachable, but not an OCI registry? {e}"),
                )
            }
            Err(Error::Unauthorized { message, .. }) => (true, false, message),
            Err(e) if e.is_unreachable() => (false, false, chain(&e)),
            Err(e) => (true, false, chain(&e)),
        };
        Ping {
            reachable,
            authenticated,
            message,
        }
    }

    /// `HEAD /v2/<name>/manifests/<reference>`: the manifest's digest, media type and size, or
    /// `None` when the remote has no such manifest.
    pub async fn head_manifest(
        &self,
        repository: &RemoteName,
        reference: &Reference,
    ) -> Result<Option<ManifestHead>, Error> {
        let inner = &self.inner;
        let url = inner.url(&format!("v2/{repository}/manifests/{reference}"));
        let op = Op {
            accept: Some(MANIFEST_ACCEPT),
            ..Op::new(Method::HEAD, &url, scope(repository, PULL))
        };
        let Some(response) = inner.fetch(&op).await? else {
            return Ok(None);
        };
        let shown = url.as_str();
        let headers = response.headers();
        let announced = content_digest(shown, headers)?;
        let digest = match (announced, reference.digest()) {
            (Some(announced), Some(asked)) if announced != *asked => {
                return Err(Error::DigestMismatch {
                    url: shown.to_owned(),
                    expected: asked.to_string(),
                    actual: announced.to_string(),
                });
            }
            (Some(digest), _) => digest,
            (None, Some(asked)) => asked.clone(),
            (None, None) => {
                return Err(Error::invalid(
                    shown,
                    "a manifest HEAD answer without Docker-Content-Digest",
                ));
            }
        };
        let media_type = header_str(shown, headers, header::CONTENT_TYPE)?
            .and_then(|v| v.split(';').next())
            .map(|v| v.trim().to_ascii_lowercase())
            .filter(|v| !v.is_empty())
            .ok_or_else(|| Error::invalid(shown, "a manifest HEAD answer without Content-Type"))?;
        let size = content_length(shown, headers)?.ok_or_else(|| {
            Error::invalid(shown, "a manifest HEAD answer without Content-Length")
        })?;
        Ok(Some(ManifestHead {
            digest,
            media_type,
            size,
        }))
    }

    /// `GET /v2/<name>/manifests/<reference>`, accepting every OCI and Docker schema 2 manifest
    /// and index type: the exact bytes (at most [`ClientOptions::max_manifest_size`], else
    /// [`Error::TooLarge`]), their digest, and their media type; `None` when the remote has no
    /// such manifest. The digest must be the one asked for (a digest reference) and the one the
    /// remote announced (`Docker-Content-Digest`), else [`Error::DigestMismatch`].
    pub async fn get_manifest(
        &self,
        repository: &RemoteName,
        reference: &Reference,
    ) -> Result<Option<RemoteManifest>, Error> {
        let inner = &self.inner;
        let url = inner.url(&format!("v2/{repository}/manifests/{reference}"));
        let op = Op {
            accept: Some(MANIFEST_ACCEPT),
            ..Op::new(Method::GET, &url, scope(repository, PULL))
        };
        let Some(response) = inner.fetch(&op).await? else {
            return Ok(None);
        };
        let shown = url.as_str();
        let announced = content_digest(shown, response.headers())?;
        let content_type =
            header_str(shown, response.headers(), header::CONTENT_TYPE)?.map(str::to_owned);
        let bytes = read_limited(shown, response, inner.options.max_manifest_size).await?;
        let algorithm = reference
            .digest()
            .map_or(Algorithm::Sha256, Digest::algorithm);
        let digest = Digest::compute(algorithm, &bytes);
        for expected in reference.digest().into_iter().chain(announced.as_ref()) {
            let actual = if expected.algorithm() == algorithm {
                digest.clone()
            } else {
                Digest::compute(expected.algorithm(), &bytes)
            };
            if actual != *expected {
                return Err(Error::DigestMismatch {
                    url: shown.to_owned(),
                    expected: expected.to_string(),
                    actual: actual.to_string(),
                });
            }
        }
        let media_type = match content_type
            .as_deref()
            .and_then(media_type::from_content_type)
        {
            Some(media_type) => media_type,
            None => document_media_type(&bytes).ok_or_else(|| {
                Error::invalid(
                    shown,
                    "the manifest's media type is neither in Content-Type nor in the document",
                )
            })?,
        };
        Ok(Some(RemoteManifest {
            digest,
            media_type,
            bytes,
        }))
    }

    /// `HEAD /v2/<name>/blobs/<digest>`: the blob's size, or `None` when the remote has no such
    /// blob.
    pub async fn head_blob(
        &self,
        repository: &RemoteName,
        digest: &Digest,
    ) -> Result<Option<u64>, Error> {
        self.inner.stat_blob(repository, digest, PULL).await
    }

    /// `GET /v2/<name>/blobs/<digest>`, streamed: the body as it arrives, or `None` when the
    /// remote has no such blob. Redirects (to a CDN or presigned storage) are followed without
    /// the registry's credentials. The bytes are not hashed here (see the crate's contract).
    pub async fn get_blob(
        &self,
        repository: &RemoteName,
        digest: &Digest,
    ) -> Result<Option<RemoteBlob>, Error> {
        let inner = &self.inner;
        let url = inner.url(&format!("v2/{repository}/blobs/{digest}"));
        let op = Op::new(Method::GET, &url, scope(repository, PULL));
        let Some(response) = inner.fetch(&op).await? else {
            return Ok(None);
        };
        let size = content_length(url.as_str(), response.headers())?;
        let shown = url.to_string();
        let body = response
            .bytes_stream()
            .map(move |chunk| chunk.map_err(|e| Error::transport(&shown, e)))
            .boxed();
        Ok(Some(RemoteBlob { size, body }))
    }
}

/// The actions of a repository scope: to read, to write (docker asks for `pull,push`: a push
/// reads too), to delete.
pub(crate) const PULL: &str = "pull";
pub(crate) const PUSH: &str = "pull,push";
pub(crate) const DELETE: &str = "pull,push,delete";

/// The token scope for `actions` on `repository`.
pub(crate) fn scope(repository: &RemoteName, actions: &str) -> Option<String> {
    Some(format!("repository:{repository}:{actions}"))
}

impl Inner {
    pub(crate) fn url(&self, path: &str) -> Url {
        // `path` is made of validated names, digests and tags: joining cannot fail.
        self.base.join(path).unwrap_or_else(|_| self.base.clone())
    }

    /// Whether `url` is the endpoint's (its scheme, host and port): only those get credentials.
    pub(crate) fn owns(&self, url: &Url) -> bool {
        url.origin() == self.base.origin()
    }

    /// `op` through the flow: the successful answer, `None` for 404, the error of any other
    /// status.
    pub(crate) async fn fetch(&self, op: &Op<'_>) -> Result<Option<Response>, Error> {
        let (response, _) = self.send(op).await?;
        match response.status() {
            s if s.is_success() => Ok(Some(response)),
            StatusCode::NOT_FOUND => Ok(None),
            _ => Err(status_error(&op.shown, response).await),
        }
    }

    /// `HEAD /v2/<name>/blobs/<digest>` with a token for `actions`: the blob's size, `None`
    /// when it is not there.
    pub(crate) async fn stat_blob(
        &self,
        repository: &RemoteName,
        digest: &Digest,
        actions: &str,
    ) -> Result<Option<u64>, Error> {
        let url = self.url(&format!("v2/{repository}/blobs/{digest}"));
        let op = Op::new(Method::HEAD, &url, scope(repository, actions));
        let Some(response) = self.fetch(&op).await? else {
            return Ok(None);
        };
        let size = content_length(url.as_str(), response.headers())?.ok_or_else(|| {
            Error::invalid(url.as_str(), "a blob HEAD answer without Content-Length")
        })?;
        Ok(Some(size))
    }

    /// `future` (a request being sent), given up after the response timeout.
    pub(crate) async fn timed(
        &self,
        url: &str,
        future: impl Future<Output = reqwest::Result<Response>>,
    ) -> Result<Response, Error> {
        let limit = self.options.response_timeout;
        match tokio::time::timeout(limit, future).await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(e)) => Err(Error::transport(url, e)),
            Err(_) => Err(Error::Unreachable {
                url: url.to_owned(),
                source: format!("no response within {limit:?}").into(),
            }),
        }
    }
}

/// The error for an unexpected status: 401 (a 401 here came after the flow), 403 or another.
pub(crate) async fn status_error(url: &str, response: Response) -> Error {
    let status = response.status();
    let message = read_error(response).await;
    let url = url.to_owned();
    match status {
        StatusCode::UNAUTHORIZED => Error::Unauthorized { url, message },
        StatusCode::FORBIDDEN => Error::Denied { url, message },
        _ => Error::Status {
            url,
            status: status.as_u16(),
            message,
        },
    }
}

/// What an error answer says: the OCI error body's `CODE: message` (each of them), Docker Hub's
/// token endpoint's `details`, or the reason phrase.
pub(crate) async fn read_error(mut response: Response) -> String {
    let reason = response
        .status()
        .canonical_reason()
        .unwrap_or("unknown status")
        .to_owned();
    let mut body = BytesMut::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        let room = MAX_ERROR_BODY as usize - body.len();
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() as u64 >= MAX_ERROR_BODY {
            break;
        }
    }
    oci_error_message(&body).unwrap_or(reason)
}

fn oci_error_message(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Envelope {
        #[serde(default)]
        errors: Vec<Entry>,
        details: Option<String>,
    }
    #[derive(serde::Deserialize)]
    struct Entry {
        code: Option<String>,
        message: Option<String>,
    }
    let envelope: Envelope = serde_json::from_slice(body).ok()?;
    let entries: Vec<String> = envelope
        .errors
        .iter()
        .map(|e| match (&e.code, &e.message) {
            (Some(code), Some(message)) => format!("{code}: {message}"),
            (Some(text), None) | (None, Some(text)) => text.clone(),
            (None, None) => String::new(),
        })
        .filter(|s| !s.is_empty())
        .collect();
    if entries.is_empty() {
        envelope.details.filter(|d| !d.is_empty())
    } else {
        Some(entries.join("; "))
    }
}

/// The whole body, refused beyond `limit` bytes (at once when `Content-Length` says so).
pub(crate) async fn read_limited(
    url: &str,
    mut response: Response,
    limit: u64,
) -> Result<Bytes, Error> {
    let too_large = || Error::TooLarge {
        url: url.to_owned(),
        limit,
        unit: "bytes",
    };
    let declared = content_length(url, response.headers())?;
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let mut body = BytesMut::with_capacity(declared.unwrap_or(0) as usize);
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| Error::transport(url, e))?
    {
        if (body.len() + chunk.len()) as u64 > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

pub(crate) fn header_str<'h>(
    url: &str,
    headers: &'h header::HeaderMap,
    name: header::HeaderName,
) -> Result<Option<&'h str>, Error> {
    headers
        .get(&name)
        .map(|v| {
            v.to_str()
                .map_err(|_| Error::invalid(url, format!("{name} is not visible ASCII")))
        })
        .transpose()
}

/// `Content-Length` read from the header: reqwest's own answers 0 for a `HEAD`.
pub(crate) fn content_length(url: &str, headers: &header::HeaderMap) -> Result<Option<u64>, Error> {
    header_str(url, headers, header::CONTENT_LENGTH)?
        .map(|v| {
            v.trim()
                .parse::<u64>()
                .map_err(|_| Error::invalid(url, format!("Content-Length {v:?} is not a number")))
        })
        .transpose()
}

pub(crate) fn content_digest(
    url: &str,
    headers: &header::HeaderMap,
) -> Result<Option<Digest>, Error> {
    let name = header::HeaderName::from_static("docker-content-digest");
    header_str(url, headers, name)?
        .map(|v| {
            Digest::parse(v.trim())
                .map_err(|e| Error::invalid(url, format!("Docker-Content-Digest {v:?}: {e}")))
        })
        .transpose()
}

/// The document's `mediaType`, else what its shape says (an index has `manifests`, an image
/// manifest `config`): OCI lets both omit the field.
fn document_media_type(bytes: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Shape {
        #[serde(rename = "mediaType")]
        media_type: Option<String>,
        manifests: Option<serde::de::IgnoredAny>,
        config: Option<serde::de::IgnoredAny>,
    }
    let shape: Shape = serde_json::from_slice(bytes).ok()?;
    match shape {
        Shape {
            media_type: Some(m),
            ..
        } => Some(m),
        Shape {
            manifests: Some(_), ..
        } => Some(media_type::OCI_IMAGE_INDEX.to_owned()),
        Shape {
            config: Some(_), ..
        } => Some(media_type::OCI_IMAGE_MANIFEST.to_owned()),
        _ => None,
    }
}

/// An error and its causes, for a person: `… is unreachable: error sending request: …`.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies() {
        let cases: &[(&[u8], Option<&str>)] = &[
            (
                br#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":null}]}"#,
                Some("UNAUTHORIZED: authentication required"),
            ),
            (
                br#"{"errors":[{"code":"DENIED"},{"message":"and more"}]}"#,
                Some("DENIED; and more"),
            ),
            (br#"{"details":"incorrect username or password"}"#, Some("incorrect username or password")),
            (b"<html>bad gateway</html>", None),
            (br#"{"errors":[]}"#, None),
        ];
        for (body, expected) in cases {
            assert_eq!(oci_error_message(body).as_deref(), *expected);
        }
    }

    #[test]
    fn media_type_from_the_document() {
        let cases: &[(&str, Option<&str>)] = &[
            (
                r#"{"mediaType":"application/vnd.docker.distribution.manifest.v2+json"}"#,
                Some(media_type::DOCKER_MANIFEST),
            ),
            (
                r#"{"schemaVersion":2,"manifests":[]}"#,
                Some(media_type::OCI_IMAGE_INDEX),
            ),
            (
                r#"{"schemaVersion":2,"config":{},"layers":[]}"#,
                Some(media_type::OCI_IMAGE_MANIFEST),
            ),
            (r#"{"schemaVersion":2}"#, None),
            ("not json", None),
        ];
        for (doc, expected) in cases {
            assert_eq!(
                document_media_type(doc.as_bytes()).as_deref(),
                *expected,
                "{doc}"
            );
        }
    }

    #[test]
    fn endpoints_are_parsed_when_the_client_is_made() {
        let options = ClientOptions::default;
        for (url, base, shown) in [
            (
                "https://registry.example",
                "https://registry.example/",
                "https://registry.example",
            ),
            (
                "http://127.0.0.1:5000/",
                "http://127.0.0.1:5000/",
                "http://127.0.0.1:5000",
            ),
            ("https://h/mirror", "https://h/mirror/", "https://h/mirror"),
        ] {
            let mut endpoint = Endpoint::parse(url).unwrap();
            endpoint.insecure = true;
            let client = Client::new(endpoint, options()).unwrap();
            assert_eq!(client.inner.base.as_str(), base);
            assert_eq!(client.endpoint_url(), shown);
            assert_eq!(client.inner.url("v2/").as_str(), format!("{base}v2/"));
        }
        for url in [
            "ftp://h/",
            "https://user:secret@h/",
            "https://h/?a=b",
            "https://h/#f",
        ] {
            let e = Client::new(Endpoint::parse(url).unwrap(), options()).unwrap_err();
            assert!(matches!(e, Error::Invalid { .. }), "{url}: {e}");
            assert!(!e.to_string().contains("secret"), "{e}");
        }
    }

    /// The engine spawns these: the client is shareable and every future is `Send`.
    #[test]
    fn futures_are_send() {
        fn send<T: Send>(_: &T) {}
        fn shared<T: Send + Sync + Clone + 'static>() {}
        shared::<Client>();
        let client = Client::new(
            Endpoint::parse("http://h/").unwrap(),
            ClientOptions::default(),
        )
        .unwrap();
        let (name, tag) = (
            RemoteName::parse("a").unwrap(),
            Reference::parse("t").unwrap(),
        );
        let digest = Digest::sha256(b"");
        send(&client.ping());
        send(&client.head_manifest(&name, &tag));
        send(&client.get_manifest(&name, &tag));
        send(&client.head_blob(&name, &digest));
        send(&client.get_blob(&name, &digest));
        send(&client.blob_exists(&name, &digest));
        send(&client.mount_blob(&name, &digest, &name));
        let body = futures::stream::empty().boxed();
        send(&client.push_blob(&name, &digest, 0, body));
        send(&client.put_manifest(&name, &tag, "application/json", Bytes::new()));
        send(&client.delete_manifest(&name, &tag));
        send(&client.list_tags(&name));
        send(&client.catalog());
        send(&client.referrers(&name, &digest));
    }

    #[test]
    fn debug_output_holds_no_password() {
        let endpoint = Endpoint::parse("https://h/")
            .unwrap()
            .with_credentials("robot", "hunter2");
        let client = Client::new(endpoint.clone(), ClientOptions::default()).unwrap();
        for text in [format!("{endpoint:?}"), format!("{client:?}")] {
            assert!(
                text.contains("robot") && !text.contains("hunter2"),
                "{text}"
            );
        }
    }
}
