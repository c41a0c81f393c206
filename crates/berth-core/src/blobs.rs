//! Blobs and upload sessions.

use berth_meta::UploadSession;
use berth_model::{ByteRange, Digest, Name, Timestamp, UploadId};
use berth_policy::{Action, Principal, admit};
use berth_storage::{BlobRead, ByteStream};

use crate::{Error, Registry, Result};

/// The outcome of a cross-repository mount request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mount {
    /// The blob is available in the target repository now, with this size.
    Mounted(u64),
    /// It could not be mounted (unknown blob, or the caller may not pull the source): a normal
    /// upload session started instead.
    Started(UploadId),
}

fn storage_error(e: berth_storage::Error) -> Error {
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
        self.authorize(principal, Action::Pull, name.repository())
            .await?;
        self.linked(name, digest).await
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
        self.authorize(principal, Action::Pull, name.repository())
            .await?;
        self.linked(name, digest).await?;
        self.blobs.get(digest, range).await.map_err(storage_error)
    }

    /// Starts an upload session into `name`.
    pub async fn start_upload(&self, principal: &Principal, name: &Name) -> Result<UploadId> {
        self.authorize(principal, Action::Push, name.repository())
            .await?;
        self.start_session(name).await
    }

    async fn start_session(&self, name: &Name) -> Result<UploadId> {
        let id = self.blobs.start_upload().await.map_err(storage_error)?;
        let now = Timestamp::now();
        let session = UploadSession {
            id,
            name: name.clone(),
            started: now,
            last_activity: now,
        };
        self.meta
            .create_upload(session)
            .await
            .map_err(Error::metadata)?;
        Ok(id)
    }

    /// Checks that `id` is a session of `name`.
    async fn session(&self, name: &Name, id: &UploadId) -> Result<UploadSession> {
        match self.meta.upload(id).await.map_err(Error::metadata)? {
            Some(session) if session.name == *name => Ok(session),
            _ => Err(Error::UploadUnknown(*id)),
        }
    }

    /// Bytes received so far by a session.
    pub async fn upload_status(
        &self,
        principal: &Principal,
        name: &Name,
        id: &UploadId,
    ) -> Result<u64> {
        self.authorize(principal, Action::Push, name.repository())
            .await?;
        self.session(name, id).await?;
        Ok(self
            .blobs
            .upload_status(id)
            .await
            .map_err(storage_error)?
            .offset)
    }

    /// Appends a chunk. With `offset`, the chunk must start there (else [`Error::UploadOffset`]
    /// with the current offset); without, it goes at the end. Returns the new offset.
    pub async fn append_upload(
        &self,
        principal: &Principal,
        name: &Name,
        id: &UploadId,
        offset: Option<u64>,
        body: ByteStream,
    ) -> Result<u64> {
        self.authorize(principal, Action::Push, name.repository())
            .await?;
        self.session(name, id).await?;
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
        let end = self
            .blobs
            .append(id, offset, body)
            .await
            .map_err(storage_error)?;
        // Activity keeps the session from idle cleanup; losing this write only makes it look
        // idler, so a failure here does not fail the append.
        let _ = self.meta.touch_upload(id, Timestamp::now()).await;
        Ok(end)
    }

    /// Finishes a session: appends `last` if given, verifies the digest, publishes the blob and
    /// records it. Refuses early when the repository's quota cannot take a blob this size.
    pub async fn commit_upload(
        &self,
        principal: &Principal,
        name: &Name,
        id: &UploadId,
        digest: &Digest,
        last: Option<ByteStream>,
    ) -> Result<u64> {
        let repository = self
            .authorize(principal, Action::Push, name.repository())
            .await?;
        self.session(name, id).await?;
        let offset = self
            .blobs
            .upload_status(id)
            .await
            .map_err(storage_error)?
            .offset;
        // The size is where the session stands after the last chunk, if any.
        let size = match last {
            Some(body) => self
                .blobs
                .append(id, offset, body)
                .await
                .map_err(storage_error)?,
            None => offset,
        };
        // The definitive check is at manifest put; this one spares uploading what cannot fit.
        // A blob the registry holds already may count nothing, so only new ones are refused.
        if self
            .meta
            .blob(digest)
            .await
            .map_err(Error::metadata)?
            .is_none()
        {
            admit(repository.used, size, repository.quota)?;
        }
        let size = self.blobs.commit(id, digest).await.map_err(storage_error)?;
        self.record_stored_blob(digest, size).await?;
        self.meta
            .link_blob(name.repository(), digest)
            .await
            .map_err(Error::metadata)?;
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
        self.authorize(principal, Action::Push, name.repository())
            .await?;
        self.session(name, id).await?;
        match self.blobs.abort(id).await {
            Ok(()) | Err(berth_storage::Error::UploadNotFound(_)) => {}
            Err(e) => return Err(storage_error(e)),
        }
        self.meta.delete_upload(id).await.map_err(Error::metadata)
    }

    /// Stores a blob in one request (monolithic upload), verified against `digest`.
    pub async fn put_blob(
        &self,
        principal: &Principal,
        name: &Name,
        digest: &Digest,
        body: ByteStream,
    ) -> Result<u64> {
        self.authorize(principal, Action::Push, name.repository())
            .await?;
        let size = self.blobs.put(digest, body).await.map_err(storage_error)?;
        self.record_stored_blob(digest, size).await?;
        self.meta
            .link_blob(name.repository(), digest)
            .await
            .map_err(Error::metadata)?;
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
        self.authorize(principal, Action::Delete, name.repository())
            .await?;
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

    /// Makes a blob from `from` available in `name` without uploading it, when the caller may pull
    /// `from` and the registry holds the blob; otherwise starts a normal upload.
    pub async fn mount_blob(
        &self,
        principal: &Principal,
        name: &Name,
        digest: &Digest,
        from: Option<&Name>,
    ) -> Result<Mount> {
        self.authorize(principal, Action::Push, name.repository())
            .await?;
        let may_pull_source = match from {
            Some(from) => self
                .authorize(principal, Action::Pull, from.repository())
                .await
                .is_ok(),
            None => false,
        };
        if may_pull_source
            && let Some(from) = from
            && let Some(size) = self
                .meta
                .linked_blob(from.repository(), digest)
                .await
                .map_err(Error::metadata)?
        {
            self.meta
                .link_blob(name.repository(), digest)
                .await
                .map_err(Error::metadata)?;
            return Ok(Mount::Mounted(size));
        }
        Ok(Mount::Started(self.start_session(name).await?))
    }
}
