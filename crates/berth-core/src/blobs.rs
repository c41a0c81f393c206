//! Blobs and upload sessions.

use std::sync::Arc;

use berth_meta::{Repository, UploadSession};
use berth_model::{Algorithm, ByteRange, Digest, Name, UploadId};
use berth_policy::{Action, Principal, admit};
use berth_storage::{BlobRead, ByteStream};
use tracing::{info, warn};

use crate::room::{self, Tripped};
use crate::{Error, Registry, RequestBody, Result};

/// What a repository's quota leaves an upload, in a repository that has one.
#[derive(Debug, Clone, Copy)]
struct Allowance {
    /// What counts against the quota already: the artifacts' usage, the bytes of other open
    /// upload sessions, and what this upload holds so far.
    usage: u64,
    /// The quota.
    limit: u64,
}

impl Allowance {
    fn room(self) -> u64 {
        self.limit.saturating_sub(self.usage)
    }

    /// This allowance after `bytes` more are counted.
    fn after(self, bytes: u64) -> Self {
        Allowance {
            usage: self.usage.saturating_add(bytes),
            ..self
        }
    }

    /// Whether `bytes` more fit.
    fn admit(self, repository: &Repository, bytes: u64) -> Result<()> {
        admit(self.usage, bytes, Some(self.limit)).map_err(|e| {
            info!(repository = %repository.name, bytes, "upload refused: over the quota");
            crate::metrics::quota_refused();
            Error::QuotaExceeded(e)
        })
    }
}

/// A stream cut to an allowance, and how to tell that it was.
struct Cut {
    tripped: Arc<Tripped>,
    allowance: Allowance,
}

impl Cut {
    /// The quota error, when the stream was cut for want of room.
    fn refusal(cut: Option<&Cut>, repository: &Repository) -> Option<Error> {
        let cut = cut?;
        let overrun = cut.tripped.overrun()?;
        info!(repository = %repository.name, bytes = overrun.attempted, "upload cut: over the quota");
        crate::metrics::quota_refused();
        Some(Error::QuotaExceeded(berth_policy::QuotaExceeded {
            usage: cut.allowance.usage.saturating_add(overrun.others),
            delta: overrun.attempted,
            limit: cut.allowance.limit,
        }))
    }
}

/// The outcome of a cross-repository mount request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mount {
    /// The blob is available in the target repository now, with this size.
    Mounted(u64),
    /// It could not be mounted (unknown blob, or the caller may not pull the source): a normal
    /// upload session started instead.
    Started(UploadId),
}

pub(crate) fn storage_error(e: berth_storage::Error) -> Error {
    match e {
        berth_storage::Error::BlobNotFound(d) => Error::BlobUnknown(d),
        berth_storage::Error::UploadNotFound(id) => Error::UploadUnknown(id),
        berth_storage::Error::InvalidOffset {
            id,
            current,
            requested,
        } => Error::UploadOffset {
            id,
            current,
            requested,
        },
        berth_storage::Error::DigestMismatch(m) => Error::DigestMismatch(m),
        berth_storage::Error::RangeNotSatisfiable { size } => Error::RangeNotSatisfiable { size },
        berth_storage::Error::Body(e) => Error::Body(e),
        other => Error::storage(other),
    }
}

impl Registry {
    /// The size of a blob, for `HEAD`: one stat, nothing written.
    pub async fn stat_blob(
        &self,
        principal: &Principal,
        name: &Name,
        digest: &Digest,
    ) -> Result<u64> {
        let repository = self
            .authorize(principal, Action::Pull, name.repository())
            .await?;
        match (self.linked(name, digest).await, &repository.proxy) {
            (Err(Error::BlobUnknown(_)), Some(proxy)) => {
                self.proxied_blob_size(&repository, proxy, name, digest)
                    .await
            }
            (found, _) => found,
        }
    }

    /// The size of a blob readable through `name`'s repository: blobs are stored once, but each
    /// repository reads only those uploaded or mounted into it.
    async fn linked(&self, name: &Name, digest: &Digest) -> Result<u64> {
        self.meta
            .linked_blob(name.repository(), digest)
            .await
            .map_err(Error::metadata)?
            .ok_or_else(|| Error::BlobUnknown(digest.clone()))
    }

