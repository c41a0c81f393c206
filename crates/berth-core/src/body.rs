//! Request bodies as the engine takes them, and the bound on the bytes that all requests
//! together hold in memory.
//!
//! Blob bodies stream to storage and never sit in memory whole. Manifests and management-API
//! JSON must be read whole before they can be parsed; a [`MemoryBudget`] caps the bytes of all
//! such bodies in flight at once, so many slow or large requests together cannot grow the
//! process without bound: past the cap a request is refused ([`ReadError::Busy`], a 429 for the
//! client) instead of waiting in memory.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use berth_storage::ByteStream;
use bytes::{Bytes, BytesMut};
use futures::StreamExt as _;

/// A body as a host's HTTP server hands it over: any [`http_body::Body`] of [`Bytes`] (hyper's,
/// axum's, a test's), named once so that every surface takes the same one. It is only the
/// streaming trait; no HTTP semantics enter the engine with it.
pub trait HttpBody:
    http_body::Body<Data = Bytes, Error: Into<Box<dyn std::error::Error + Send + Sync>>>
    + Send
    + 'static
{
}

impl<B> HttpBody for B
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
}
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// A request body: a stream of bytes, and its length when the request declared one
/// (`Content-Length`), so that limits are checked before a byte is read.
pub struct RequestBody {
    stream: ByteStream,
    length: Option<u64>,
}

impl std::fmt::Debug for RequestBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestBody")
            .field("length", &self.length)
            .finish_non_exhaustive()
    }
}

impl RequestBody {
    /// A body of `length` bytes if known; the stream may still end early or run long (the
    /// protocol layer, which framed it, fails the stream then).
    pub fn new(stream: ByteStream, length: Option<u64>) -> Self {
        RequestBody { stream, length }
    }

    /// An HTTP request body, declared to be `length` bytes when the request says so
    /// (`Content-Length`): its data frames, with trailers dropped.
    pub fn from_http(body: impl HttpBody, length: Option<u64>) -> Self {
        use futures::TryStreamExt as _;
        let stream = http_body_util::BodyStream::new(body)
            .map_err(|e| std::io::Error::other(e.into()))
            .try_filter_map(|frame| futures::future::ready(Ok(frame.into_data().ok())));
        RequestBody::new(Box::pin(stream), length)
    }

    /// A body already in memory.
    pub fn from_bytes(bytes: impl Into<Bytes>) -> Self {
        let bytes = bytes.into();
        let length = Some(bytes.len() as u64);
        RequestBody {
            stream: berth_storage::body_from(bytes),
            length,
        }
    }

    /// The declared length, if any.
    pub fn length(&self) -> Option<u64> {
        self.length
    }

    /// The bytes, as the blob store consumes them.
    pub fn into_stream(self) -> ByteStream {
        self.stream
    }
}

/// Why a body could not be read into memory.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// The body is larger than the limit for its kind.
    #[error("the body is larger than {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: u64,
    },
    /// The server holds as many request bodies in memory as it may; try again shortly.
    #[error("the server is busy reading other requests; try again in a moment")]
    Busy,
    /// The body failed part-way (the client went away, a timeout).
    #[error("the request body failed: {0}")]
    Body(#[source] std::io::Error),
}

/// A body read whole, holding its share of the [`MemoryBudget`] until dropped.
#[derive(Debug)]
pub struct Buffered {
    bytes: Bytes,
    _permit: OwnedSemaphorePermit,
}

impl Buffered {
    /// The bytes.
    pub fn bytes(&self) -> &Bytes {
        &self.bytes
    }
}

/// The bytes of bodies held in memory by all requests together.
#[derive(Debug, Clone)]
pub struct MemoryBudget {
    permits: Arc<Semaphore>,
    total: usize,
    refused: Arc<AtomicU64>,
}

impl MemoryBudget {
    /// A budget of `bytes` (at least 1 MiB).
    pub fn new(bytes: usize) -> Self {
        let total = bytes.clamp(1 << 20, Semaphore::MAX_PERMITS);
        MemoryBudget {
            permits: Arc::new(Semaphore::new(total)),
            total,
            refused: Arc::new(AtomicU64::new(0)),
        }
    }

    /// The whole budget in bytes.
    pub fn total(&self) -> usize {
        self.total
    }

