//! Upload sessions on disk: the `state` file, locking, and recovery after a crash.
//!
//! # How a resumed session recovers its hash state
//!
//! Every successful append ends by replacing `state` (write `state.tmp`, rename) with the new
//! offset and the hash state saved by [`berth_model::Hasher`]: the SHA-256 chaining value, the
//! byte count and the unfinished block. Whoever continues the session (this process after a
//! restart, or another process on the same directory) restores that state and hashes only the new
//! bytes; nothing received earlier is read again.
//!
//! `data` can disagree with `state` only after a crash, in two ways:
//! - `data` is longer: an append was cut off (the process died, or the client went away) after
//!   some of its bytes reached the file but before `state` recorded them. The extra bytes are
//!   truncated away; the session is where its last complete append left it.
//! - `data` is shorter: the machine lost power before the page cache reached the disk (appends are
//!   not fsynced; commits are). The state is then rebuilt by hashing the bytes that did survive,
//!   once, and the session continues from there; the client learns the offset from the status.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read as _, Write as _};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use berth_model::{Algorithm, Hasher, HasherState, UploadId};

use crate::layout::Layout;

const MAGIC: &str = "berth-upload-state 1";

/// What `state` records.
#[derive(Debug, Clone)]
pub(crate) struct State {
    pub(crate) offset: u64,
    pub(crate) hasher: HasherState,
    pub(crate) started: SystemTime,
    pub(crate) last_activity: SystemTime,
}

impl State {
    pub(crate) fn new(algorithm: Algorithm) -> Self {
        let now = SystemTime::now();
        State {
            offset: 0,
            hasher: Hasher::new(algorithm).state().clone(),
            started: now,
            last_activity: now,
        }
    }

    fn encode(&self) -> String {
        let hash: String = self
            .hasher
            .to_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        format!(
            "{MAGIC}\noffset {}\nstarted {}\nactivity {}\nhash {hash}\n",
            self.offset,
            nanos(self.started),
            nanos(self.last_activity)
        )
    }

    fn decode(text: &str) -> Option<Self> {
        let mut lines = text.lines();
        if lines.next()? != MAGIC {
            return None;
        }
        let mut field = |name: &str| {
            lines
                .next()?
                .strip_prefix(name)?
                .strip_prefix(' ')
                .map(str::to_owned)
        };
        let offset = field("offset")?.parse().ok()?;
        let started = from_nanos(field("started")?.parse().ok()?);
        let last_activity = from_nanos(field("activity")?.parse().ok()?);
        let hex = field("hash")?;
        let bytes = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
            .collect::<Option<Vec<u8>>>()?;
        let hasher = HasherState::from_bytes(&bytes).ok()?;
        (hasher.len() == offset).then_some(State {
            offset,
            hasher,
            started,
            last_activity,
        })
    }
}

fn nanos(t: SystemTime) -> u128 {
    t.duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos()
}

fn from_nanos(n: u128) -> SystemTime {
    UNIX_EPOCH + Duration::from_nanos(u64::try_from(n).unwrap_or(u64::MAX))
}

fn corrupt(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("corrupt upload state: {what}"),
    )
}

/// Writes `state` atomically: a reader sees the old state or the new one, never a mix.
pub(crate) fn write_state(layout: &Layout, id: &UploadId, state: &State) -> io::Result<()> {
    let tmp = layout.state_tmp(id);
    let mut file = File::create(&tmp)?;
    file.write_all(state.encode().as_bytes())?;
    drop(file);
    fs::rename(tmp, layout.state(id))
}

/// Reads `state` without locking; `None` when the session does not exist.
pub(crate) fn read_state(layout: &Layout, id: &UploadId) -> io::Result<Option<State>> {
    match fs::read_to_string(layout.state(id)) {
        Ok(text) => State::decode(&text)
            .map(Some)
            .ok_or_else(|| corrupt("unreadable state file")),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Creates a session's directory, empty `data` and initial `state`.
pub(crate) fn create(layout: &Layout, id: &UploadId, algorithm: Algorithm) -> io::Result<()> {
    fs::create_dir_all(layout.session(id))?;
    File::create(layout.data(id))?;
    write_state(layout, id, &State::new(algorithm))
}

/// A session opened for exclusive use: `data` locked, `state` read and reconciled with `data`.
pub(crate) struct Locked {
    pub(crate) data: File,
    pub(crate) state: State,
}

/// Opens and locks a session, blocking while another handle holds it; `None` when the session
/// does not exist (never started, or committed or aborted, possibly while we waited).
pub(crate) fn lock(layout: &Layout, id: &UploadId) -> io::Result<Option<Locked>> {
    let data = match OpenOptions::new()
        .read(true)
        .write(true)
        .open(layout.data(id))
    {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    data.lock()?;
    // Whoever held the lock may have ended the session: check that it still exists.
    let Some(mut state) = read_state(layout, id)? else {
        return Ok(None);
    };
    if !layout.data(id).exists() {
        return Ok(None);
    }
    let len = data.metadata()?.len();
    if len > state.offset {
        data.set_len(state.offset)?;
    } else if len < state.offset {
        state.hasher = rehash(&data, state.hasher.algorithm())?.state().clone();
        state.offset = len;
        write_state(layout, id, &state)?;
    }
    Ok(Some(Locked { data, state }))
}

/// Hashes a whole file from its start (crash recovery, and commits under another algorithm).
pub(crate) fn rehash(mut file: &File, algorithm: Algorithm) -> io::Result<Hasher> {
    use std::io::Seek as _;
    file.seek(io::SeekFrom::Start(0))?;
    let mut hasher = Hasher::new(algorithm);
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            return Ok(hasher);
        }
        hasher.update(&buf[..n]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_and_rejects_garbage() {
        let mut hasher = Hasher::new(Algorithm::Sha256);
        hasher.update(&[1u8; 1000]);
        let state = State {
            offset: 1000,
            hasher: hasher.state().clone(),
            ..State::new(Algorithm::Sha256)
        };
        let decoded = State::decode(&state.encode()).unwrap();
        assert_eq!(decoded.offset, 1000);
        assert_eq!(decoded.hasher, state.hasher);
        assert_eq!(nanos(decoded.started), nanos(state.started));
        assert!(State::decode("").is_none());
        assert!(State::decode(&state.encode().replace("offset 1000", "offset 999")).is_none());
        assert!(State::decode(&state.encode().replace("hash ", "hash zz")).is_none());
    }
}
