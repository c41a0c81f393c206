//! Upload sessions: appends as buffered multipart parts, verified commits, monolithic puts.
//!
//! See the crate documentation for why each step is ordered as it is.

use std::collections::VecDeque;
use std::time::SystemTime;

use berth_model::{Algorithm, Digest, DigestVerifier, UploadId};
use berth_storage::{ByteStream, Error, Result, UploadInfo, new_upload_id};
use bytes::{Bytes, BytesMut};
use futures::{StreamExt as _, TryStreamExt as _};
use object_store::multipart::{MultipartStore as _, PartId};
use object_store::{
    GetOptions, GetRange, ObjectStore as _, ObjectStoreExt as _, PutMode, PutOptions, PutPayload,
    UpdateVersion,
};

use crate::session::{HEADER_PROBE, Multipart, Session};
use crate::{S3Store, STORE, backend, is_not_found};

/// How many session states `list_uploads` reads at once.
const LIST_CONCURRENCY: usize = 8;

/// The public view of a session.
pub(crate) fn info(id: &UploadId, session: &Session) -> UploadInfo {
    UploadInfo {
        id: *id,
        offset: session.offset,
        started: session.started,
        last_activity: session.last_activity,
    }
}

/// Received bytes waiting to fill a part, kept as the chunks they arrived in (no copy until a
/// part or the tail is assembled).
#[derive(Default)]
struct Pending {
    chunks: VecDeque<Bytes>,
    len: usize,
}

impl Pending {
    fn push(&mut self, chunk: Bytes) {
        if !chunk.is_empty() {
            self.len += chunk.len();
            self.chunks.push_back(chunk);
        }
    }

    /// The first `n` bytes (`n <= len`), as slices of the received chunks.
    fn take(&mut self, mut n: usize) -> Vec<Bytes> {
        let mut out = Vec::new();
        while n > 0 {
            let Some(mut chunk) = self.chunks.pop_front() else {
                break;
            };
            if chunk.len() > n {
                self.chunks.push_front(chunk.split_off(n));
            }
            n -= chunk.len();
            self.len -= chunk.len();
            out.push(chunk);
        }
        out
    }

    fn into_bytes(self) -> Bytes {
        match self.chunks.len() {
            0 => Bytes::new(),
            1 => self.chunks.into_iter().next().unwrap_or_default(),
            _ => {
                let mut out = BytesMut::with_capacity(self.len);
                for chunk in self.chunks {
                    out.extend_from_slice(&chunk);
                }
                out.freeze()
            }
        }
    }
}

impl S3Store {
    /// Reads a session's state and the e-tag to replace it conditionally.
    pub(crate) async fn load(&self, id: &UploadId) -> Result<(Session, Option<String>)> {
        let result = match self.client.get(&self.layout.upload_state(id)).await {
            Ok(result) => result,
            Err(e) if is_not_found(&e) => return Err(Error::UploadNotFound(*id)),
            Err(e) => return Err(backend(e)),
        };
        let e_tag = result.meta.e_tag.clone();
        let bytes = result.bytes().await.map_err(backend)?;
        let session = Session::decode(&bytes, true)
            .map_err(|e| Error::backend(STORE, e))?
            .ok_or(Error::UploadNotFound(*id))?;
        Ok((session, e_tag))
    }

    /// Writes a session's state: replacing the version read (`e_tag`) or creating it (`None`).
    /// A lost race shows as the error the caller would have met had it come second.
    async fn save(
        &self,
        id: &UploadId,
        session: &Session,
        e_tag: Option<String>,
        requested: u64,
    ) -> Result<()> {
        let mode = match e_tag {
            Some(e_tag) if self.conditional_writes => PutMode::Update(UpdateVersion {
                e_tag: Some(e_tag),
                version: None,
            }),
            _ => PutMode::Overwrite,
        };
        let key = self.layout.upload_state(id);
        match self
            .client
            .put_opts(&key, session.encode().into(), PutOptions::from(mode))
            .await
        {
            Ok(_) => Ok(()),
            Err(object_store::Error::Precondition { .. }) => {
                let (current, _) = self.load(id).await?;
                Err(Error::InvalidOffset {
                    id: *id,
                    current: current.offset,
                    requested,
                })
            }
            Err(e) => Err(backend(e)),
        }
    }