    /// Reads a blob, or a range of it. Nothing is written.
    pub async fn read_blob(
        &self,
        principal: &Principal,
        name: &Name,
        digest: &Digest,
        range: Option<ByteRange>,
    ) -> Result<BlobRead> {
        let repository = self
            .authorize(principal, Action::Pull, name.repository())
            .await?;
        match (self.linked(name, digest).await, &repository.proxy) {
            (Err(Error::BlobUnknown(_)), Some(proxy)) => {
                return self
                    .proxied_blob(&repository, proxy, name, digest, range)
                    .await;
            }
            (found, _) => found?,
        };
        self.blobs.get(digest, range).await.map_err(storage_error)
    }

    /// Starts an upload session into `name`; refused with [`Error::TooManyUploads`] when its
    /// repository has [`RegistryConfig::max_open_uploads`](crate::RegistryConfig) open.
    /// Its bytes are hashed with `algorithm` as they arrive (the spec's `digest-algorithm`); a
    /// commit under another algorithm still verifies, at the cost of a second read.
    pub async fn start_upload(
        &self,
        principal: &Principal,
        name: &Name,
        algorithm: Algorithm,
    ) -> Result<UploadId> {
        let repository = self
            .authorize(principal, Action::Push, name.repository())
            .await?;
        Self::refuse_proxy(&repository)?;
        self.start_session(&repository, name, algorithm).await
    }

    async fn start_session(
        &self,
        repository: &Repository,
        name: &Name,
        algorithm: Algorithm,
    ) -> Result<UploadId> {
        let limit = self.config.max_open_uploads;
        // A cheap look first, so a repository at its cap costs storage nothing; the count that
        // decides is the one made with the insert.
        let open = self
            .meta
            .upload_usage(repository.id)
            .await
            .map_err(Error::metadata)?;
        if open.sessions >= limit {
            return Err(Error::TooManyUploads {
                repository: repository.name.clone(),
                limit,
            });
        }
        let id = self
            .blobs
            .start_upload(algorithm)
            .await
            .map_err(storage_error)?;
        let now = self.now();
        let session = UploadSession {
            id,
            repository: repository.id,
            name: name.clone(),
            received: 0,
            short_chunk: false,
            started: now,
            last_activity: now,
        };
        if let Err(e) = self.meta.create_upload(session, limit).await {
            self.remove_stored_session(&id).await;
            return Err(match e {
                berth_meta::Error::TooManyUploads { repository, limit } => {
                    Error::TooManyUploads { repository, limit }
                }
                berth_meta::Error::NotFound { .. } => Error::NameUnknown(repository.name.clone()),
                e => Error::metadata(e),
            });
        }
        Ok(id)
    }

    /// Removes a session's bytes, for a session that must not go on; a failure leaves them to
    /// garbage collection, which removes sessions storage holds and metadata does not know.
    async fn remove_stored_session(&self, id: &UploadId) {
        match self.blobs.abort(id).await {
            Ok(()) | Err(berth_storage::Error::UploadNotFound(_)) => {}
            Err(e) => {
                warn!(upload = %id, error = %crate::error::chain(&e), "could not remove an upload's bytes; garbage collection will")
            }
        }
    }

    /// Removes a session refused at commit, at once: its bytes cannot become a blob.
    async fn drop_session(&self, id: &UploadId) {
        self.remove_stored_session(id).await;
        if let Err(e) = self.meta.delete_upload(id).await {
            warn!(upload = %id, error = %crate::error::chain(&e), "could not forget a refused upload; it expires when idle");
        }
    }

    /// The session `id`, when it belongs to `repository` (by identity: a repository created again
    /// under the same name cannot continue the old one's sessions) and to image `name`.
    async fn session(
        &self,
        repository: &Repository,
        name: &Name,
        id: &UploadId,
    ) -> Result<UploadSession> {
        match self.meta.upload(id).await.map_err(Error::metadata)? {
            Some(session) if session.repository == repository.id && session.name == *name => {
                Ok(session)
            }
            _ => Err(Error::UploadUnknown(*id)),
        }
    }

