//! A `BlobStore` on S3-compatible object storage, for berth nodes that share their blobs.
//!
//! Chunked uploads map onto S3 multipart uploads whose state persists in the bucket, so that
//! another node can continue an upload that one node started.
//!
//! # Client
//!
//! The S3 client is [`object_store`]'s `AmazonS3` (feature `aws`), for one reason above the
//! others: its id-based [`MultipartStore`] trait (`create_multipart`, `put_part`,
//! `complete_multipart`, `abort_multipart`, each naming the upload by its id) is exactly what an
//! OCI chunked upload continued on another node needs: the multipart id and the part e-tags are
//! plain strings we persist, and any node holding them can add a part or complete the upload.
//! Its higher-level `put_multipart` hides the id inside a process, which is useless across nodes.
//! It also signs with SigV4, retries idempotent requests, streams GET bodies, offers
//! conditional PUT (`If-Match`, used to update session state as a compare-and-swap) and
//! presigned URLs ([`Signer`]), with a far smaller dependency tree than `aws-sdk-s3`.
//!
//! # How the contract is kept
//!
//! The key layout is documented in one tree in `paths.rs`; the session state format in
//! `session.rs`.
//!
//! - **Uploads.** A session is one `state` object (offset, start and activity times, the saved
//!   SHA-256 state, the multipart id with its part e-tags, and the tail of bytes not yet sent as
//!   a part). Appended bytes are hashed as they stream in and buffered until a full part
//!   ([`S3Config::part_size`], 5 MiB by default, the S3 minimum) is ready; only then is a
//!   multipart upload started (at `uploads/<id>/data`) and the part sent. A blob that stays
//!   below one part never uses multipart: commit writes it with one PUT.
//! - **All-or-nothing appends.** An append takes effect only when its new `state` object is
//!   written, after the whole body was received; parts it sent before a failure are numbered
//!   after the last recorded part, so the next append overwrites them and completion ignores
//!   them. A multipart upload the failed append itself created is aborted.
//! - **Concurrency.** Session state is replaced with `If-Match` on the e-tag read (when
//!   [`S3Config::conditional_writes`] is on): a racing append or commit makes the loser fail with
//!   [`Error::InvalidOffset`] instead of silently forking the session. S3 also checks every part
//!   e-tag at completion, so a part overwritten by a loser can never be published.
//! - **Atomic commit.** The digest is checked against the hash state saved while appending, never
//!   by re-reading (for SHA-256, the hash every session computes). Only then does the blob appear
//!   under `blobs/`: small blobs by one PUT, multipart sessions by completing the upload at the
//!   session's `data` key and copying it server-side under the digest. A multipart upload is
//!   bound to its key when it starts, before the digest is known, so it cannot be completed
//!   under `blobs/` directly; completion and copy are each atomic in S3, so no partial blob is
//!   ever visible under a digest. On a mismatch nothing is written and the session is unchanged.
//! - **Other digests.** A commit with another algorithm than SHA-256 must hash the bytes once
//!   more: in memory for a session below one part, otherwise by completing the multipart upload
//!   and reading `data` back. After a mismatch there, the session is *sealed*: it can still be
//!   inspected, committed or aborted, but not appended to (S3 cannot add parts to a completed
//!   object without a ranged part copy, which `object_store` does not expose).
//!
//! # Limits
//!
//! - Amazon S3's single-request `CopyObject` stops at 5 GiB, so a multipart-uploaded blob above
//!   5 GiB fails to commit there; lifting it needs a multipart copy with ranged `UploadPartCopy`.
//! - At most 10,000 parts per upload: about 48 GiB with 5 MiB parts (raise `part_size` for more).

mod paths;
mod session;
mod upload;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use berth_model::{Algorithm, ByteRange, Digest, UploadId};
use berth_storage::{
    BlobInfo, BlobRead, BlobStore, ByteStream, Error, LocalFiles, Presigner, Result, UploadInfo,
    resolve_range,
};
use futures::{StreamExt as _, TryStreamExt as _};
use object_store::aws::{AmazonS3, AmazonS3Builder, S3ConditionalPut};
use object_store::client::HttpErrorKind;
use object_store::signer::{Method, Signer};
use object_store::{
    BackoffConfig, GetOptions, GetRange, ObjectStore, ObjectStoreExt as _, RetryConfig,
};

#[cfg(doc)]
use object_store::multipart::MultipartStore;

use crate::paths::Layout;

/// The name of this backend in errors and metrics.
const STORE: &str = "s3";

/// The smallest part S3 accepts (except for an upload's last part).
pub const MIN_PART_SIZE: usize = 5 * 1024 * 1024;