    /// Bytes held by bodies in memory now.
    pub fn in_use(&self) -> usize {
        self.total - self.permits.available_permits()
    }

    /// Bodies refused so far because the budget was spent.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    fn take(&self, bytes: u64) -> Result<OwnedSemaphorePermit, ReadError> {
        u32::try_from(bytes)
            .ok()
            .and_then(|n| self.permits.clone().try_acquire_many_owned(n).ok())
            .ok_or_else(|| {
                self.refused.fetch_add(1, Ordering::Relaxed);
                ReadError::Busy
            })
    }

    /// Reads `body` into memory, up to `limit` bytes. A declared length over the limit is
    /// refused before anything is read, and its bytes are reserved up front; without one, each
    /// chunk reserves its bytes as it arrives. Either way a budget spent by other requests
    /// refuses this one ([`ReadError::Busy`]) rather than letting it wait in memory.
    pub async fn read(&self, body: RequestBody, limit: u64) -> Result<Buffered, ReadError> {
        if body.length.is_some_and(|n| n > limit) {
            return Err(ReadError::TooLarge { limit });
        }
        let mut permit = self.take(body.length.unwrap_or(0))?;
        let reserved = body.length;
        let mut stream = body.stream;
        let mut chunks: Vec<Bytes> = Vec::new();
        let mut total = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(ReadError::Body)?;
            let n = chunk.len() as u64;
            total += n;
            if total > limit {
                return Err(ReadError::TooLarge { limit });
            }
            match reserved {
                // The protocol layer ends a body at its declared length; more is its fault.
                Some(declared) if total > declared => return Err(ReadError::TooLarge { limit }),
                Some(_) => {}
                None => permit.merge(self.take(n)?),
            }
            if !chunk.is_empty() {
                chunks.push(chunk);
            }
        }
        let bytes = match chunks.len() {
            0 => Bytes::new(),
            1 => chunks.pop().expect("one chunk"),
            _ => {
                let mut all = BytesMut::with_capacity(total as usize);
                for chunk in &chunks {
                    all.extend_from_slice(chunk);
                }
                all.freeze()
            }
        };
        Ok(Buffered {
            bytes,
            _permit: permit,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunked(parts: &[&'static [u8]]) -> RequestBody {
        let parts: Vec<std::io::Result<Bytes>> =
            parts.iter().map(|p| Ok(Bytes::from_static(p))).collect();
        RequestBody::new(futures::stream::iter(parts).boxed(), None)
    }

    #[tokio::test]
    async fn bodies_are_read_whole_within_their_limit() {
        let budget = MemoryBudget::new(1 << 20);
        let read = budget.read(chunked(&[b"ab", b"", b"cd"]), 4).await.unwrap();
        assert_eq!(read.bytes().as_ref(), b"abcd");
        assert_eq!(budget.in_use(), 4);
        drop(read);
        assert_eq!(budget.in_use(), 0);
        assert!(matches!(
            budget.read(chunked(&[b"abc", b"de"]), 4).await,
            Err(ReadError::TooLarge { limit: 4 })
        ));
        assert!(matches!(
            budget.read(RequestBody::from_bytes(&b"abcde"[..]), 4).await,
            Err(ReadError::TooLarge { limit: 4 })
        ));
        assert_eq!(budget.in_use(), 0, "a refused body holds nothing");
    }

    #[tokio::test]
    async fn a_spent_budget_refuses_instead_of_growing() {
        let budget = MemoryBudget::new(1 << 20);
        let held = budget
            .read(RequestBody::from_bytes(vec![0u8; 1 << 20]), 2 << 20)
            .await
            .unwrap();
        // Declared: refused before reading. Undeclared: refused at the first chunk over.
        assert!(matches!(
            budget.read(RequestBody::from_bytes(&b"x"[..]), 10).await,
            Err(ReadError::Busy)
        ));
        assert!(matches!(
            budget.read(chunked(&[b"x"]), 10).await,
            Err(ReadError::Busy)
        ));
        assert_eq!(budget.refused(), 2);
        drop(held);
        assert_eq!(
            budget
                .read(chunked(&[b"x"]), 10)
                .await
                .unwrap()
                .bytes()
                .as_ref(),
            b"x"
        );
    }
}
