//! The OCI Distribution v2 endpoints over one [`Registry`]: request in, response out.
//!
//! [`V2::handle`] takes the caller's [`Principal`] (authentication is a separate layer) and an
//! `http::Request` with any body, parses the route ([`crate::route`]), makes one engine call and
//! answers with the spec's status and headers. Bodies stream both ways: an upload's chunks go to
//! the blob store as they arrive, and a blob read is sent as the store produces it. Failures
//! become the OCI error envelope through [`crate::errors`], the one table.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use berth_core::{Mount, Registry, RequestBody};
use berth_model::{ByteRange, Digest, Name, UploadId, UploadRange};
use berth_policy::Principal;
use bytes::Bytes;
use futures::StreamExt as _;
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode, header};
use http_body_util::{BodyExt as _, Full, StreamBody, combinators::UnsyncBoxBody};

use crate::errors::{ErrorCode, OciError};
use crate::route::{self, Paging, Route, StartUpload};

/// A response body: bytes, streamed, or failing part-way as an I/O error.
pub type Body = UnsyncBoxBody<Bytes, std::io::Error>;

/// `Docker-Distribution-API-Version`, on every answer.
const API_VERSION: (&str, &str) = ("docker-distribution-api-version", "registry/2.0");
/// Header names the spec adds to HTTP's.
const DOCKER_CONTENT_DIGEST: header::HeaderName =
    header::HeaderName::from_static("docker-content-digest");
const DOCKER_UPLOAD_UUID: header::HeaderName =
    header::HeaderName::from_static("docker-upload-uuid");
const OCI_SUBJECT: header::HeaderName = header::HeaderName::from_static("oci-subject");
const OCI_CHUNK_MIN_LENGTH: header::HeaderName =
    header::HeaderName::from_static("oci-chunk-min-length");
const OCI_FILTERS_APPLIED: header::HeaderName =
    header::HeaderName::from_static("oci-filters-applied");
/// Default and largest page for tag lists and the catalog.
const MAX_PAGE: usize = 10_000;

/// The v2 protocol over a registry engine.
#[derive(Debug, Clone)]
pub struct V2 {
    registry: Arc<Registry>,
    /// Whether the host router strips `/v2` from the path before calling.
    nested: bool,
    /// The caller of a request, through the [`tower_service::Service`] surface, whose extensions
    /// carry no [`Principal`].
    principal: Arc<Principal>,
}

pub(crate) fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

fn empty() -> Body {
    full(Bytes::new())
}

struct Answer {
    status: StatusCode,
    headers: Vec<(header::HeaderName, String)>,
    body: Body,
}

impl Answer {
    fn new(status: StatusCode) -> Self {
        Answer {
            status,
            headers: Vec::new(),
            body: empty(),
        }
    }

    fn header(mut self, name: impl Into<header::HeaderName>, value: impl ToString) -> Self {
        self.headers.push((name.into(), value.to_string()));
        self
    }

    fn json(self, value: serde_json::Value) -> Self {
        self.header(header::CONTENT_TYPE, "application/json")
            .body(full(value.to_string()))
    }

    fn body(mut self, body: Body) -> Self {
        self.body = body;
        self
    }

    fn into_response(self) -> Response<Body> {
        let mut response = Response::new(self.body);
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        headers.insert(API_VERSION.0, HeaderValue::from_static(API_VERSION.1));
        for (name, value) in self.headers {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.append(name, value);
            }
        }
        response
    }
}

/// The answer to a failure: the envelope, with its status and headers.
pub fn error_response(error: &OciError) -> Response<Body> {
    let mut answer = Answer::new(error.status())
        .header(header::CONTENT_TYPE, "application/json")
        .body(full(error.envelope()));
    for (name, value) in &error.headers {
        answer = answer.header(name.clone(), value);
    }
    answer.into_response()
}

