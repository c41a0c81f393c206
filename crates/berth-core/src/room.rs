//! How much a repository's quota has room for, while uploads stream in.
//!
//! The room left is the quota minus the usage its artifacts count minus the bytes its open
//! upload sessions hold (noted in metadata after each chunk). Bytes still streaming in are in
//! neither, so this node also counts them here per repository: a stream fails as soon as the
//! bytes streaming into its repository on this node would pass the room it was given, and the
//! blob store, whose appends are all or nothing, keeps none of it. Streams on other nodes are
//! counted once their chunk lands; the definitive check is the push's metadata transaction.
//!
//! A refused body is still read to its end, up to [`DRAIN_LIMIT`], and dropped: an HTTP/1 client
//! such as skopeo reads the answer only once it has sent its body, so answering and closing
//! early would show it a broken pipe instead of the quota's message. Nothing of it is stored;
//! the caller is one who may push here (refusals of anyone else come before the body).

use std::collections::HashMap;

/// How much of a refused body is read and dropped, at most, before the refusal is answered.
pub(crate) const DRAIN_LIMIT: u64 = 1 << 30;

/// Reads `body` to its end (at most [`DRAIN_LIMIT`] bytes) and drops it.
pub(crate) async fn discard(mut body: ByteStream) {
    let mut read = 0u64;
    while let Some(Ok(chunk)) = body.next().await {
        read += chunk.len() as u64;
        if read > DRAIN_LIMIT {
            break;
        }
    }
}
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use berth_meta::RepositoryId;
use berth_storage::ByteStream;
use bytes::Bytes;
use futures::{Stream, StreamExt as _};

/// Bytes streaming into each repository on this node now.
#[derive(Debug, Default)]
pub(crate) struct InFlight {
    bytes: Mutex<HashMap<RepositoryId, u64>>,
}

/// Set when a stream was cut for want of room.
#[derive(Debug, Default)]
pub(crate) struct Tripped(Mutex<Option<Overrun>>);

/// Why a stream was cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Overrun {
    /// The bytes the stream had tried to bring.
    pub(crate) attempted: u64,
    /// The bytes other streams had in flight into the repository at that moment.
    pub(crate) others: u64,
}

impl Tripped {
    /// Why the stream was cut, if it was.
    pub(crate) fn overrun(&self) -> Option<Overrun> {
        *self.0.lock().expect("tripped lock")
    }
}

impl InFlight {
    /// `body`, counted against `room` with everything else streaming into `repository` here.
    pub(crate) fn limit(
        self: &Arc<Self>,
        repository: RepositoryId,
        room: u64,
        body: ByteStream,
    ) -> (ByteStream, Arc<Tripped>) {
        let tripped = Arc::new(Tripped::default());
        let stream = Limited {
            inner: body,
            gate: self.clone(),
            repository,
            room,
            counted: 0,
            drained: 0,
            tripped: tripped.clone(),
        };
        (stream.boxed(), tripped)
    }

    /// Counts `n` more bytes into `repository` if they fit in `room`; else `Err` with what is
    /// in flight now.
    fn add(&self, repository: RepositoryId, n: u64, room: u64) -> Result<(), u64> {
        let mut bytes = self.bytes.lock().expect("in-flight lock");
        let now = bytes.entry(repository).or_insert(0);
        if now.saturating_add(n) > room {
            return Err(*now);
        }
        *now += n;
        Ok(())
    }

    fn release(&self, repository: RepositoryId, n: u64) {
        let mut bytes = self.bytes.lock().expect("in-flight lock");
        if let Some(now) = bytes.get_mut(&repository) {
            *now = now.saturating_sub(n);
            if *now == 0 {
                bytes.remove(&repository);
            }
        }
    }

    /// Bytes streaming into `repository` on this node now.
    #[cfg(test)]
    pub(crate) fn current(&self, repository: RepositoryId) -> u64 {
        let bytes = self.bytes.lock().expect("in-flight lock");
        bytes.get(&repository).copied().unwrap_or(0)
    }
}

