//! The engine's errors: one variant per decision a protocol layer makes (each maps to one OCI
//! error code in berth-v2's table).

use berth_model::{Digest, DigestMismatch, ManifestError, Name, RepositoryName, UploadId};
use berth_policy::{Denial, QuotaExceeded};

/// What went wrong.
///
/// Exhaustive on purpose: a new variant must find its row in berth-v2's error table.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The principal may not do this (or must authenticate first).
    #[error(transparent)]
    Denied(#[from] Denial),
    /// No such repository.
    #[error("repository {0} does not exist")]
    NameUnknown(RepositoryName),
    /// No such image in the repository.
    #[error("image {0} does not exist")]
    ImageUnknown(Name),
    /// No such blob in this image's repository.
    #[error("blob {0} is unknown")]
    BlobUnknown(Digest),
    /// No such upload session for this image.
    #[error("upload {0} is unknown")]
    UploadUnknown(UploadId),
    /// A chunk did not start where the upload stands.
    #[error("upload {id} is at offset {current}, not {requested}")]
    UploadOffset {
        /// The session.
        id: UploadId,
        /// Where the next chunk must start.
        current: u64,
        /// Where the chunk claimed to start.
        requested: u64,
    },
    /// The bytes do not match the digest given.
    #[error(transparent)]
    DigestMismatch(#[from] DigestMismatch),
    /// The manifest is not valid.
    #[error("manifest invalid: {0}")]
    ManifestInvalid(#[from] ManifestError),
    /// The manifest is larger than the configured limit.
    #[error("manifest of {size} bytes is over the limit of {limit} bytes")]
    ManifestTooLarge {
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// A manifest references a blob or child manifest the registry does not hold.
    #[error("manifest references {0}, which is unknown")]
    ManifestBlobUnknown(Digest),
    /// A manifest's descriptor gives a size other than the stored blob's.
    #[error("manifest says {digest} is {declared} bytes, but it holds {stored} bytes")]
    ManifestBlobSize {
        /// The blob.
        digest: Digest,
        /// The size the descriptor gives.
        declared: u64,
        /// The size of the stored blob.
        stored: u64,
    },
    /// No such manifest (by tag or digest) in this image.
    #[error("manifest {reference} is unknown in {name}")]
    ManifestUnknown {
        /// The image.
        name: Name,
        /// The tag or digest asked for.
        reference: String,
    },
    /// The repository's quota does not allow this.
    #[error(transparent)]
    QuotaExceeded(#[from] QuotaExceeded),
    /// The repository has its maximum of open upload sessions.
    #[error(
        "repository {repository} has {limit} uploads in progress already; finish or cancel some first"
    )]
    TooManyUploads {
        /// The repository.
        repository: RepositoryName,
        /// The cap.
        limit: u64,
    },
    /// A chunk followed one shorter than the blob store's minimum (`OCI-Chunk-Min-Length`),
    /// which should have been the last.
    #[error(
        "chunks other than the last must have at least {min} bytes (OCI-Chunk-Min-Length); an earlier chunk was shorter"
    )]
    ChunkTooSmall {
        /// The minimum.
        min: u64,
    },
    /// The server holds as many request bodies in memory as it may: try again shortly.
    #[error("the server is busy reading other requests; try again in a moment")]
    Busy,
    /// A requested range lies outside the blob.
    #[error("range not satisfiable for a blob of {size} bytes")]
    RangeNotSatisfiable {
        /// The blob's size.
        size: u64,
    },
    /// The blob is being garbage-collected at this moment; upload it again (a retryable
    /// condition, rare: it needs a re-upload of exactly the blob being collected).
    #[error("blob {0} is being garbage-collected; upload it again")]
    BlobBeingCollected(Digest),
    /// The repository is a proxy repository: its content is its remote registry's, so pushes,
    /// uploads and deletes over the registry protocol are refused.
    #[error("proxy repository {0} is read-only: it caches the images of its remote registry")]
    ReadOnly(RepositoryName),
    /// A proxy repository's remote registry failed or could not be reached, and nothing is
    /// cached to answer with.
    #[error("the remote registry {registry} of this proxy repository failed: {message}")]
    Upstream {
        /// The remote registry.
        registry: berth_model::RegistryName,
        /// What went wrong (never a credential).
        message: String,
    },
    /// The request body failed part-way; nothing was recorded.
    #[error("the request body failed: {0}")]
    Body(#[source] std::io::Error),
    /// A backend failed; the cause is in `source`.
    #[error("{what} failed: {source}")]
    Backend {
        /// Which backend (`storage` or `metadata`).
        what: &'static str,
        /// The backend's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl Error {
    pub(crate) fn storage(e: berth_storage::Error) -> Self {
        Error::Backend {
            what: "storage",
            source: Box::new(e),
        }
    }

    pub(crate) fn metadata(e: berth_meta::Error) -> Self {
        Error::Backend {
            what: "metadata",
            source: Box::new(e),
        }
    }
}

/// Result of an engine operation.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error with its causes, `outer: cause: root cause`, for logs. A cause whose text the
/// message before it already contains is not repeated.
pub fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = cause.source();
    }
    out
}

