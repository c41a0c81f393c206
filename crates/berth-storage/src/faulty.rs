//! A `BlobStore` wrapper that injects faults, for reliability tests.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::SystemTime;

use async_trait::async_trait;
use berth_model::{Algorithm, ByteRange, Digest, UploadId};
use futures::StreamExt as _;

use crate::{
    BlobInfo, BlobRead, BlobStore, ByteStream, Error, LocalFiles, Presigner, Result, UploadInfo,
};

/// Which faults a [`FaultyStore`] injects. All are off by default.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// The Nth write call (`put`, `append`, `commit`; counting from 1) fails with a backend error
    /// before it reaches the inner store.
    pub fail_nth_write: Option<usize>,
    /// The bodies of `put` and `append` fail with an I/O error after this many bytes, as a client
    /// that disconnects part-way would: the inner store sees a body that breaks.
    pub cut_bodies_after: Option<u64>,
    /// Read streams from `get` fail after this many bytes, as a broken disk or connection would.
    pub cut_reads_after: Option<u64>,
}

/// Wraps a store and injects [`Faults`] into what passes through.
#[derive(Debug, Clone)]
pub struct FaultyStore<S> {
    inner: S,
    faults: Faults,
    writes: Arc<AtomicUsize>,
}

impl<S> FaultyStore<S> {
    /// Wraps `inner`.
    pub fn new(inner: S, faults: Faults) -> Self {
        FaultyStore {
            inner,
            faults,
            writes: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    fn write(&self, store: &'static str) -> Result<()> {
        let n = self.writes.fetch_add(1, Ordering::SeqCst) + 1;
        if self.faults.fail_nth_write == Some(n) {
            return Err(Error::backend(
                store,
                format!("injected failure of write #{n}"),
            ));
        }
        Ok(())
    }

    fn body(&self, body: ByteStream) -> ByteStream {
        match self.faults.cut_bodies_after {
            None => body,
            Some(limit) => cut(body, limit, || {
                std::io::Error::new(std::io::ErrorKind::ConnectionReset, "injected body cut")
            }),
        }
    }
}

/// Passes at most `limit` bytes of `stream`, then fails with `error()` and ends.
fn cut<E: Send + 'static>(
    stream: futures::stream::BoxStream<'static, Result<bytes::Bytes, E>>,
    limit: u64,
    error: impl Fn() -> E + Send + 'static,
) -> futures::stream::BoxStream<'static, Result<bytes::Bytes, E>> {
    let mut passed = 0u64;
    let mut done = false;
    Box::pin(stream.scan((), move |(), item| {
        let next = if done {
            None
        } else {
            Some(match item {
                Ok(chunk) if passed + chunk.len() as u64 > limit => {
                    done = true;
                    Err(error())
                }
                Ok(chunk) => {
                    passed += chunk.len() as u64;
                    Ok(chunk)
                }
                Err(e) => Err(e),
            })
        };
        futures::future::ready(next)
    }))
}

#[async_trait]
impl<S: BlobStore> BlobStore for FaultyStore<S> {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    async fn stat(&self, digest: &Digest) -> Result<u64> {
        self.inner.stat(digest).await
    }

    async fn get(&self, digest: &Digest, range: Option<ByteRange>) -> Result<BlobRead> {
        let mut read = self.inner.get(digest, range).await?;
        if let Some(limit) = self.faults.cut_reads_after {
            let store = self.inner.name();
            read.body = cut(read.body, limit, move || {
                Error::backend(store, "injected read cut")
            });
        }
        Ok(read)
    }

    async fn put(&self, digest: &Digest, body: ByteStream) -> Result<u64> {
        self.write(self.inner.name())?;
        self.inner.put(digest, self.body(body)).await
    }

    async fn delete(&self, digest: &Digest) -> Result<()> {
        self.inner.delete(digest).await
    }

    async fn list(&self) -> Result<Vec<BlobInfo>> {
        self.inner.list().await
    }

    async fn start_upload(&self, algorithm: Algorithm) -> Result<UploadId> {
        self.inner.start_upload(algorithm).await
    }

    async fn append(&self, id: &UploadId, offset: u64, body: ByteStream) -> Result<u64> {
        self.write(self.inner.name())?;
        self.inner.append(id, offset, self.body(body)).await
    }

    async fn upload_status(&self, id: &UploadId) -> Result<UploadInfo> {
        self.inner.upload_status(id).await
    }

    async fn commit(&self, id: &UploadId, expected: &Digest) -> Result<u64> {
        self.write(self.inner.name())?;
        self.inner.commit(id, expected).await
    }

    async fn abort(&self, id: &UploadId) -> Result<()> {
        self.inner.abort(id).await
    }

    async fn list_uploads(&self, idle_since: SystemTime) -> Result<Vec<UploadInfo>> {
        self.inner.list_uploads(idle_since).await
    }

    fn local_files(&self) -> Option<&dyn LocalFiles> {
        self.inner.local_files()
    }

    fn presigner(&self) -> Option<&dyn Presigner> {
        self.inner.presigner()
    }

    fn min_chunk(&self) -> Option<u64> {
        self.inner.min_chunk()
    }
}