/// A request body for the engine, with its declared length (`Content-Length`): the engine
/// decides who may send it before reading a byte, and refuses what cannot fit from the length
/// alone.
fn request_body<B>(headers: &HeaderMap, body: B) -> RequestBody
where
    B: berth_core::HttpBody,
{
    let length = header_str(headers, header::CONTENT_LENGTH).and_then(|v| v.parse().ok());
    RequestBody::from_http(body, length)
}

/// `body`, failing unless it is exactly `expected` bytes (a chunk whose `Content-Range` says so),
/// and the flag that tells it failed for that. An append that fails keeps nothing.
fn exactly(body: RequestBody, expected: u64) -> (RequestBody, Arc<AtomicBool>) {
    let wrong = Arc::new(AtomicBool::new(false));
    let flag = wrong.clone();
    let mut seen = 0u64;
    let mut stream = body.into_stream();
    let checked = futures::stream::poll_fn(move |cx| {
        let next = stream.poll_next_unpin(cx);
        match &next {
            std::task::Poll::Ready(Some(Ok(chunk))) => {
                seen += chunk.len() as u64;
                if seen > expected {
                    flag.store(true, Ordering::Relaxed);
                    return std::task::Poll::Ready(Some(Err(std::io::Error::other(
                        "the chunk is longer than its Content-Range",
                    ))));
                }
            }
            std::task::Poll::Ready(None) if seen != expected => {
                flag.store(true, Ordering::Relaxed);
                return std::task::Poll::Ready(Some(Err(std::io::Error::other(
                    "the chunk is shorter than its Content-Range",
                ))));
            }
            _ => {}
        }
        next
    });
    (RequestBody::new(Box::pin(checked), Some(expected)), wrong)
}

/// The 416 for a chunk whose length is not what its `Content-Range` says.
fn range_mismatch(range: &UploadRange, length: Option<u64>) -> OciError {
    let expected = range.end.saturating_sub(range.start) + 1;
    let got = length.map_or_else(|| "a different number of".to_owned(), |n| n.to_string());
    OciError::new(
        ErrorCode::UploadRangeInvalid,
        format!(
            "Content-Range {}-{} is {expected} bytes, but the chunk has {got} bytes",
            range.start, range.end
        ),
    )
}