/// A backend that cannot be reached at the moment: which one, for messages and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outage {
    /// `metadata store` or `blob storage`.
    pub role: &'static str,
    /// The backend (`postgres`, `s3`, ...).
    pub store: &'static str,
}

impl std::fmt::Display for Outage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the {} ({})", self.role, self.store)
    }
}

/// The backend that cannot be reached at the moment, when an
/// [`Unavailable`](berth_meta::Error::Unavailable) error of the metadata store or the blob store
/// is `error` or one of its causes: the request may succeed once the backend is back, so the
/// protocol layers answer 503 naming it rather than "internal error".
pub fn unavailable_backend(error: &(dyn std::error::Error + 'static)) -> Option<Outage> {
    failed_backend(error).and_then(|(outage, unreachable)| unreachable.then_some(outage))
}

/// The backend whose failure is `error` or one of its causes (the first metadata-store or
/// blob-store failure in the chain), and whether it could not be reached.
pub(crate) fn failed_backend(error: &(dyn std::error::Error + 'static)) -> Option<(Outage, bool)> {
    let mut source = Some(error);
    while let Some(cause) = source {
        let meta = |store| Outage {
            role: "metadata store",
            store,
        };
        let blobs = |store| Outage {
            role: "blob storage",
            store,
        };
        match cause.downcast_ref() {
            Some(berth_meta::Error::Unavailable { store, .. }) => return Some((meta(store), true)),
            Some(berth_meta::Error::Backend { store, .. }) => return Some((meta(store), false)),
            _ => {}
        }
        match cause.downcast_ref() {
            Some(berth_storage::Error::Unavailable { store, .. }) => {
                return Some((blobs(store), true));
            }
            Some(berth_storage::Error::Backend { store, .. }) => {
                return Some((blobs(store), false));
            }
            _ => {}
        }
        source = cause.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chains_name_every_cause_once() {
        let io = std::io::Error::other("disk full");
        let e = Error::Body(io);
        assert_eq!(chain(&e), "the request body failed: disk full");
        #[derive(Debug, thiserror::Error)]
        #[error("outer")]
        struct Outer(#[source] std::io::Error);
        assert_eq!(
            chain(&Outer(std::io::Error::other("inner"))),
            "outer: inner"
        );
    }

    #[test]
    fn an_unavailable_backend_is_found_under_any_wrapper() {
        let down = berth_meta::Error::unavailable("postgres", "connection refused");
        let pg = Outage {
            role: "metadata store",
            store: "postgres",
        };
        assert_eq!(unavailable_backend(&down), Some(pg));
        assert_eq!(pg.to_string(), "the metadata store (postgres)");
        let wrapped = Error::metadata(down);
        assert_eq!(unavailable_backend(&wrapped), Some(pg));
        let identity = crate::identity::IdentityError::Backend(berth_meta::Error::unavailable(
            "postgres", "x",
        ));
        assert_eq!(unavailable_backend(&identity), Some(pg));
        let storage = Error::storage(berth_storage::Error::unavailable("s3", "connect"));
        assert_eq!(unavailable_backend(&storage).map(|o| o.store), Some("s3"));
        let failed = Error::storage(berth_storage::Error::backend("fs", "disk full"));
        assert_eq!(unavailable_backend(&failed), None);
    }
}