/// Where and how to reach the bucket.
#[derive(Clone)]
pub struct S3Config {
    /// The service's URL (`http://127.0.0.1:9000`); `None` for Amazon S3 in `region`.
    pub endpoint: Option<String>,
    /// The region to sign for (`us-east-1` for most S3-compatible servers).
    pub region: String,
    /// The bucket, which must exist.
    pub bucket: String,
    /// The access key id.
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: String,
    /// A key prefix under which the store keeps everything (`""` for the bucket's root), so
    /// that several stores can share a bucket.
    pub prefix: String,
    /// Whether a plain-HTTP `endpoint` is allowed (a server on loopback, a private network).
    pub allow_http: bool,
    /// Virtual-hosted-style URLs (`bucket.host`) rather than path-style ones (`host/bucket`).
    /// Amazon S3 wants them; most self-hosted servers want path style.
    pub virtual_hosted_style: bool,
    /// Size of each multipart part; raised to [`MIN_PART_SIZE`] if below. Every part but an
    /// upload's last has exactly this size (some services, such as R2, require equal parts).
    pub part_size: usize,
    /// Whether [`BlobStore::presigner`] offers presigned download URLs.
    pub presign: bool,
    /// Whether session state is replaced with `If-Match` (compare-and-swap). Turn it off only
    /// for a service that refuses conditional PUTs; appends then rely on the caller alone to
    /// serialise them.
    pub conditional_writes: bool,
    /// How long one operation may go on retrying a failed request (a refused or dropped
    /// connection, a 5xx answer) before it fails as [`Error::Unavailable`] (at most 4 retries
    /// with exponential backoff). Short, so that a client meets a clean 503 while the service is
    /// down rather than a request hanging for minutes.
    pub retry_timeout: Duration,
}

impl S3Config {
    /// A configuration for Amazon S3 (`us-east-1`), with the defaults: no prefix, HTTPS,
    /// path-style URLs, 5 MiB parts, no presigning, conditional writes.
    pub fn new(
        bucket: impl Into<String>,
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
    ) -> Self {
        S3Config {
            endpoint: None,
            region: "us-east-1".to_owned(),
            bucket: bucket.into(),
            access_key_id: access_key_id.into(),
            secret_access_key: secret_access_key.into(),
            prefix: String::new(),
            allow_http: false,
            virtual_hosted_style: false,
            part_size: MIN_PART_SIZE,
            presign: false,
            conditional_writes: true,
            retry_timeout: Duration::from_secs(10),
        }
    }
}

impl fmt::Debug for S3Config {
    // By hand, so that the secret never reaches a log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Config")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("bucket", &self.bucket)
            .field("access_key_id", &self.access_key_id)
            .field("prefix", &self.prefix)
            .field("allow_http", &self.allow_http)
            .field("virtual_hosted_style", &self.virtual_hosted_style)
            .field("part_size", &self.part_size)
            .field("presign", &self.presign)
            .field("conditional_writes", &self.conditional_writes)
            .field("retry_timeout", &self.retry_timeout)
            .finish_non_exhaustive()
    }
}

/// Blobs and upload sessions in an S3 bucket. See the [crate documentation](crate).
///
/// Every handle built on the same bucket and prefix sees the same blobs and sessions, whatever
/// process or node it lives in.
pub struct S3Store {
    client: Arc<AmazonS3>,
    layout: Layout,
    part_size: usize,
    presign: bool,
    conditional_writes: bool,
    /// For `Debug`: where the store points.
    place: String,
}

impl fmt::Debug for S3Store {
    // By hand: the client's own `Debug` would print its credentials.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Store")
            .field("place", &self.place)
            .field("part_size", &self.part_size)
            .finish_non_exhaustive()
    }
}

impl S3Store {
    /// A store on the configured bucket. Makes no request: a wrong endpoint or key shows at the
    /// first operation.
    pub fn new(config: S3Config) -> Result<Self> {
        let layout = Layout::new(&config.prefix).map_err(|e| Error::backend(STORE, e))?;
        let mut builder = AmazonS3Builder::new()
            .with_region(&config.region)
            .with_bucket_name(&config.bucket)
            .with_access_key_id(&config.access_key_id)
            .with_secret_access_key(&config.secret_access_key)
            .with_allow_http(config.allow_http)
            .with_retry(RetryConfig {
                backoff: BackoffConfig::default(),
                max_retries: 4,
                retry_timeout: config.retry_timeout,
            })
            .with_virtual_hosted_style_request(config.virtual_hosted_style)
            .with_conditional_put(if config.conditional_writes {
                S3ConditionalPut::ETagMatch
            } else {
                S3ConditionalPut::Disabled
            });
        if let Some(endpoint) = &config.endpoint {
            builder = builder.with_endpoint(endpoint);
        }
        let client = builder.build().map_err(|e| Error::backend(STORE, e))?;
        Ok(S3Store {
            client: Arc::new(client),
            layout,
            part_size: config.part_size.max(MIN_PART_SIZE),
            presign: config.presign,
            conditional_writes: config.conditional_writes,
            place: format!(
                "{}/{}/{}",
                config.endpoint.as_deref().unwrap_or("s3"),
                config.bucket,
                config.prefix.trim_matches('/')
            ),
        })
    }
}

