//! The write side of [`Client`], for replication: blobs (a check, a cross-repository mount, a
//! streamed upload) and manifests (a push, a delete).

use berth_model::{Algorithm, Digest, Reference};
use bytes::Bytes;
use futures::stream::BoxStream;
use reqwest::header::{self, HeaderValue};
use reqwest::{Method, Response, StatusCode};
use url::Url;

use crate::auth::Op;
use crate::body::Payload;
use crate::client::{DELETE, Inner, PUSH, content_digest, header_str, scope, status_error};
use crate::{Client, Error, RemoteName};

impl Client {
    /// `HEAD /v2/<name>/blobs/<digest>` with a token for `pull,push`: whether the blob is there,
    /// asked as a push asks (credentials that may push but not pull anonymously still see).
    /// The same request as [`Client::head_blob`] otherwise.
    pub async fn blob_exists(
        &self,
        repository: &RemoteName,
        digest: &Digest,
    ) -> Result<bool, Error> {
        Ok(self
            .inner
            .stat_blob(repository, digest, PUSH)
            .await?
            .is_some())
    }

    /// `POST /v2/<name>/blobs/uploads/?mount=<digest>&from=<from>`: makes a blob the registry
    /// holds in `from` available in `repository` without sending it, with one token for
    /// `repository:<name>:pull,push` and `repository:<from>:pull`. `true` when mounted (201);
    /// `false` when the registry started an upload instead (202: it has no such blob in `from`,
    /// or the caller may not read it there), whose session is cancelled at once, a failure of
    /// the cancel ignored.
    pub async fn mount_blob(
        &self,
        repository: &RemoteName,
        digest: &Digest,
        from: &RemoteName,
    ) -> Result<bool, Error> {
        let inner = &self.inner;
        let mut url = inner.url(&format!("v2/{repository}/blobs/uploads/"));
        url.query_pairs_mut()
            .append_pair("mount", digest.as_str())
            .append_pair("from", from.as_str());
        let scopes = format!("repository:{repository}:{PUSH} repository:{from}:pull");
        let op = Op::new(Method::POST, &url, Some(scopes));
        let (response, _) = inner.send(&op).await?;
        match response.status() {
            StatusCode::CREATED => Ok(true),
            StatusCode::ACCEPTED => {
                // Without a usable Location there is nothing to cancel: the answer stands.
                if let Ok(location) = upload_location(&op, &response) {
                    inner.cancel_upload(&location, op.scope.clone()).await;
                }
                Ok(false)
            }
            _ => Err(status_error(&op.shown, response).await),
        }
    }

    /// Uploads a blob of `size` bytes whose digest is `digest`: `POST
    /// /v2/<name>/blobs/uploads/`, then one `PUT <Location>?digest=<digest>` with `body` streamed
    /// as it comes (never buffered: blobs may be gigabytes) and `Content-Length: size`.
    ///
    /// The registry verifies the digest: a wrong one is its refusal (distribution and berth
    /// answer 400 `DIGEST_INVALID`, an [`Error::Status`]) and the blob is not stored. A body
    /// that is not `size` bytes long is [`Error::Invalid`]; an error from `body` is returned as
    /// it is. On any failure after the session started, the session is cancelled (a failure of
    /// the cancel ignored).
    ///
    /// The body cannot be sent twice, so the `PUT` is never retried: it carries what the `POST`
    /// was accepted with (a token for `pull,push`, cached by the `POST`), and a 401 to it is
    /// [`Error::Unauthorized`]. Its idle limit is [`ClientOptions::read_timeout`] for the
    /// registry to take bytes (waiting for `body` does not count) and
    /// [`ClientOptions::response_timeout`] for the answer after the last byte; the whole upload
    /// has none.
    ///
    /// [`ClientOptions::read_timeout`]: crate::ClientOptions::read_timeout
    /// [`ClientOptions::response_timeout`]: crate::ClientOptions::response_timeout
    pub async fn push_blob(
        &self,
        repository: &RemoteName,
        digest: &Digest,
        size: u64,
        body: BoxStream<'static, Result<Bytes, Error>>,
    ) -> Result<(), Error> {
        let inner = &self.inner;
        let url = inner.url(&format!("v2/{repository}/blobs/uploads/"));
        let start = Op::new(Method::POST, &url, scope(repository, PUSH));
        let (response, _) = inner.send(&start).await?;
        if !response.status().is_success() {
            return Err(status_error(&start.shown, response).await);
        }
        let location = upload_location(&start, &response)?;
        let mut target = location.clone();
        target
            .query_pairs_mut()
            .append_pair("digest", digest.as_str());
        let put = Op {
            body: Payload::stream(body, size),
            ..Op::new(Method::PUT, &target, start.scope.clone())
        };
        let failure = match inner.send(&put).await {
            Ok((response, _)) if response.status() == StatusCode::CREATED => {
                match content_digest(&put.shown, response.headers())? {
                    Some(stored) if stored != *digest => Error::DigestMismatch {
                        url: put.shown.clone(),
                        expected: digest.to_string(),
                        actual: stored.to_string(),
                    },
                    _ => return Ok(()),
                }
            }
            Ok((response, _)) => inner.answer_error(&put.shown, response).await,
            Err(e) => e,
        };
        inner.cancel_upload(&location, start.scope.clone()).await;
        Err(failure)
    }