/// Adds `Warning: 110 berth "..."` (RFC 7234's "response is stale") when a proxy repository
/// served its cached copy because the upstream failed; the text is made a valid quoted string.
fn stale_warning(answer: Answer, warning: Option<&str>) -> Answer {
    match warning {
        Some(text) => {
            let text: String = text
                .chars()
                .take(300)
                .map(|c| match c {
                    '"' | '\\' => '\'',
                    c if c == ' ' || c.is_ascii_graphic() => c,
                    _ => '?',
                })
                .collect();
            answer.header(header::WARNING, format!("110 berth \"{text}\""))
        }
        None => answer,
    }
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// A listing page (tags, catalog): its JSON, and `Link: <…?n=N&last=L>; rel="next"` when the
/// page came back full, so a client knows to ask for more.
fn listing(body: serde_json::Value, path: &str, n: usize, entries: &[String]) -> Answer {
    let answer = Answer::new(StatusCode::OK).json(body);
    match entries.last() {
        Some(last) if entries.len() == n => answer.header(
            header::LINK,
            format!("<{path}?n={n}&last={last}>; rel=\"next\""),
        ),
        _ => answer,
    }
}

/// Where an upload session continues, and how far it got: `202 Accepted` with `Location`,
/// `Range: 0-<last byte>` and `Docker-Upload-UUID`.
fn upload_progress(name: &Name, id: &UploadId, offset: u64) -> Answer {
    Answer::new(StatusCode::ACCEPTED)
        .header(header::LOCATION, format!("/v2/{name}/blobs/uploads/{id}"))
        .header(header::RANGE, berth_model::range::upload_progress(offset))
        .header(DOCKER_UPLOAD_UUID, id)
}

/// An engine failure through the one table.
fn engine(e: berth_core::Error) -> OciError {
    OciError::from(&e)
}

impl V2 {
    /// The protocol over `registry`.
    pub fn new(registry: Arc<Registry>) -> Self {
        V2 {
            registry,
            nested: false,
            principal: Arc::new(Principal::Anonymous),
        }
    }

    /// The same protocol behind a router that strips the `/v2` prefix before calling (axum's
    /// `nest_service("/v2", v2.nested())`): paths are then read as if they began with `/v2`.
    /// `Location` headers still name the full path, since the spec fixes the API at `/v2/`.
    #[must_use]
    pub fn nested(mut self) -> Self {
        self.nested = true;
        self
    }

    /// The same protocol, answering a request that reaches it as a [`tower_service::Service`]
    /// with no [`Principal`] in its extensions on behalf of `principal` (anonymous unless set).
    /// An embedder that authenticates callers itself puts each caller's `Principal` in the
    /// request's extensions instead.
    #[must_use]
    pub fn with_principal(mut self, principal: Principal) -> Self {
        self.principal = Arc::new(principal);
        self
    }

    /// The caller of a request reaching the service surface.
    pub(crate) fn caller(&self, extensions: &http::Extensions) -> Principal {
        extensions
            .get::<Principal>()
            .unwrap_or(&self.principal)
            .clone()
    }

    /// Answers one request on behalf of `principal`.
    pub async fn handle<B>(&self, principal: &Principal, request: Request<B>) -> Response<Body>
    where
        B: berth_core::HttpBody,
    {
        let (parts, body) = request.into_parts();
        let full;
        let path = match parts.uri.path() {
            path if !self.nested => path,
            "" | "/" => "/v2/",
            path => {
                full = format!("/v2{path}");
                &full
            }
        };
        let route = match route::parse(&parts.method, path, parts.uri.query()) {
            Ok(route) => route,
            Err(e) => return error_response(&OciError::from(&e)),
        };
        let body = request_body(&parts.headers, body);
        match self.dispatch(principal, &parts.headers, route, body).await {
            Ok(answer) => answer.into_response(),
            Err(e) => error_response(&e),
        }
    }

    /// One operation. The body arrives converted once, whatever the server's body type.
    async fn dispatch(
        &self,
        who: &Principal,
        headers: &HeaderMap,
        route: Route,
        body: RequestBody,
    ) -> Result<Answer, OciError> {
        let r = &self.registry;
        match route {
            Route::Base => Ok(Answer::new(StatusCode::OK).json(serde_json::json!({}))),
            Route::Catalog(Paging { n, last }) => {
                let n = n.unwrap_or(MAX_PAGE).min(MAX_PAGE);
                let names = r.catalog(who, n, last.as_ref()).await.map_err(engine)?;
                let names: Vec<String> = names.iter().map(ToString::to_string).collect();
                let body = serde_json::json!({"repositories": names});
                Ok(listing(body, "/v2/_catalog", n, &names))
            }
            Route::ListTags {
                name,
                paging: Paging { n, last },
            } => {
                let n = n.unwrap_or(MAX_PAGE).min(MAX_PAGE);
                let tags = r
                    .list_tags(who, &name, n, last.as_ref())
                    .await
                    .map_err(engine)?;
                let tags: Vec<String> = tags.iter().map(ToString::to_string).collect();
                let body = serde_json::json!({"name": name.to_string(), "tags": tags});
                Ok(listing(body, &format!("/v2/{name}/tags/list"), n, &tags))
            }
            Route::GetManifest { name, reference } => {
                let m = r
                    .get_manifest(who, &name, &reference)
                    .await
                    .map_err(engine)?;
                let answer = Answer::new(StatusCode::OK)
                    .header(header::CONTENT_TYPE, &m.media_type)
                    .header(DOCKER_CONTENT_DIGEST, &m.digest)
                    .header(header::CONTENT_LENGTH, m.bytes.len());
                Ok(stale_warning(answer, m.warning.as_deref()).body(full(m.bytes)))
            }
            Route::HeadManifest { name, reference } => {
                let m = r
                    .head_manifest(who, &name, &reference)
                    .await
                    .map_err(engine)?;
                let answer = Answer::new(StatusCode::OK)
                    .header(header::CONTENT_TYPE, &m.media_type)
                    .header(DOCKER_CONTENT_DIGEST, &m.digest)
                    .header(header::CONTENT_LENGTH, m.size);
                Ok(stale_warning(answer, m.warning.as_deref()))
            }
            Route::PutManifest { name, reference } => {
                // The engine decides who may push before it reads the body.
                let content_type = header_str(headers, header::CONTENT_TYPE);
                let pushed = r
                    .put_manifest(who, &name, &reference, body, content_type)
                    .await
                    .map_err(engine)?;
                let answer = Answer::new(StatusCode::CREATED)
                    .header(
                        header::LOCATION,
                        format!("/v2/{name}/manifests/{}", pushed.digest),
                    )
                    .header(DOCKER_CONTENT_DIGEST, &pushed.digest);
                Ok(match pushed.subject {
                    Some(subject) => answer.header(OCI_SUBJECT, subject),
                    None => answer,
                })
            }
            Route::DeleteManifest { name, reference } => {
                r.delete_manifest(who, &name, &reference)
                    .await
                    .map_err(engine)?;
                Ok(Answer::new(StatusCode::ACCEPTED))
            }
            Route::HeadBlob { name, digest } => {
                let size = r.stat_blob(who, &name, &digest).await.map_err(engine)?;
                Ok(Answer::new(StatusCode::OK)
                    .header(header::CONTENT_LENGTH, size)
                    .header(header::ACCEPT_RANGES, "bytes")
                    .header(DOCKER_CONTENT_DIGEST, &digest))
            }
            Route::GetBlob { name, digest } => self.get_blob(who, headers, name, digest).await,
            Route::DeleteBlob { name, digest } => {
                r.delete_blob(who, &name, &digest).await.map_err(engine)?;
                Ok(Answer::new(StatusCode::ACCEPTED))
            }
            Route::StartUpload { name, start } => self.start_upload(who, name, start, body).await,
            Route::UploadStatus { name, id } => {
                let offset = r.upload_status(who, &name, &id).await.map_err(engine)?;
                let mut answer = upload_progress(&name, &id, offset);
                answer.status = StatusCode::NO_CONTENT;
                Ok(answer)
            }
            Route::PatchUpload { name, id } => {
                let offset = self.patch_upload(who, headers, &name, &id, body).await?;
                Ok(upload_progress(&name, &id, offset))
            }
            Route::CommitUpload { name, id, digest } => {
                r.commit_upload(who, &name, &id, &digest, Some(body))
                    .await
                    .map_err(engine)?;
                Ok(created(&name, &digest))
            }
            Route::CancelUpload { name, id } => {
                r.abort_upload(who, &name, &id).await.map_err(engine)?;
                Ok(Answer::new(StatusCode::NO_CONTENT))
            }
            Route::Referrers {
                name,
                digest,
                artifact_type,
            } => {
                let found = r
                    .referrers(who, &name, &digest, artifact_type.as_deref())
                    .await
                    .map_err(engine)?;
                let manifests: Vec<serde_json::Value> = found
                    .iter()
                    .map(|a| {
                        let mut d = serde_json::json!({"mediaType": a.media_type, "digest": a.digest.to_string(), "size": a.manifest_size});
                        if let Some(t) = &a.artifact_type {
                            d["artifactType"] = t.clone().into();
                        }
                        if !a.annotations.is_empty() {
                            d["annotations"] = serde_json::json!(a.annotations);
                        }
                        d
                    })
                    .collect();
                let index = serde_json::json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": manifests});
                let answer = Answer::new(StatusCode::OK)
                    .header(
                        header::CONTENT_TYPE,
                        "application/vnd.oci.image.index.v1+json",
                    )
                    .body(full(index.to_string()));
                Ok(match artifact_type {
                    Some(_) => answer.header(OCI_FILTERS_APPLIED, "artifactType"),
                    None => answer,
                })
            }
        }
    }

    async fn get_blob(
        &self,
        who: &Principal,
        headers: &HeaderMap,
        name: Name,
        digest: Digest,
    ) -> Result<Answer, OciError> {
        // RFC 9110 lets a server ignore a Range it cannot read (several ranges, another unit):
        // the whole blob is a correct answer to it.
        let range = header_str(headers, header::RANGE).and_then(|v| ByteRange::parse(v).ok());
        let read = self
            .registry
            .read_blob(who, &name, &digest, range)
            .await
            .map_err(engine)?;
        let length = read.range.end - read.range.start;
        let body = StreamBody::new(read.body.map(|chunk| {
            chunk
                .map(http_body::Frame::data)
                .map_err(std::io::Error::other)
        }));
        let answer = Answer::new(if range.is_some() {
            StatusCode::PARTIAL_CONTENT
        } else {
            StatusCode::OK
        })
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .header(header::CONTENT_LENGTH, length)
        .header(header::ACCEPT_RANGES, "bytes")
        .header(DOCKER_CONTENT_DIGEST, &digest)
        .body(http_body_util::BodyExt::boxed_unsync(body));
        Ok(match range {
            Some(_) => answer.header(
                header::CONTENT_RANGE,
                berth_model::range::content_range(&read.range, read.size),
            ),
            None => answer,
        })
    }

    async fn start_upload(
        &self,
        who: &Principal,
        name: Name,
        start: StartUpload,
        body: RequestBody,
    ) -> Result<Answer, OciError> {
        let r = &self.registry;
        // A new session, with the chunk size the blob store wants, if it wants one.
        let min_chunk = r.blob_store().min_chunk();
        let session = |id: UploadId| {
            let answer = upload_progress(&name, &id, 0);
            match min_chunk {
                Some(min) => answer.header(OCI_CHUNK_MIN_LENGTH, min),
                None => answer,
            }
        };
        match start {
            StartUpload::Session(algorithm) => Ok(session(
                r.start_upload(who, &name, algorithm)
                    .await
                    .map_err(engine)?,
            )),
            StartUpload::Monolithic(digest) => {
                r.put_blob(who, &name, &digest, body)
                    .await
                    .map_err(engine)?;
                Ok(created(&name, &digest))
            }
            StartUpload::Mount { digest, from } => match r
                .mount_blob(who, &name, &digest, from.as_ref())
                .await
                .map_err(engine)?
            {
                Mount::Mounted(_) => Ok(created(&name, &digest)),
                Mount::Started(id) => Ok(session(id)),
            },
        }
    }

    /// A chunk, held to its `Content-Range` when it has one; the upload's new offset.
    async fn patch_upload(
        &self,
        who: &Principal,
        headers: &HeaderMap,
        name: &Name,
        id: &UploadId,
        body: RequestBody,
    ) -> Result<u64, OciError> {
        let range = match header_str(headers, header::CONTENT_RANGE) {
            Some(value) => Some(
                UploadRange::parse(value)
                    .map_err(|e| OciError::new(ErrorCode::UploadRangeInvalid, e.to_string()))?,
            ),
            None => None,
        };
        let (body, wrong_length) = match &range {
            Some(range) => {
                let expected = range.end.saturating_sub(range.start) + 1;
                if body.length().is_some_and(|n| n != expected) {
                    return Err(range_mismatch(range, body.length()));
                }
                let (body, wrong) = exactly(body, expected);
                (body, Some(wrong))
            }
            None => (body, None),
        };
        self.registry
            .append_upload(who, name, id, range.map(|r| r.start), body)
            .await
            .map_err(|e| match (&range, &wrong_length) {
                (Some(range), Some(wrong)) if wrong.load(Ordering::Relaxed) => {
                    range_mismatch(range, None)
                }
                _ => engine(e),
            })
    }
}

fn created(name: &Name, digest: &Digest) -> Answer {
    Answer::new(StatusCode::CREATED)
        .header(header::LOCATION, format!("/v2/{name}/blobs/{digest}"))
        .header(DOCKER_CONTENT_DIGEST, digest)
}