/// A client failure as the public error; the client's error stays in `source`. A failure to
/// reach the service (a refused, dropped or timed-out connection, after the client's retries)
/// is [`Error::Unavailable`].
fn backend(error: object_store::Error) -> Error {
    if unreachable(&error) {
        Error::unavailable(STORE, error)
    } else {
        Error::backend(STORE, error)
    }
}

/// Whether an HTTP error of the connection itself is in `error`'s chain.
fn unreachable(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(error);
    while let Some(cause) = source {
        if let Some(http) = cause.downcast_ref::<object_store::client::HttpError>() {
            return matches!(
                http.kind(),
                HttpErrorKind::Connect
                    | HttpErrorKind::Request
                    | HttpErrorKind::Timeout
                    | HttpErrorKind::Interrupted
            );
        }
        source = cause.source();
    }
    false
}

fn is_not_found(error: &object_store::Error) -> bool {
    matches!(error, object_store::Error::NotFound { .. })
}

#[async_trait]
impl BlobStore for S3Store {
    fn name(&self) -> &'static str {
        STORE
    }

    async fn stat(&self, digest: &Digest) -> Result<u64> {
        match self.client.head(&self.layout.blob(digest)).await {
            Ok(meta) => Ok(meta.size),
            Err(e) if is_not_found(&e) => Err(Error::BlobNotFound(digest.clone())),
            Err(e) => Err(backend(e)),
        }
    }

    async fn get(&self, digest: &Digest, range: Option<ByteRange>) -> Result<BlobRead> {
        let key = self.layout.blob(digest);
        let options = match range {
            // One request: the response carries the size.
            None => GetOptions::default(),
            // A range is resolved against the size first (suffixes and ranges past the end
            // follow our contract, not each server's reading of HTTP), then asked for exactly.
            Some(range) => {
                let size = self.stat(digest).await?;
                let wanted = resolve_range(Some(range), size)?;
                GetOptions {
                    range: Some(GetRange::Bounded(wanted)),
                    ..GetOptions::default()
                }
            }
        };
        let result = match self.client.get_opts(&key, options).await {
            Ok(result) => result,
            Err(e) if is_not_found(&e) => return Err(Error::BlobNotFound(digest.clone())),
            Err(e) => return Err(backend(e)),
        };
        let (size, range) = (result.meta.size, result.range.clone());
        Ok(BlobRead {
            size,
            range,
            body: result.into_stream().map_err(backend).boxed(),
        })
    }

    async fn put(&self, digest: &Digest, body: ByteStream) -> Result<u64> {
        self.put_verified(digest, body).await
    }

    async fn delete(&self, digest: &Digest) -> Result<()> {
        match self.client.delete(&self.layout.blob(digest)).await {
            Ok(()) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => Err(backend(e)),
        }
    }

    async fn list(&self) -> Result<Vec<BlobInfo>> {
        let layout = &self.layout;
        self.client
            .list(Some(&layout.blobs()))
            .map_err(backend)
            .try_filter_map(|meta| async move {
                // Keys this layout never writes are someone else's: not blobs.
                Ok(layout.parse_blob(&meta.location).map(|digest| BlobInfo {
                    digest,
                    size: meta.size,
                    modified: SystemTime::from(meta.last_modified),
                }))
            })
            .try_collect()
            .await
    }

    async fn start_upload(&self, algorithm: Algorithm) -> Result<UploadId> {
        self.start(algorithm).await
    }

    async fn append(&self, id: &UploadId, offset: u64, body: ByteStream) -> Result<u64> {
        self.append_at(id, offset, body).await
    }

    async fn upload_status(&self, id: &UploadId) -> Result<UploadInfo> {
        let (session, _) = self.load(id).await?;
        Ok(upload::info(id, &session))
    }

    async fn commit(&self, id: &UploadId, expected: &Digest) -> Result<u64> {
        self.commit_session(id, expected).await
    }

    async fn abort(&self, id: &UploadId) -> Result<()> {
        let (session, _) = self.load(id).await?;
        self.discard(id, session.multipart.as_ref()).await
    }

    async fn list_uploads(&self, idle_since: SystemTime) -> Result<Vec<UploadInfo>> {
        self.idle_uploads(idle_since).await
    }

    fn local_files(&self) -> Option<&dyn LocalFiles> {
        None
    }

    fn presigner(&self) -> Option<&dyn Presigner> {
        if self.presign { Some(self) } else { None }
    }

    fn min_chunk(&self) -> Option<u64> {
        Some(self.part_size as u64)
    }
}

#[async_trait]
impl Presigner for S3Store {
    async fn presigned_get(&self, digest: &Digest, expires_in: Duration) -> Result<String> {
        // A URL to nothing would turn a clean 404 into the client's confusing one from S3.
        self.stat(digest).await?;
        let url = self
            .client
            .signed_url(Method::GET, &self.layout.blob(digest), expires_in)
            .await
            .map_err(backend)?;
        Ok(url.to_string())
    }
}
