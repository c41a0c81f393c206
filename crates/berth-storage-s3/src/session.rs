//! An upload session's persisted state, and its encoding in the `state` object.
//!
//! The state object is the session's single source of truth: an append takes effect exactly
//! when its new state object is written (one PUT, atomic on every S3 implementation), which is
//! what makes an append all-or-nothing. Encoding:
//!
//! ```text
//! [u32 big-endian: header length][header: JSON][tail: the bytes not yet sent as a part]
//! ```
//!
//! The tail rides in the same object because it must change atomically with the offset and the
//! hash state; it stays below one part size (5 MiB by default), so rewriting it on each append
//! costs at most one part's worth of upload. The header comes first so that listing sessions can
//! read it with a short ranged GET and skip the tail.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use berth_model::{Algorithm, Hasher, HasherState};
use bytes::{BufMut as _, Bytes, BytesMut};
use serde::{Deserialize, Serialize};

/// A session's state.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    /// Bytes received so far (parts + tail).
    pub(crate) offset: u64,
    pub(crate) started: SystemTime,
    pub(crate) last_activity: SystemTime,
    /// SHA-256 over every byte received, saved so another node continues it without re-reading.
    pub(crate) hasher: Hasher,
    /// The S3 multipart upload at the session's `data` key, once the first part was flushed.
    pub(crate) multipart: Option<Multipart>,
    /// The multipart upload was completed: `data` holds every byte and no more can be added.
    /// Only a commit with a non-SHA-256 digest (which must read the bytes back) leaves a session
    /// sealed without publishing it.
    pub(crate) sealed: bool,
    /// Received bytes not yet sent as a part: fewer than one part size.
    pub(crate) tail: Bytes,
}

/// The S3 multipart upload behind a session.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Multipart {
    /// The id S3 gave it.
    pub(crate) id: String,
    /// The e-tag of each flushed part, in order (part `i` is S3 part number `i + 1`).
    pub(crate) parts: Vec<String>,
}

#[derive(Serialize, Deserialize)]
struct Header {
    version: u32,
    offset: u64,
    started_ms: u64,
    last_activity_ms: u64,
    /// `HasherState::to_bytes`, base64.
    hash: String,
    multipart: Option<Multipart>,
    sealed: bool,
}

const VERSION: u32 = 1;

/// How many bytes to read to get the header of almost every session in one request (a header
/// grows with its part e-tags, about 40 bytes each).
pub(crate) const HEADER_PROBE: u64 = 64 * 1024;

/// Why a state object could not be decoded.
#[derive(Debug, thiserror::Error)]
#[error("corrupt upload session state: {0}")]
pub(crate) struct CorruptState(String);

impl Session {
    /// A session with no bytes yet, hashing with `algorithm`.
    pub(crate) fn new(now: SystemTime, algorithm: Algorithm) -> Self {
        Session {
            offset: 0,
            started: now,
            last_activity: now,
            hasher: Hasher::new(algorithm),
            multipart: None,
            sealed: false,
            tail: Bytes::new(),
        }
    }

    /// The state object's bytes.
    pub(crate) fn encode(&self) -> Bytes {
        let header = Header {
            version: VERSION,
            offset: self.offset,
            started_ms: millis(self.started),
            last_activity_ms: millis(self.last_activity),
            hash: BASE64.encode(self.hasher.state().to_bytes()),
            multipart: self.multipart.clone(),
            sealed: self.sealed,
        };
        let json = serde_json::to_vec(&header).expect("a header always serialises");
        let mut out = BytesMut::with_capacity(4 + json.len() + self.tail.len());
        out.put_u32(json.len() as u32);
        out.put_slice(&json);
        out.put_slice(&self.tail);
        out.freeze()
    }

    /// Decodes a state object. With `whole == false`, `bytes` may be a prefix of the object: the
    /// tail is then left empty, and `Ok(None)` means the header itself was cut short.
    pub(crate) fn decode(bytes: &Bytes, whole: bool) -> Result<Option<Self>, CorruptState> {
        let corrupt = |why: &str| CorruptState(why.to_owned());
        let Some(len) = bytes.get(..4) else {
            return Err(corrupt("shorter than its length field"));
        };
        let len = u32::from_be_bytes(len.try_into().expect("four bytes")) as usize;
        let Some(json) = bytes.get(4..4 + len) else {
            return if whole {
                Err(corrupt("header cut short"))
            } else {
                Ok(None)
            };
        };
        let header: Header =
            serde_json::from_slice(json).map_err(|e| CorruptState(e.to_string()))?;
        if header.version != VERSION {
            return Err(corrupt("unknown version"));
        }
        let hash = BASE64
            .decode(&header.hash)
            .map_err(|e| CorruptState(e.to_string()))?;
        let state = HasherState::from_bytes(&hash).map_err(|e| CorruptState(e.to_string()))?;
        if state.len() != header.offset {
            return Err(corrupt("hash state and offset disagree"));
        }
        let tail = if whole {
            bytes.slice(4 + len..)
        } else {
            Bytes::new()
        };
        Ok(Some(Session {
            offset: header.offset,
            started: from_millis(header.started_ms),
            last_activity: from_millis(header.last_activity_ms),
            hasher: Hasher::resume(state),
            multipart: header.multipart,
            sealed: header.sealed,
            tail,
        }))
    }
}

fn millis(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn from_millis(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_whole_and_by_header() {
        let mut session = Session::new(SystemTime::now(), Algorithm::Sha256);
        session.hasher.update(b"hello world");
        session.offset = 11;
        session.tail = Bytes::from_static(b"world");
        session.multipart = Some(Multipart {
            id: "mp".into(),
            parts: vec!["\"e1\"".into()],
        });
        let bytes = session.encode();
        let back = Session::decode(&bytes, true).unwrap().unwrap();
        assert_eq!(back.offset, 11);
        assert_eq!(back.tail, session.tail);
        assert_eq!(back.hasher.state(), session.hasher.state());
        assert_eq!(back.multipart.unwrap().parts, vec!["\"e1\"".to_owned()]);
        assert_eq!(millis(back.started), millis(session.started));

        let header_only = Session::decode(&bytes.slice(..bytes.len() - 5), false).unwrap();
        assert_eq!(header_only.unwrap().offset, 11);
        assert!(
            Session::decode(&bytes.slice(..10), false)
                .unwrap()
                .is_none()
        );
        assert!(Session::decode(&bytes.slice(..10), true).is_err());
    }
}