struct Limited {
    inner: ByteStream,
    gate: Arc<InFlight>,
    repository: RepositoryId,
    room: u64,
    counted: u64,
    /// Bytes read and dropped since the stream was cut.
    drained: u64,
    tripped: Arc<Tripped>,
}

impl Limited {
    /// Drops what is left of the body (see the module doc), then fails.
    fn drain(&mut self, cx: &mut Context<'_>) -> Poll<Option<std::io::Result<Bytes>>> {
        while self.drained <= DRAIN_LIMIT {
            match self.inner.poll_next_unpin(cx) {
                Poll::Ready(Some(Ok(chunk))) => self.drained += chunk.len() as u64,
                Poll::Ready(_) => break,
                Poll::Pending => return Poll::Pending,
            }
        }
        self.drained = u64::MAX; // failed once: the stream ends after
        let attempted = self.tripped.overrun().map_or(0, |o| o.attempted);
        Poll::Ready(Some(Err(std::io::Error::other(format!(
            "the repository's quota has no room for {attempted} more bytes"
        )))))
    }
}

impl Stream for Limited {
    type Item = std::io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.drained == u64::MAX {
            return Poll::Ready(None);
        }
        if self.tripped.overrun().is_some() {
            return self.drain(cx);
        }
        let chunk = match self.inner.poll_next_unpin(cx) {
            Poll::Ready(Some(Ok(chunk))) => chunk,
            other => return other,
        };
        let n = chunk.len() as u64;
        let (repository, room) = (self.repository, self.room);
        let in_flight = match self.gate.add(repository, n, room) {
            Ok(()) => {
                self.counted += n;
                return Poll::Ready(Some(Ok(chunk)));
            }
            Err(in_flight) => in_flight,
        };
        let attempted = self.counted + n;
        *self.tripped.0.lock().expect("tripped lock") = Some(Overrun {
            attempted,
            others: in_flight.saturating_sub(self.counted),
        });
        self.drain(cx)
    }
}

impl Drop for Limited {
    fn drop(&mut self) {
        self.gate.release(self.repository, self.counted);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(chunks: &[usize]) -> ByteStream {
        let chunks: Vec<std::io::Result<Bytes>> = chunks
            .iter()
            .map(|n| Ok(Bytes::from(vec![0u8; *n])))
            .collect();
        futures::stream::iter(chunks).boxed()
    }

    #[tokio::test]
    async fn streams_into_one_repository_share_its_room() {
        let gate = Arc::new(InFlight::default());
        let (team, other) = (RepositoryId(1), RepositoryId(2));
        let (mut a, a_tripped) = gate.limit(team, 10, body(&[6, 6]));
        assert_eq!(a.next().await.unwrap().unwrap().len(), 6);
        assert_eq!(gate.current(team), 6);
        // Another stream into the same repository sees the 6 bytes in flight.
        let (mut b, b_tripped) = gate.limit(team, 10, body(&[5, 100, 100]));
        assert!(
            b.next().await.unwrap().is_err(),
            "the rest is read and dropped"
        );
        assert_eq!(
            b_tripped.overrun(),
            Some(Overrun {
                attempted: 5,
                others: 6
            })
        );
        assert!(b.next().await.is_none(), "a cut stream ends");
        // Another repository has its own room.
        let (mut c, _) = gate.limit(other, 10, body(&[10]));
        assert_eq!(c.next().await.unwrap().unwrap().len(), 10);
        assert!(a.next().await.unwrap().is_err(), "6 + 6 > 10");
        assert_eq!(
            a_tripped.overrun(),
            Some(Overrun {
                attempted: 12,
                others: 0
            })
        );
        drop((a, b, c));
        assert_eq!((gate.current(team), gate.current(other)), (0, 0));
    }
}
