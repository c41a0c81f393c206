//! The `BlobStore` trait: the contract every blob backend of berth fulfils.
//!
//! Blobs are content-addressed bytes (image configs and layers) stored once by digest. A backend
//! stores them, serves them (whole or by range), and runs resumable upload sessions that verify
//! the digest while the bytes stream in and publish a blob atomically, only once verified.
//!
//! This crate holds the trait ([`BlobStore`]), its error ([`Error`]), an in-memory backend
//! ([`MemoryStore`]), a fault-injecting wrapper for reliability tests ([`FaultyStore`]), and,
//! behind the `conformance` feature, the suite every backend runs (module `conformance`).
//!
//! # Contract
//!
//! - **Visibility.** A blob is visible (to [`stat`](BlobStore::stat), [`get`](BlobStore::get),
//!   [`list`](BlobStore::list)) only after its bytes were hashed while received and found equal to
//!   the expected digest; the bytes under a digest are always complete. A crash at any point leaves
//!   either no blob or the whole blob.
//! - **Idempotence.** Storing a blob that exists succeeds and leaves one copy. Deleting a blob that
//!   does not exist succeeds.
//! - **Sessions.** An upload session lives in the backend, not in the process: a fresh handle on
//!   the same backend (another process, another node) can continue, inspect, commit or abort it.
//!   Each [`append`](BlobStore::append) is all or nothing: when its body fails part-way, the
//!   session stays at the offset it had before. Appends to one session are serialised by the
//!   caller's offset: an append at another offset than the session's is refused with
//!   [`Error::InvalidOffset`], which carries the current offset.
//! - **Commit.** [`commit`](BlobStore::commit) never re-reads the bytes to verify a SHA-256
//!   digest: sessions compute it while the bytes are appended. (A digest under another algorithm
//!   costs one read of the bytes at commit.) On a mismatch nothing is published and the session
//!   is left as it was, so the caller may abort it (or the idle-session cleanup will). One
//!   exception: a backend that must assemble the bytes before it can read them back (S3
//!   multipart) may, after a failed non-SHA-256 commit, refuse further appends with
//!   [`Error::NotSupported`]; committing with another digest and aborting still work.
//! - **Not found.** Unknown digests give [`Error::BlobNotFound`]; unknown or finished sessions
//!   give [`Error::UploadNotFound`].
//! - **Capabilities.** Optional abilities are declared, never defaulted: every backend answers
//!   [`local_files`](BlobStore::local_files) (a file to hand to `sendfile`),
//!   [`presigner`](BlobStore::presigner) (a URL to redirect a client to) and
//!   [`min_chunk`](BlobStore::min_chunk) (the chunk size it wants), with `None` when it
//!   cannot or does not care.

mod faulty;
mod memory;

#[cfg(feature = "conformance")]
pub mod conformance;

use std::fmt;
use std::ops::Range;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use berth_model::{Algorithm, ByteRange, Digest, DigestMismatch, UploadId};
use bytes::Bytes;
use futures::stream::BoxStream;

pub use faulty::{Faults, FaultyStore};
pub use memory::MemoryStore;

/// A body arriving from a client: chunks of bytes, or the I/O error that cut it short.
pub type ByteStream = BoxStream<'static, std::io::Result<Bytes>>;

/// A blob's bytes on their way out.
pub type BlobStream = BoxStream<'static, Result<Bytes>>;

/// Result of a [`BlobStore`] operation.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, one variant per decision a caller makes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No blob is stored under this digest.
    #[error("blob {0} not found")]
    BlobNotFound(Digest),
    /// No upload session has this id (never started, committed or aborted).
    #[error("upload {0} not found")]
    UploadNotFound(UploadId),
    /// An append named another offset than the session's current one.
    #[error("upload {id} is at offset {current}, not {requested}")]
    InvalidOffset {
        /// The session.
        id: UploadId,
        /// The offset the session is at: where the next append must start.
        current: u64,
        /// The offset the caller asked for.
        requested: u64,
    },
    /// The bytes received do not hash to the digest the caller expected; nothing was published.
    #[error(transparent)]
    DigestMismatch(#[from] DigestMismatch),
    /// The requested range lies outside the blob.
    #[error("range not satisfiable for a blob of {size} bytes")]
    RangeNotSatisfiable {
        /// The blob's size.
        size: u64,
    },
    /// The incoming body failed part-way; the operation left no trace.
    #[error("the request body failed: {0}")]
    Body(#[source] std::io::Error),
    /// The backend cannot do this.
    #[error("{store} does not support {operation}")]
    NotSupported {
        /// The backend.
        store: &'static str,
        /// What was asked.
        operation: &'static str,
    },
    /// The backend cannot be reached at the moment (connection refused, reset or timed out):
    /// nothing was published, and the same request may succeed once it is back. The cause is in
    /// `source`.
    #[error("{store} is unavailable: {source}")]
    Unavailable {
        /// The backend.
        store: &'static str,
        /// The backend's own error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The backend failed (disk, network, service); the cause is in `source`.
    #[error("{store} failed: {source}")]
    Backend {
        /// The backend.
        store: &'static str,
        /// The backend's own error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl Error {
    /// The backend cannot be reached at the moment; see [`Error::Unavailable`].
    pub fn unavailable(
        store: &'static str,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Error::Unavailable {
            store,
            source: source.into(),
        }
    }

    /// A backend failure with its cause.
    pub fn backend(
        store: &'static str,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Error::Backend {
            store,
            source: source.into(),
        }
    }
}

/// A stored blob, as listed for garbage collection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobInfo {
    /// The blob's digest.
    pub digest: Digest,
    /// Its size in bytes.
    pub size: u64,
    /// When it was stored (or last stored again).
    pub modified: SystemTime,
}