    /// `PUT /v2/<name>/manifests/<reference>` of the exact `bytes`, as `media_type`: the digest
    /// the registry stored it under. That is its `Docker-Content-Digest` when it sent one, which
    /// must be the digest of `bytes` (computed with the header's algorithm), as must a digest
    /// `reference`, else [`Error::DigestMismatch`]; without the header, the digest of `bytes`
    /// with the reference's algorithm, else sha256. Any answer but 201 is the registry's
    /// refusal. The bytes are sent again after a challenge.
    pub async fn put_manifest(
        &self,
        repository: &RemoteName,
        reference: &Reference,
        media_type: &str,
        bytes: Bytes,
    ) -> Result<Digest, Error> {
        let inner = &self.inner;
        let url = inner.url(&format!("v2/{repository}/manifests/{reference}"));
        let content_type = HeaderValue::from_str(media_type).map_err(|_| {
            Error::invalid(
                url.as_str(),
                format!("media type {media_type:?} is not a header value"),
            )
        })?;
        let op = Op {
            body: Payload::Bytes {
                content_type,
                bytes: bytes.clone(),
            },
            ..Op::new(Method::PUT, &url, scope(repository, PUSH))
        };
        let (response, _) = inner.send(&op).await?;
        if response.status() != StatusCode::CREATED {
            return Err(status_error(&op.shown, response).await);
        }
        let announced = content_digest(&op.shown, response.headers())?;
        let algorithm = announced
            .as_ref()
            .or(reference.digest())
            .map_or(Algorithm::Sha256, Digest::algorithm);
        let digest = Digest::compute(algorithm, &bytes);
        for expected in announced.iter().chain(reference.digest()) {
            let actual = if expected.algorithm() == algorithm {
                digest.clone()
            } else {
                Digest::compute(expected.algorithm(), &bytes)
            };
            if actual != *expected {
                return Err(Error::DigestMismatch {
                    url: op.shown.clone(),
                    expected: expected.to_string(),
                    actual: actual.to_string(),
                });
            }
        }
        Ok(digest)
    }

    /// `DELETE /v2/<name>/manifests/<reference>` with a token for `pull,push,delete`: `true`
    /// when the registry deleted it (a digest reference deletes the manifest, a tag the tag,
    /// where the registry allows that), `false` when it has no such manifest (404). A registry
    /// that does not allow deletes answers 405 (distribution without `delete.enabled`), an
    /// [`Error::Status`].
    pub async fn delete_manifest(
        &self,
        repository: &RemoteName,
        reference: &Reference,
    ) -> Result<bool, Error> {
        let inner = &self.inner;
        let url = inner.url(&format!("v2/{repository}/manifests/{reference}"));
        let op = Op::new(Method::DELETE, &url, scope(repository, DELETE));
        Ok(inner.fetch(&op).await?.is_some())
    }
}

impl Inner {
    /// `DELETE <location>`: abandons an upload session, whatever comes of it.
    async fn cancel_upload(&self, location: &Url, scope: Option<String>) {
        let op = Op::new(Method::DELETE, location, scope);
        let _ = self.send(&op).await;
    }

    /// The error of an upload's answer, read within the read timeout: that answer came through
    /// the client without one.
    async fn answer_error(&self, url: &str, response: Response) -> Error {
        let status = response.status();
        let limit = self.options.read_timeout;
        match tokio::time::timeout(limit, status_error(url, response)).await {
            Ok(e) => e,
            Err(_) => Error::Status {
                url: url.to_owned(),
                status: status.as_u16(),
                message: status
                    .canonical_reason()
                    .unwrap_or("unknown status")
                    .to_owned(),
            },
        }
    }
}

/// Where an upload session continues: its `Location`, resolved against the request's URL (a
/// path, as distribution and berth send it, or an absolute URL).
fn upload_location(op: &Op<'_>, response: &Response) -> Result<Url, Error> {
    let location = header_str(&op.shown, response.headers(), header::LOCATION)?
        .ok_or_else(|| Error::invalid(&op.shown, "an upload answer without Location"))?;
    let url = op.url.join(location.trim()).map_err(|e| {
        Error::invalid(
            &op.shown,
            format!("the upload Location {location:?} is not a URL: {e}"),
        )
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Error::invalid(
            &op.shown,
            format!("the upload Location {location:?} is not http(s)"),
        ));
    }
    Ok(url)
}