    /// What the repository's quota leaves an upload: its usage counts the artifacts' and the
    /// bytes of its open sessions other than `except`. `None` without a quota.
    async fn allowance(
        &self,
        repository: &Repository,
        except: Option<&UploadSession>,
    ) -> Result<Option<Allowance>> {
        let Some(limit) = repository.quota else {
            return Ok(None);
        };
        let open = self
            .meta
            .upload_usage(repository.id)
            .await
            .map_err(Error::metadata)?
            .bytes
            .saturating_sub(except.map_or(0, |s| s.received));
        Ok(Some(Allowance {
            usage: repository.used.saturating_add(open),
            limit,
        }))
    }

    /// The allowance for `digest`: none needed when the repository holds the blob already (it
    /// adds nothing); any other counts as new, whoever else may hold it, so the answer tells
    /// nothing of other tenants' blobs.
    async fn allowance_for(
        &self,
        repository: &Repository,
        name: &Name,
        digest: &Digest,
        except: Option<&UploadSession>,
    ) -> Result<Option<Allowance>> {
        match self.linked(name, digest).await {
            Ok(_) => Ok(None),
            Err(Error::BlobUnknown(_)) => self.allowance(repository, except).await,
            Err(e) => Err(e),
        }
    }

    /// `body` held to `allowance`: a declared length over it is refused before anything is
    /// stored, and the stream is cut once the bytes streaming into the repository on this node
    /// would pass its room. Either way the rest of the body is read and dropped first (see
    /// `room.rs`), so the client reads the refusal. Unlimited without an allowance.
    async fn admit_stream(
        &self,
        repository: &Repository,
        allowance: Option<Allowance>,
        body: RequestBody,
    ) -> Result<(ByteStream, Option<Cut>)> {
        let Some(allowance) = allowance else {
            return Ok((body.into_stream(), None));
        };
        if let Some(length) = body.length()
            && let Err(e) = allowance.admit(repository, length)
        {
            room::discard(body.into_stream()).await;
            return Err(e);
        }
        let (stream, tripped) =
            self.in_flight
                .limit(repository.id, allowance.room(), body.into_stream());
        Ok((stream, Some(Cut { tripped, allowance })))
    }

    /// Bytes received so far by a session.
    pub async fn upload_status(
        &self,
        principal: &Principal,
        name: &Name,
        id: &UploadId,
    ) -> Result<u64> {
        let repository = self
            .authorize(principal, Action::Push, name.repository())
            .await?;
        self.session(&repository, name, id).await?;
        Ok(self
            .blobs
            .upload_status(id)
            .await
            .map_err(storage_error)?
            .offset)
    }

    /// Appends a chunk. With `offset`, the chunk must start there (else [`Error::UploadOffset`]
    /// with the current offset); without, it goes at the end. Returns the new offset. In a
    /// repository with a quota, the chunk must fit in the room left (bytes of open sessions
    /// count): a declared length over it is refused before reading, and a body that runs over
    /// is cut and nothing of it kept.
    pub async fn append_upload(
        &self,
        principal: &Principal,
        name: &Name,
        id: &UploadId,
        offset: Option<u64>,
        body: RequestBody,
    ) -> Result<u64> {
        let repository = self
            .authorize(principal, Action::Push, name.repository())
            .await?;
        let session = self.session(&repository, name, id).await?;
        let min_chunk = self.blobs.min_chunk();
        if let Some(min) = min_chunk
            && session.short_chunk
        {
            room::discard(body.into_stream()).await;
            return Err(Error::ChunkTooSmall { min });
        }
        let offset = match offset {
            Some(offset) => offset,
            None => {
                self.blobs
                    .upload_status(id)
                    .await
                    .map_err(storage_error)?
                    .offset
            }
        };
        // What the session holds counts once: as its offset, not as its noted bytes.
        let allowance = self
            .allowance(&repository, Some(&session))
            .await?
            .map(|a| a.after(offset));
        let (stream, cut) = self.admit_stream(&repository, allowance, body).await?;
        let end = self.blobs.append(id, offset, stream).await.map_err(|e| {
            Cut::refusal(cut.as_ref(), &repository).unwrap_or_else(|| storage_error(e))
        })?;
        // Activity keeps the session from idle cleanup, and its bytes count against the quota;
        // losing this write only makes the session look idler and smaller for a moment.
        let short = min_chunk.is_some_and(|min| end - offset < min);
        if let Err(e) = self.meta.touch_upload(id, end, short, self.now()).await {
            warn!(upload = %id, error = %crate::error::chain(&e), "could not note an upload's progress");
        }
        Ok(end)
    }

