//! Read buffers that go back to a pool when the response has sent them.
//!
//! A blob read hands 1 MiB chunks to the HTTP layer, which frees each once written. Allocated
//! afresh, those chunks come from whichever malloc arena the reading thread uses, and glibc
//! keeps the freed ones per arena: a few concurrent big downloads grew the process by tens of
//! MiB that never came back. Reusing a bounded set of buffers keeps memory to what is in
//! flight, and skips the page faults of fresh allocations.

use std::sync::{Arc, Mutex};

use bytes::Bytes;

/// Buffers kept for reuse; beyond this, returned buffers are freed.
const KEEP: usize = 16;

/// A pool of equally sized read buffers.
#[derive(Debug)]
pub(crate) struct Pool {
    size: usize,
    free: Mutex<Vec<Vec<u8>>>,
}

impl Pool {
    /// A pool of buffers of `size` bytes.
    pub(crate) fn new(size: usize) -> Arc<Self> {
        Arc::new(Pool {
            size,
            free: Mutex::new(Vec::new()),
        })
    }

    /// An empty buffer with room for the pool's size.
    pub(crate) fn take(&self) -> Vec<u8> {
        let reused = self.free.lock().expect("buffer pool lock").pop();
        reused.unwrap_or_else(|| Vec::with_capacity(self.size))
    }

    /// The filled `buffer` as `Bytes` that return it to the pool when dropped.
    pub(crate) fn share(self: &Arc<Self>, buffer: Vec<u8>) -> Bytes {
        Bytes::from_owner(Pooled {
            buffer,
            pool: self.clone(),
        })
    }

    fn give_back(&self, mut buffer: Vec<u8>) {
        if buffer.capacity() != self.size {
            return;
        }
        buffer.clear();
        let mut free = self.free.lock().expect("buffer pool lock");
        if free.len() < KEEP {
            free.push(buffer);
        }
    }
}

struct Pooled {
    buffer: Vec<u8>,
    pool: Arc<Pool>,
}

impl AsRef<[u8]> for Pooled {
    fn as_ref(&self) -> &[u8] {
        &self.buffer
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        self.pool.give_back(std::mem::take(&mut self.buffer));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_come_back_once_their_bytes_are_dropped() {
        let pool = Pool::new(8);
        let mut buffer = pool.take();
        buffer.extend_from_slice(b"abc");
        let pointer = buffer.as_ptr();
        let bytes = pool.share(buffer);
        let slice = bytes.slice(1..);
        assert_eq!(&bytes[..], b"abc");
        drop(bytes);
        // Still referenced by the slice: not back yet.
        assert_eq!(pool.free.lock().unwrap().len(), 0);
        assert_eq!(&slice[..], b"bc");
        drop(slice);
        let again = pool.take();
        assert_eq!(again.as_ptr(), pointer);
        assert!(again.is_empty() && again.capacity() == 8);
    }
}