    pub(crate) async fn start(&self, algorithm: Algorithm) -> Result<UploadId> {
        let id = new_upload_id();
        self.save(&id, &Session::new(SystemTime::now(), algorithm), None, 0)
            .await?;
        Ok(id)
    }

    pub(crate) async fn append_at(
        &self,
        id: &UploadId,
        offset: u64,
        body: ByteStream,
    ) -> Result<u64> {
        let (session, e_tag) = self.load(id).await?;
        if session.offset != offset {
            return Err(Error::InvalidOffset {
                id: *id,
                current: session.offset,
                requested: offset,
            });
        }
        if session.sealed {
            return Err(Error::NotSupported {
                store: STORE,
                operation: "appending to a session after a commit with a non-sha256 digest failed",
            });
        }
        let (session, created) = self.absorb(id, session, body, &mut |_| {}).await?;
        if let Err(e) = self.save(id, &session, e_tag, offset).await {
            if let Some(created) = created {
                self.abort_multipart(id, &created).await;
            }
            return Err(e);
        }
        Ok(session.offset)
    }

    /// Streams `body` into the session: hashes every byte, sends each full part, and keeps the
    /// rest as the tail. Returns the new state (not yet saved) and the multipart upload it
    /// created, if any. On failure, aborts what it created and leaves the saved state alone.
    async fn absorb(
        &self,
        id: &UploadId,
        mut session: Session,
        mut body: ByteStream,
        each: &mut (dyn FnMut(&[u8]) + Send),
    ) -> Result<(Session, Option<String>)> {
        let mut pending = Pending::default();
        pending.push(std::mem::take(&mut session.tail));
        let mut created = None;
        let streamed: Result<()> = async {
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(Error::Body)?;
                session.hasher.update(&chunk);
                each(&chunk);
                session.offset += chunk.len() as u64;
                pending.push(chunk);
                while pending.len >= self.part_size {
                    let part = pending.take(self.part_size);
                    self.send_part(id, &mut session, part, &mut created).await?;
                }
            }
            Ok(())
        }
        .await;
        if let Err(e) = streamed {
            if let Some(created) = created {
                self.abort_multipart(id, &created).await;
            }
            return Err(e);
        }
        session.tail = pending.into_bytes();
        session.last_activity = SystemTime::now();
        Ok((session, created))
    }

    /// Sends one part, starting the session's multipart upload if it has none yet.
    async fn send_part(
        &self,
        id: &UploadId,
        session: &mut Session,
        part: Vec<Bytes>,
        created: &mut Option<String>,
    ) -> Result<()> {
        let data = self.layout.upload_data(id);
        let multipart = match &mut session.multipart {
            Some(multipart) => multipart,
            None => {
                let upload = self.client.create_multipart(&data).await.map_err(backend)?;
                *created = Some(upload.clone());
                session.multipart.insert(Multipart {
                    id: upload,
                    parts: Vec::new(),
                })
            }
        };
        let part = self
            .client
            .put_part(
                &data,
                &multipart.id,
                multipart.parts.len(),
                PutPayload::from_iter(part),
            )
            .await
            .map_err(backend)?;
        multipart.parts.push(part.content_id);
        Ok(())
    }

    /// Best effort: a multipart upload nobody will complete. If this fails too, the upload
    /// lingers in the bucket until the bucket's lifecycle rule for incomplete uploads removes it.
    async fn abort_multipart(&self, id: &UploadId, upload: &str) {
        let _ = self
            .client
            .abort_multipart(&self.layout.upload_data(id), &upload.to_owned())
            .await;
    }

    /// Completes the session's multipart upload at its `data` key, the tail as the last part.
    async fn complete(
        &self,
        id: &UploadId,
        session: &Session,
        multipart: &Multipart,
    ) -> Result<()> {
        let data = self.layout.upload_data(id);
        let completed: object_store::Result<()> = async {
            let mut parts: Vec<PartId> = multipart
                .parts
                .iter()
                .map(|e_tag| PartId {
                    content_id: e_tag.clone(),
                })
                .collect();
            if !session.tail.is_empty() {
                let last = self
                    .client
                    .put_part(
                        &data,
                        &multipart.id,
                        parts.len(),
                        session.tail.clone().into(),
                    )
                    .await?;
                parts.push(last);
            }
            self.client
                .complete_multipart(&data, &multipart.id, parts)
                .await?;
            Ok(())
        }
        .await;
        match completed {
            Ok(()) => Ok(()),
            // A previous attempt completed the upload and stopped before recording it: the
            // upload id is gone, and `data` holds the bytes if it has the session's size.
            Err(e) if is_not_found(&e) => match self.client.head(&data).await {
                Ok(meta) if meta.size == session.offset => Ok(()),
                _ => Err(backend(e)),
            },
            Err(e) => Err(backend(e)),
        }
    }

    pub(crate) async fn commit_session(&self, id: &UploadId, expected: &Digest) -> Result<u64> {
        let (mut session, e_tag) = self.load(id).await?;
        if expected.algorithm() == session.hasher.algorithm() {
            DigestVerifier::resume(expected.clone(), session.hasher.state().clone()).verify()?;
        } else if session.multipart.is_none() && !session.sealed {
            // Every byte is in the tail, already in memory.
            let mut verifier = DigestVerifier::new(expected.clone());
            verifier.update(&session.tail);
            verifier.verify()?;
        } else {
            // Sessions hash with SHA-256; another algorithm needs the bytes once more, which S3
            // can only give back once the multipart upload is completed.
            if !session.sealed {
                self.seal(id, &mut session, e_tag).await?;
            }
            self.verify_by_reading(id, expected).await?;
        }
        self.publish(id, &session, expected).await
    }

    /// Completes the multipart upload and records that `data` now holds every byte.
    async fn seal(
        &self,
        id: &UploadId,
        session: &mut Session,
        e_tag: Option<String>,
    ) -> Result<()> {
        if let Some(multipart) = session.multipart.take() {
            self.complete(id, session, &multipart).await?;
        }
        session.sealed = true;
        session.tail = Bytes::new();
        let offset = session.offset;
        self.save(id, session, e_tag, offset).await
    }

    async fn verify_by_reading(&self, id: &UploadId, expected: &Digest) -> Result<()> {
        let result = self
            .client
            .get(&self.layout.upload_data(id))
            .await
            .map_err(backend)?;
        let mut verifier = DigestVerifier::new(expected.clone());
        let mut body = result.into_stream();
        while let Some(chunk) = body.next().await {
            verifier.update(&chunk.map_err(backend)?);
        }
        verifier.verify()?;
        Ok(())
    }

    /// Makes the verified bytes visible under `digest`, then removes the session (its `data`
    /// first, its `state` last, so that a crash in between leaves a session the idle cleanup
    /// finds, never an orphan object).
    async fn publish(&self, id: &UploadId, session: &Session, digest: &Digest) -> Result<u64> {
        let blob = self.layout.blob(digest);
        let data = self.layout.upload_data(id);
        let multipart = session.multipart.is_some() || session.sealed;
        if let Some(upload) = &session.multipart {
            self.complete(id, session, upload).await?;
        }
        if multipart {
            // A multipart upload is bound to the key it was started at, before the digest was
            // known: publish with an (atomic, server-side) copy.
            self.client.copy(&data, &blob).await.map_err(backend)?;
            match self.client.delete(&data).await {
                Ok(()) => {}
                Err(e) if is_not_found(&e) => {}
                Err(e) => return Err(backend(e)),
            }
        } else {
            self.client
                .put(&blob, session.tail.clone().into())
                .await
                .map_err(backend)?;
        }
        match self.client.delete(&self.layout.upload_state(id)).await {
            Ok(()) => {}
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(backend(e)),
        }
        Ok(session.offset)
    }

    /// Removes a session: its multipart upload, then every object under its directory, `state`
    /// last (so a failure part-way leaves a session that can be aborted again).
    pub(crate) async fn discard(&self, id: &UploadId, multipart: Option<&Multipart>) -> Result<()> {
        if let Some(multipart) = multipart {
            match self
                .client
                .abort_multipart(&self.layout.upload_data(id), &multipart.id)
                .await
            {
                Ok(()) => {}
                Err(e) if is_not_found(&e) => {}
                Err(e) => return Err(backend(e)),
            }
        }
        let state = self.layout.upload_state(id);
        let mut keys: Vec<_> = self
            .client
            .list(Some(&self.layout.upload_dir(id)))
            .map_ok(|meta| meta.location)
            .try_collect()
            .await
            .map_err(backend)?;
        keys.retain(|key| *key != state);
        keys.push(state);
        for key in keys {
            match self.client.delete(&key).await {
                Ok(()) => {}
                Err(e) if is_not_found(&e) => {}
                Err(e) => return Err(backend(e)),
            }
        }
        Ok(())
    }

    /// A monolithic upload: verified before anything becomes visible.
    pub(crate) async fn put_verified(&self, digest: &Digest, mut body: ByteStream) -> Result<u64> {
        // Small blobs (most configs and many layers) are held in memory and written with one
        // PUT; only a body that outgrows one part goes through a session, which streams parts.
        let mut pending = Pending::default();
        while pending.len < self.part_size {
            let Some(chunk) = body.next().await else {
                let bytes = pending.into_bytes();
                let mut verifier = DigestVerifier::new(digest.clone());
                verifier.update(&bytes);
                verifier.verify()?;
                let size = bytes.len() as u64;
                self.client
                    .put(&self.layout.blob(digest), bytes.into())
                    .await
                    .map_err(backend)?;
                return Ok(size);
            };
            pending.push(chunk.map_err(Error::Body)?);
        }

        // The session's state object exists from the start so that a crash part-way leaves a
        // session for the idle cleanup to abort, not unreachable parts.
        let id = new_upload_id();
        let session = Session::new(SystemTime::now(), Algorithm::Sha256);
        self.save(&id, &session, None, 0).await?;
        let body = futures::stream::iter(pending.chunks.into_iter().map(Ok))
            .chain(body)
            .boxed();
        // The session hashes SHA-256; another algorithm is computed alongside, in the same pass.
        let mut other =
            (digest.algorithm() != Algorithm::Sha256).then(|| DigestVerifier::new(digest.clone()));
        let absorbed = self
            .absorb(&id, session, body, &mut |chunk| {
                if let Some(verifier) = other.as_mut() {
                    verifier.update(chunk);
                }
            })
            .await;
        let session = match absorbed {
            Ok((session, _)) => session,
            Err(e) => {
                let _ = self.discard(&id, None).await;
                return Err(e);
            }
        };
        let verified = match other {
            Some(verifier) => verifier.verify(),
            None => DigestVerifier::resume(digest.clone(), session.hasher.state().clone()).verify(),
        };
        let published = match verified {
            Ok(_) => self.publish(&id, &session, digest).await,
            Err(mismatch) => Err(mismatch.into()),
        };
        if published.is_err() {
            let _ = self.discard(&id, session.multipart.as_ref()).await;
        }
        published
    }

    pub(crate) async fn idle_uploads(&self, idle_since: SystemTime) -> Result<Vec<UploadInfo>> {
        let layout = &self.layout;
        let states: Vec<_> = self
            .client
            .list(Some(&layout.uploads()))
            .map_err(backend)
            .try_filter_map(|meta| async move {
                Ok(layout
                    .parse_upload_state(&meta.location)
                    .map(|id| (id, meta.size)))
            })
            .try_collect()
            .await?;
        let sessions: Vec<Option<UploadInfo>> = futures::stream::iter(states)
            .map(|(id, size)| async move { self.read_header(&id, size).await })
            .buffer_unordered(LIST_CONCURRENCY)
            .try_collect()
            .await?;
        Ok(sessions
            .into_iter()
            .flatten()
            .filter(|info| info.last_activity < idle_since)
            .collect())
    }

    /// A session's header, read with a short ranged GET; `None` if the session just ended.
    async fn read_header(&self, id: &UploadId, size: u64) -> Result<Option<UploadInfo>> {
        let options = GetOptions {
            range: Some(GetRange::Bounded(0..HEADER_PROBE.min(size).max(1))),
            ..GetOptions::default()
        };
        let probe = match self
            .client
            .get_opts(&self.layout.upload_state(id), options)
            .await
        {
            Ok(result) => result.bytes().await.ok(),
            Err(e) if is_not_found(&e) => return Ok(None),
            // The state may have been rewritten, shorter, since it was listed: read it whole.
            Err(_) => None,
        };
        let probe = match probe {
            Some(probe) => probe,
            None => return self.read_whole(id).await,
        };
        match Session::decode(&probe, false).map_err(|e| Error::backend(STORE, e))? {
            Some(session) => Ok(Some(info(id, &session))),
            // A header longer than the probe (thousands of parts): read it all.
            None => self.read_whole(id).await,
        }
    }

    async fn read_whole(&self, id: &UploadId) -> Result<Option<UploadInfo>> {
        match self.load(id).await {
            Ok((session, _)) => Ok(Some(info(id, &session))),
            Err(Error::UploadNotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }
}