    /// Finishes a session: appends `last` if given, verifies the digest, publishes the blob and
    /// records it. In a repository with a quota, a blob it does not hold yet must fit in the room
    /// left (other open sessions' bytes count); a session refused here, for its size or its
    /// digest, is removed at once.
    pub async fn commit_upload(
        &self,
        principal: &Principal,
        name: &Name,
        id: &UploadId,
        digest: &Digest,
        last: Option<RequestBody>,
    ) -> Result<u64> {
        let repository = self
            .authorize(principal, Action::Push, name.repository())
            .await?;
        let session = self.session(&repository, name, id).await?;
        // A last chunk in the PUT after a short one: the short one was not the last.
        if let Some(min) = self.blobs.min_chunk()
            && session.short_chunk
            && last
                .as_ref()
                .and_then(RequestBody::length)
                .is_some_and(|n| n > 0)
        {
            if let Some(body) = last {
                room::discard(body.into_stream()).await;
            }
            return Err(Error::ChunkTooSmall { min });
        }
        let offset = self
            .blobs
            .upload_status(id)
            .await
            .map_err(storage_error)?
            .offset;
        // The definitive check is at manifest put; this one spares storing what cannot fit.
        let allowance = self
            .allowance_for(&repository, name, digest, Some(&session))
            .await?;
        if let Some(allowance) = allowance
            && let Err(e) = allowance.admit(&repository, offset)
        {
            if let Some(body) = last {
                room::discard(body.into_stream()).await;
            }
            self.drop_session(id).await;
            return Err(e);
        }
        if let Some(body) = last {
            let admitted = self
                .admit_stream(&repository, allowance.map(|a| a.after(offset)), body)
                .await;
            let (stream, cut) = match admitted {
                Ok(admitted) => admitted,
                Err(e) => {
                    self.drop_session(id).await;
                    return Err(e);
                }
            };
            if let Err(e) = self.blobs.append(id, offset, stream).await {
                if let Some(refused) = Cut::refusal(cut.as_ref(), &repository) {
                    self.drop_session(id).await;
                    return Err(refused);
                }
                return Err(storage_error(e));
            }
        }
        let size = match self.blobs.commit(id, digest).await {
            Ok(size) => size,
            Err(e @ berth_storage::Error::DigestMismatch(_)) => {
                self.drop_session(id).await;
                return Err(storage_error(e));
            }
            Err(e) => return Err(storage_error(e)),
        };
        self.record_stored_blob(digest, size).await?;
        self.link_stored_blob(name, digest).await?;
        self.meta.delete_upload(id).await.map_err(Error::metadata)?;
        Ok(size)
    }

    /// Abandons a session and what it received.
    pub async fn abort_upload(
        &self,
        principal: &Principal,
        name: &Name,
        id: &UploadId,
    ) -> Result<()> {
        let repository = self
            .authorize(principal, Action::Push, name.repository())
            .await?;
        self.session(&repository, name, id).await?;
        match self.blobs.abort(id).await {
            Ok(()) | Err(berth_storage::Error::UploadNotFound(_)) => {}
            Err(e) => return Err(storage_error(e)),
        }
        self.meta.delete_upload(id).await.map_err(Error::metadata)
    }

