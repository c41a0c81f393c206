//! An in-memory `BlobStore`: for tests, examples and embedders that need no persistence.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use async_trait::async_trait;
use berth_model::{Algorithm, ByteRange, Digest, DigestVerifier, Hasher, UploadId};
use bytes::Bytes;
use futures::StreamExt as _;

use crate::{
    BlobInfo, BlobRead, BlobStore, ByteStream, Error, LocalFiles, Presigner, Result, UploadInfo,
    new_upload_id, resolve_range,
};

/// Blobs and upload sessions held in memory.
///
/// Clones share the same contents, so a clone stands for "another handle on the same backend"
/// (the conformance suite's reopened store).
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    inner: Arc<Mutex<Inner>>,
    min_chunk: Option<u64>,
}

#[derive(Debug, Default)]
struct Inner {
    blobs: HashMap<Digest, (Bytes, SystemTime)>,
    uploads: HashMap<UploadId, Session>,
}

#[derive(Debug, Clone)]
struct Session {
    data: Vec<u8>,
    hasher: Hasher,
    started: SystemTime,
    last_activity: SystemTime,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty store that asks for chunks of at least `min` bytes, as a backend with parts
    /// does (see [`BlobStore::min_chunk`]); it accepts any size all the same.
    pub fn with_min_chunk(min: u64) -> Self {
        MemoryStore {
            min_chunk: Some(min),
            ..Self::default()
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave Inner half-updated (every update is one
        // insert or remove), so a poisoned lock is still consistent.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Reads a whole body, or the error that cut it short.
async fn read_body(mut body: ByteStream, mut each: impl FnMut(&Bytes)) -> Result<Vec<Bytes>> {
    let mut chunks = Vec::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(Error::Body)?;
        each(&chunk);
        chunks.push(chunk);
    }
    Ok(chunks)
}

#[async_trait]
impl BlobStore for MemoryStore {
    fn name(&self) -> &'static str {
        "memory"
    }

    async fn stat(&self, digest: &Digest) -> Result<u64> {
        let inner = self.lock();
        let (bytes, _) = inner
            .blobs
            .get(digest)
            .ok_or_else(|| Error::BlobNotFound(digest.clone()))?;
        Ok(bytes.len() as u64)
    }

    async fn get(&self, digest: &Digest, range: Option<ByteRange>) -> Result<BlobRead> {
        let bytes = {
            let inner = self.lock();
            let (bytes, _) = inner
                .blobs
                .get(digest)
                .ok_or_else(|| Error::BlobNotFound(digest.clone()))?;
            bytes.clone()
        };
        let size = bytes.len() as u64;
        let range = resolve_range(range, size)?;
        let slice = bytes.slice(range.start as usize..range.end as usize);
        Ok(BlobRead {
            size,
            range,
            body: Box::pin(futures::stream::once(async move { Ok(slice) })),
        })
    }

    async fn put(&self, digest: &Digest, body: ByteStream) -> Result<u64> {
        let mut verifier = DigestVerifier::new(digest.clone());
        let chunks = read_body(body, |chunk| verifier.update(chunk)).await?;
        verifier.verify()?;
        let bytes = Bytes::from(chunks.concat());
        let size = bytes.len() as u64;
        self.lock()
            .blobs
            .insert(digest.clone(), (bytes, SystemTime::now()));
        Ok(size)
    }

    async fn delete(&self, digest: &Digest) -> Result<()> {
        self.lock().blobs.remove(digest);
        Ok(())
    }

    async fn list(&self) -> Result<Vec<BlobInfo>> {
        Ok(self
            .lock()
            .blobs
            .iter()
            .map(|(digest, (bytes, modified))| BlobInfo {
                digest: digest.clone(),
                size: bytes.len() as u64,
                modified: *modified,
            })
            .collect())
    }

    async fn start_upload(&self, algorithm: Algorithm) -> Result<UploadId> {
        let id = new_upload_id();
        let now = SystemTime::now();
        self.lock().uploads.insert(
            id,
            Session {
                data: Vec::new(),
                hasher: Hasher::new(algorithm),
                started: now,
                last_activity: now,
            },
        );
        Ok(id)
    }

    async fn append(&self, id: &UploadId, offset: u64, body: ByteStream) -> Result<u64> {
        let check = |inner: &Inner| -> Result<()> {
            let session = inner.uploads.get(id).ok_or(Error::UploadNotFound(*id))?;
            let current = session.data.len() as u64;
            if current != offset {
                return Err(Error::InvalidOffset {
                    id: *id,
                    current,
                    requested: offset,
                });
            }
            Ok(())
        };
        check(&self.lock())?;
        let chunks = read_body(body, |_| {}).await?;
        // The session may have moved while the body streamed in: check again, then apply at once.
        let mut inner = self.lock();
        check(&inner)?;
        let session = inner
            .uploads
            .get_mut(id)
            .ok_or(Error::UploadNotFound(*id))?;
        for chunk in &chunks {
            session.hasher.update(chunk);
            session.data.extend_from_slice(chunk);
        }
        session.last_activity = SystemTime::now();
        Ok(session.data.len() as u64)
    }

    async fn upload_status(&self, id: &UploadId) -> Result<UploadInfo> {
        let inner = self.lock();
        let session = inner.uploads.get(id).ok_or(Error::UploadNotFound(*id))?;
        Ok(UploadInfo {
            id: *id,
            offset: session.data.len() as u64,
            started: session.started,
            last_activity: session.last_activity,
        })
    }

    async fn commit(&self, id: &UploadId, expected: &Digest) -> Result<u64> {
        let mut inner = self.lock();
        let session = inner.uploads.get(id).ok_or(Error::UploadNotFound(*id))?;
        let mut verifier = DigestVerifier::resume(expected.clone(), session.hasher.state().clone());
        if expected.algorithm() != session.hasher.algorithm() {
            // Sessions hash with SHA-256; another algorithm is computed over the bytes at commit.
            verifier = DigestVerifier::new(expected.clone());
            verifier.update(&session.data);
        }
        verifier.verify()?;
        let session = inner.uploads.remove(id).ok_or(Error::UploadNotFound(*id))?;
        let size = session.data.len() as u64;
        inner.blobs.insert(
            expected.clone(),
            (Bytes::from(session.data), SystemTime::now()),
        );
        Ok(size)
    }

    async fn abort(&self, id: &UploadId) -> Result<()> {
        self.lock()
            .uploads
            .remove(id)
            .map(|_| ())
            .ok_or(Error::UploadNotFound(*id))
    }

    async fn list_uploads(&self, idle_since: SystemTime) -> Result<Vec<UploadInfo>> {
        Ok(self
            .lock()
            .uploads
            .iter()
            .filter(|(_, s)| s.last_activity < idle_since)
            .map(|(id, s)| UploadInfo {
                id: *id,
                offset: s.data.len() as u64,
                started: s.started,
                last_activity: s.last_activity,
            })
            .collect())
    }

    fn local_files(&self) -> Option<&dyn LocalFiles> {
        None
    }

    fn presigner(&self) -> Option<&dyn Presigner> {
        None
    }

    fn min_chunk(&self) -> Option<u64> {
        self.min_chunk
    }
}