/// A blob being read: its total size, the range being sent, and the bytes of that range.
pub struct BlobRead {
    /// The whole blob's size.
    pub size: u64,
    /// The byte range `body` carries (the whole blob when no range was asked).
    pub range: Range<u64>,
    /// The bytes of `range`, in order.
    pub body: BlobStream,
}

impl fmt::Debug for BlobRead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlobRead")
            .field("size", &self.size)
            .field("range", &self.range)
            .finish_non_exhaustive()
    }
}

/// The state of an upload session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadInfo {
    /// The session.
    pub id: UploadId,
    /// Bytes received so far: the offset the next append must start at.
    pub offset: u64,
    /// When the session started.
    pub started: SystemTime,
    /// When the session last received bytes (or started).
    pub last_activity: SystemTime,
}

/// Content-addressed blob storage with resumable, digest-verified uploads.
///
/// See the [crate documentation](crate#contract) for the contract every method keeps.
#[async_trait]
pub trait BlobStore: Send + Sync + fmt::Debug {
    /// A short name of the backend, for errors and metrics (`memory`, `fs`, `s3`).
    fn name(&self) -> &'static str;

    /// The size of a stored blob.
    async fn stat(&self, digest: &Digest) -> Result<u64>;

    /// Reads a blob, or the part of it that `range` selects (resolved against the blob's size;
    /// [`Error::RangeNotSatisfiable`] when it selects nothing).
    async fn get(&self, digest: &Digest, range: Option<ByteRange>) -> Result<BlobRead>;

    /// Stores a blob in one go: streams `body`, hashing it, and publishes it under `digest` only
    /// if the bytes match. Returns the size.
    async fn put(&self, digest: &Digest, body: ByteStream) -> Result<u64>;

    /// Removes a blob. Succeeds when there is none.
    async fn delete(&self, digest: &Digest) -> Result<()>;

    /// Every stored blob, in no particular order.
    async fn list(&self) -> Result<Vec<BlobInfo>>;

    /// Starts an upload session whose bytes are hashed with `algorithm` as they arrive (the
    /// spec's `digest-algorithm`). A commit under another algorithm still verifies, at the cost
    /// of reading the bytes once more where the backend must.
    async fn start_upload(&self, algorithm: Algorithm) -> Result<UploadId>;

    /// Appends `body` at `offset`, which must be the session's current offset. All or nothing:
    /// if `body` fails, the session keeps its previous offset. Returns the new offset.
    async fn append(&self, id: &UploadId, offset: u64, body: ByteStream) -> Result<u64>;

    /// The session's state.
    async fn upload_status(&self, id: &UploadId) -> Result<UploadInfo>;

    /// Finishes the session: checks the digest computed while appending against `expected` and,
    /// if equal, publishes the blob and ends the session. Returns the size.
    async fn commit(&self, id: &UploadId, expected: &Digest) -> Result<u64>;

    /// Ends a session and removes what it received.
    async fn abort(&self, id: &UploadId) -> Result<()>;

    /// Sessions whose last activity is before `idle_since`, for cleanup.
    async fn list_uploads(&self, idle_since: SystemTime) -> Result<Vec<UploadInfo>>;

    /// Local files backing the blobs, for zero-copy reads; `None` if the backend has none.
    fn local_files(&self) -> Option<&dyn LocalFiles>;

    /// Presigned URLs a client can fetch a blob from directly; `None` if the backend cannot.
    fn presigner(&self) -> Option<&dyn Presigner>;

    /// The smallest chunk this backend wants in a chunked upload, but for the last one (the S3
    /// backend's part size: smaller chunks still work, but cost a rewrite of the session's
    /// buffered tail each); `None` when any size is as good. Registries advertise it as
    /// `OCI-Chunk-Min-Length`.
    fn min_chunk(&self) -> Option<u64>;
}

/// A backend whose blobs are local files (capability of [`BlobStore::local_files`]).
#[async_trait]
pub trait LocalFiles: Send + Sync {
    /// Opens the file holding a blob, for reading with `sendfile` or similar. The file holds the
    /// whole blob and nothing else, and is never modified while open (a delete unlinks it).
    async fn open(&self, digest: &Digest) -> Result<std::fs::File>;
}

/// A backend that can sign URLs for direct downloads (capability of [`BlobStore::presigner`]).
#[async_trait]
pub trait Presigner: Send + Sync {
    /// A URL from which the blob can be fetched with a plain GET until `expires_in` has passed.
    async fn presigned_get(&self, digest: &Digest, expires_in: Duration) -> Result<String>;
}

/// A fresh, random upload id.
pub fn new_upload_id() -> UploadId {
    let mut bytes = [0u8; 16];
    // The OS random source failing is not recoverable; every platform berth runs on has one.
    getrandom::fill(&mut bytes).expect("the OS random number generator is available");
    UploadId::from_random(bytes)
}

/// Resolves an optional requested range against a blob's size.
pub fn resolve_range(range: Option<ByteRange>, size: u64) -> Result<Range<u64>> {
    match range {
        None => Ok(0..size),
        Some(range) => range
            .resolve(size)
            .map_err(|_| Error::RangeNotSatisfiable { size }),
    }
}

/// Convenience: a body made of one in-memory buffer.
pub fn body_from(bytes: impl Into<Bytes>) -> ByteStream {
    Box::pin(futures::stream::once(futures::future::ready(Ok(
        bytes.into()
    ))))
}

/// Convenience: reads a whole [`BlobStream`] into memory (tests and small blobs only).
pub async fn collect(mut body: BlobStream) -> Result<Bytes> {
    use futures::StreamExt as _;
    let mut out = Vec::new();
    while let Some(chunk) = body.next().await {
        out.extend_from_slice(&chunk?);
    }
    Ok(Bytes::from(out))
}