    /// Stores a blob in one request (monolithic upload), verified against `digest`. In a
    /// repository with a quota, a blob it does not hold yet must fit in the room left: a
    /// declared length over it is refused before reading, and a body that runs over is cut and
    /// nothing stored.
    pub async fn put_blob(
        &self,
        principal: &Principal,
        name: &Name,
        digest: &Digest,
        body: RequestBody,
    ) -> Result<u64> {
        let repository = self
            .authorize(principal, Action::Push, name.repository())
            .await?;
        Self::refuse_proxy(&repository)?;
        let allowance = self.allowance_for(&repository, name, digest, None).await?;
        let (stream, cut) = self.admit_stream(&repository, allowance, body).await?;
        let size = self.blobs.put(digest, stream).await.map_err(|e| {
            Cut::refusal(cut.as_ref(), &repository).unwrap_or_else(|| storage_error(e))
        })?;
        self.record_stored_blob(digest, size).await?;
        self.link_stored_blob(name, digest).await?;
        Ok(size)
    }

    /// `DELETE` of a blob: unlinks it from the repository (it is no longer readable there); the
    /// bytes go at garbage collection once no artifact references them.
    pub async fn delete_blob(
        &self,
        principal: &Principal,
        name: &Name,
        digest: &Digest,
    ) -> Result<()> {
        let repository = self
            .authorize(principal, Action::Delete, name.repository())
            .await?;
        Self::refuse_proxy_delete(principal, &repository)?;
        if self
            .meta
            .unlink_blob(name.repository(), digest)
            .await
            .map_err(Error::metadata)?
        {
            Ok(())
        } else {
            Err(Error::BlobUnknown(digest.clone()))
        }
    }

    /// Makes a blob available in `name` without uploading it, when the registry holds it in a
    /// repository the caller may pull: `from`, or, without `from`, any repository of the same
    /// account the blob is linked in (the spec lets a registry treat `from` as optional). Else a
    /// normal upload session starts, and the answer tells nothing of where else the blob is.
    pub async fn mount_blob(
        &self,
        principal: &Principal,
        name: &Name,
        digest: &Digest,
        from: Option<&Name>,
    ) -> Result<Mount> {
        let repository = self
            .authorize(principal, Action::Push, name.repository())
            .await?;
        Self::refuse_proxy(&repository)?;
        if let Some(size) = self.mountable(principal, &repository, digest, from).await? {
            match self.meta.link_blob(name.repository(), digest).await {
                Ok(()) => return Ok(Mount::Mounted(size)),
                // Collected since it was found: the client uploads it, as for any blob we lack.
                Err(berth_meta::Error::BlobUnknown(_)) => {}
                Err(e) => return Err(Error::metadata(e)),
            }
        }
        let algorithm = digest.algorithm();
        Ok(Mount::Started(
            self.start_session(&repository, name, algorithm).await?,
        ))
    }

    /// The size of `digest` when `principal` may mount it into `target`: linked in `from` and
    /// `from` pullable; or, without `from`, linked in the target already or in a pullable
    /// repository of the target's account.
    async fn mountable(
        &self,
        principal: &Principal,
        target: &Repository,
        digest: &Digest,
        from: Option<&Name>,
    ) -> Result<Option<u64>> {
        /// Repositories of the account looked at, at most, for a mount without `from`.
        const SOURCES: usize = 32;
        let candidates = match from {
            Some(from) => vec![from.repository().clone()],
            None => {
                let mut linked = self
                    .meta
                    .linked_repositories(target.account, digest, SOURCES)
                    .await
                    .map_err(Error::metadata)?;
                // Already here: nothing to check but the size.
                if let Some(here) = linked.iter().position(|r| *r == target.name) {
                    linked.swap(0, here);
                }
                linked
            }
        };
        for source in candidates {
            if source != target.name
                && self
                    .authorize(principal, Action::Pull, &source)
                    .await
                    .is_err()
            {
                continue;
            }
            if let Some(size) = self
                .meta
                .linked_blob(&source, digest)
                .await
                .map_err(Error::metadata)?
            {
                return Ok(Some(size));
            }
        }
        Ok(None)
    }
}
