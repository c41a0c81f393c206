//! A `BlobStore` on the local filesystem: berth's embedded default for blobs.
//!
//! Blobs live in a content-addressed tree ([`layout`] documents it). Every write, chunked or
//! one-shot, goes through an upload session whose `data` file is on the same filesystem as the
//! blobs: the bytes are hashed while they arrive and written as they come, and a commit checks the
//! digest (no second read), fsyncs the file and renames it into place. A crash therefore never
//! exposes a partial blob, and an interrupted session is recovered as [`session`] explains.
//!
//! The async side of each write only hashes and forwards chunks; a blocking thread owns the file,
//! so hashing and disk writes overlap. Reads stream 512 KiB chunks read by a blocking thread
//! into pooled buffers the response sends as they are (one chunk queued, one being read), and
//! [`LocalFiles`] hands out the file itself for zero-copy serving.

mod buffers;
pub mod layout;
pub mod session;

use std::fs::{self, File};
use std::io::{self, Read as _, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use async_trait::async_trait;
use berth_model::{Algorithm, ByteRange, Digest, DigestMismatch, Hasher, HasherState, UploadId};
use berth_storage::{
    BlobInfo, BlobRead, BlobStore, ByteStream, Error, LocalFiles, Presigner, Result, UploadInfo,
    new_upload_id, resolve_range,
};
use bytes::Bytes;
use futures::StreamExt as _;
use tokio::sync::{mpsc, oneshot};

use crate::layout::Layout;
use crate::session::State;

const STORE: &str = "fs";
/// Size of the reads that feed a blob response.
const READ_CHUNK: usize = 512 << 10;

fn backend(e: io::Error) -> Error {
    Error::backend(STORE, e)
}

/// Runs blocking file work off the async runtime.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::backend(STORE, e))?
}

/// Blobs in a directory tree.
#[derive(Debug, Clone)]
pub struct FsStore {
    layout: Layout,
    read_buffers: Arc<buffers::Pool>,
}

impl FsStore {
    /// Opens (creating if needed) a store rooted at `root`.
    pub fn open(root: impl Into<PathBuf>) -> io::Result<Self> {
        let layout = Layout::new(root.into());
        fs::create_dir_all(layout.blobs())?;
        fs::create_dir_all(layout.uploads())?;
        Ok(FsStore {
            layout,
            read_buffers: buffers::Pool::new(READ_CHUNK),
        })
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        self.layout.root()
    }
}

/// What the async side of a write sends to the thread that owns the file.
enum Msg {
    Chunk(Bytes),
    /// The body ended; the hash state covering everything sent.
    Done(HasherState),
}

/// The blocking half of an append: locks the session, checks the offset, hands the hash state
/// over, writes what arrives, and records the new state, or truncates back if the body fails.
fn append_worker(
    layout: Layout,
    id: UploadId,
    offset: u64,
    ready: oneshot::Sender<HasherState>,
    mut rx: mpsc::Receiver<Msg>,
) -> Result<u64> {
    let mut session = session::lock(&layout, &id)
        .map_err(backend)?
        .ok_or(Error::UploadNotFound(id))?;
    if session.state.offset != offset {
        return Err(Error::InvalidOffset {
            id,
            current: session.state.offset,
            requested: offset,
        });
    }
    if ready.send(session.state.hasher.clone()).is_err() {
        return Err(Error::Body(io::Error::other("the append was cancelled")));
    }
    let file = &mut session.data;
    file.seek(SeekFrom::Start(offset)).map_err(backend)?;
    let mut written = 0u64;
    let mut writeback_from = offset;
    let rollback = |file: &File, error: Error| {
        // Bytes past the recorded offset would be truncated by the next lock anyway; doing it
        // now keeps the file honest for readers of `data`.
        let _ = file.set_len(offset);
        Err(error)
    };
    loop {
        match rx.blocking_recv() {
            Some(Msg::Chunk(chunk)) => {
                if let Err(e) = file.write_all(&chunk) {
                    return rollback(file, backend(e));
                }
                written += chunk.len() as u64;
                writeback_from = start_writeback(file, writeback_from, offset + written);
            }
            Some(Msg::Done(hasher)) => {
                let state = State {
                    offset: offset + written,
                    hasher,
                    last_activity: SystemTime::now(),
                    ..session.state
                };
                debug_assert_eq!(state.hasher.len(), state.offset);
                if let Err(e) = session::write_state(&layout, &id, &state) {
                    return rollback(file, backend(e));
                }
                return Ok(state.offset);
            }
            // The async side stopped: its body failed or the request was dropped.
            None => return rollback(file, Error::Body(io::Error::other("the body ended early"))),
        }
    }
}

/// Bytes written between two requests to start writing back.
const WRITEBACK_STEP: u64 = 8 << 20;

/// Asks the kernel to start writing `from..to` back to disk once that span reaches
/// [`WRITEBACK_STEP`], and returns where the next span starts. The commit's single fsync then
/// finds most pages clean instead of flushing a whole large blob at the end, so the disk works
/// while the rest streams in. `POSIX_FADV_DONTNEED` starts writeback of dirty pages without
/// waiting (and drops pages already clean, which a just-uploaded layer rarely needs); advice
/// that fails changes nothing but speed.
fn start_writeback(file: &File, from: u64, to: u64) -> u64 {
    if to - from < WRITEBACK_STEP {
        return from;
    }
    let _ = rustix::fs::fadvise(
        file,
        from,
        std::num::NonZeroU64::new(to - from),
        rustix::fs::Advice::DontNeed,
    );
    to
}

/// The blocking half of a commit.
fn commit_worker(layout: Layout, id: UploadId, expected: Digest) -> Result<u64> {
    let session = session::lock(&layout, &id)
        .map_err(backend)?
        .ok_or(Error::UploadNotFound(id))?;
    let actual = if expected.algorithm() == session.state.hasher.algorithm() {
        Hasher::resume(session.state.hasher.clone()).finish()
    } else {
        // Sessions hash with SHA-256 while streaming; another algorithm costs one read here.
        session::rehash(&session.data, expected.algorithm())
            .map_err(backend)?
            .finish()
    };
    if actual != expected {
        return Err(DigestMismatch { expected, actual }.into());
    }
    session.data.sync_all().map_err(backend)?;
    let target = layout.blob(&expected);
    let dir = target
        .parent()
        .ok_or_else(|| backend(io::Error::other("blob path has no parent")))?;
    fs::create_dir_all(dir).map_err(backend)?;
    fs::rename(layout.data(&id), &target).map_err(backend)?;
    // Make the rename durable before the session (the only other copy) disappears.
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(backend)?;
    fs::remove_dir_all(layout.session(&id)).map_err(backend)?;
    Ok(session.state.offset)
}

fn not_found_as(e: io::Error, digest: &Digest) -> Error {
    if e.kind() == io::ErrorKind::NotFound {
        Error::BlobNotFound(digest.clone())
    } else {
        backend(e)
    }
}

#[async_trait]
impl BlobStore for FsStore {
    fn name(&self) -> &'static str {
        STORE
    }

    async fn stat(&self, digest: &Digest) -> Result<u64> {
        let meta = tokio::fs::metadata(self.layout.blob(digest))
            .await
            .map_err(|e| not_found_as(e, digest))?;
        Ok(meta.len())
    }

    async fn get(&self, digest: &Digest, range: Option<ByteRange>) -> Result<BlobRead> {
        let path = self.layout.blob(digest);
        let digest = digest.clone();
        let (tx, mut rx) = mpsc::channel::<Result<Bytes>>(1);
        let pool = self.read_buffers.clone();
        let (head_tx, head_rx) = oneshot::channel::<Result<(u64, std::ops::Range<u64>)>>();
        // One blocking task opens, answers with the size, then reads chunk after chunk.
        tokio::task::spawn_blocking(move || {
            let opened = File::open(&path).and_then(|f| f.metadata().map(|m| (f, m.len())));
            let (mut file, size) = match opened {
                Ok(ok) => ok,
                Err(e) => return drop(head_tx.send(Err(not_found_as(e, &digest)))),
            };
            let range = match resolve_range(range, size) {
                Ok(range) => range,
                Err(e) => return drop(head_tx.send(Err(e))),
            };
            if head_tx.send(Ok((size, range.clone()))).is_err() {
                return;
            }
            if let Err(e) = file.seek(SeekFrom::Start(range.start)) {
                return drop(tx.blocking_send(Err(backend(e))));
            }
            let mut remaining = range.end - range.start;
            while remaining > 0 {
                let n = remaining.min(READ_CHUNK as u64);
                let mut buf = pool.take();
                // `read_to_end` fills the spare capacity without zeroing it first.
                match (&mut file).take(n).read_to_end(&mut buf) {
                    Ok(read) if read as u64 == n => {}
                    Ok(_) => {
                        let e = io::Error::new(io::ErrorKind::UnexpectedEof, "blob file shrank");
                        return drop(tx.blocking_send(Err(backend(e))));
                    }
                    Err(e) => return drop(tx.blocking_send(Err(backend(e)))),
                }
                remaining -= n;
                if tx.blocking_send(Ok(pool.share(buf))).is_err() {
                    return; // The reader went away.
                }
            }
        });
        let (size, range) = head_rx.await.map_err(|e| Error::backend(STORE, e))??;
        let body = futures::stream::poll_fn(move |cx| rx.poll_recv(cx));
        Ok(BlobRead {
            size,
            range,
            body: Box::pin(body),
        })
    }

    async fn put(&self, digest: &Digest, body: ByteStream) -> Result<u64> {
        let id = self.start_upload(berth_model::Algorithm::Sha256).await?;
        let result = async {
            self.append(&id, 0, body).await?;
            self.commit(&id, digest).await
        }
        .await;
        if result.is_err() {
            // Leave no trace of a failed put; the session may be gone already.
            let _ = self.abort(&id).await;
        }
        result
    }

    async fn delete(&self, digest: &Digest) -> Result<()> {
        match tokio::fs::remove_file(self.layout.blob(digest)).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(backend(e)),
        }
    }

    async fn list(&self) -> Result<Vec<BlobInfo>> {
        let blobs = self.layout.blobs();
        blocking(move || list_blobs(&blobs).map_err(backend)).await
    }

    async fn start_upload(&self, algorithm: Algorithm) -> Result<UploadId> {
        let layout = self.layout.clone();
        blocking(move || {
            let id = new_upload_id();
            session::create(&layout, &id, algorithm).map_err(backend)?;
            Ok(id)
        })
        .await
    }

    async fn append(&self, id: &UploadId, offset: u64, mut body: ByteStream) -> Result<u64> {
        let (tx, rx) = mpsc::channel(4);
        let (ready_tx, ready_rx) = oneshot::channel();
        let layout = self.layout.clone();
        let id = *id;
        let worker =
            tokio::task::spawn_blocking(move || append_worker(layout, id, offset, ready_tx, rx));
        let worker_result = |joined: std::result::Result<Result<u64>, tokio::task::JoinError>| {
            joined.map_err(|e| Error::backend(STORE, e))?
        };
        // The worker refuses (unknown session, wrong offset) before taking any byte.
        let Ok(state) = ready_rx.await else {
            return worker_result(worker.await);
        };
        // Hash here while the worker writes: the two overlap.
        let mut hasher = Hasher::resume(state);
        while let Some(chunk) = body.next().await {
            match chunk {
                Ok(chunk) => {
                    hasher.update(&chunk);
                    if tx.send(Msg::Chunk(chunk)).await.is_err() {
                        return worker_result(worker.await);
                    }
                }
                Err(e) => {
                    drop(tx);
                    let _ = worker.await;
                    return Err(Error::Body(e));
                }
            }
        }
        let _ = tx.send(Msg::Done(hasher.state().clone())).await;
        worker_result(worker.await)
    }

    async fn upload_status(&self, id: &UploadId) -> Result<UploadInfo> {
        let layout = self.layout.clone();
        let id = *id;
        blocking(move || {
            // Locking reconciles a session a crash left behind before its offset is reported.
            let session = session::lock(&layout, &id)
                .map_err(backend)?
                .ok_or(Error::UploadNotFound(id))?;
            Ok(info(id, &session.state))
        })
        .await
    }

    async fn commit(&self, id: &UploadId, expected: &Digest) -> Result<u64> {
        let (layout, id, expected) = (self.layout.clone(), *id, expected.clone());
        blocking(move || commit_worker(layout, id, expected)).await
    }

    async fn abort(&self, id: &UploadId) -> Result<()> {
        let layout = self.layout.clone();
        let id = *id;
        blocking(move || {
            let locked = session::lock(&layout, &id).map_err(backend)?;
            let dir = layout.session(&id);
            // A session directory without its files is what a crash during start or commit leaves:
            // aborting it is how cleanup removes it.
            if locked.is_none() && !dir.exists() {
                return Err(Error::UploadNotFound(id));
            }
            fs::remove_dir_all(dir).map_err(backend)
        })
        .await
    }

    async fn list_uploads(&self, idle_since: SystemTime) -> Result<Vec<UploadInfo>> {
        let layout = self.layout.clone();
        blocking(move || list_sessions(&layout, idle_since).map_err(backend)).await
    }

    fn local_files(&self) -> Option<&dyn LocalFiles> {
        Some(self)
    }

    fn presigner(&self) -> Option<&dyn Presigner> {
        None
    }

    fn min_chunk(&self) -> Option<u64> {
        None
    }
}

#[async_trait]
impl LocalFiles for FsStore {
    async fn open(&self, digest: &Digest) -> Result<File> {
        let path = self.layout.blob(digest);
        let digest = digest.clone();
        blocking(move || File::open(path).map_err(|e| not_found_as(e, &digest))).await
    }
}

fn info(id: UploadId, state: &State) -> UploadInfo {
    UploadInfo {
        id,
        offset: state.offset,
        started: state.started,
        last_activity: state.last_activity,
    }
}

fn list_blobs(blobs: &Path) -> io::Result<Vec<BlobInfo>> {
    let mut out = Vec::new();
    for algorithm in [Algorithm::Sha256, Algorithm::Sha512] {
        let dir = blobs.join(algorithm.as_str());
        let Ok(prefixes) = fs::read_dir(&dir) else {
            continue;
        };
        for prefix in prefixes {
            let entries = match fs::read_dir(prefix?.path()) {
                Ok(entries) => entries,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            for entry in entries {
                let entry = entry?;
                let name = entry.file_name();
                // Anything that is not a well-formed digest is not a blob of ours.
                let Ok(digest) = Digest::parse(&format!("{algorithm}:{}", name.to_string_lossy()))
                else {
                    continue;
                };
                // A blob deleted while we walk is simply not listed.
                let meta = match entry.metadata() {
                    Ok(meta) => meta,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(e),
                };
                out.push(BlobInfo {
                    digest,
                    size: meta.len(),
                    modified: meta.modified()?,
                });
            }
        }
    }
    Ok(out)
}

fn list_sessions(layout: &Layout, idle_since: SystemTime) -> io::Result<Vec<UploadInfo>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(layout.uploads())? {
        let entry = entry?;
        let Ok(id) = UploadId::parse(&entry.file_name().to_string_lossy()) else {
            continue;
        };
        match session::read_state(layout, &id) {
            Ok(Some(state)) if state.last_activity < idle_since => out.push(info(id, &state)),
            Ok(Some(_)) => {}
            // A directory without a readable state is being created, or is the remains of a
            // crash: its own modification time says how long it has been idle.
            Ok(None) | Err(_) => {
                // A session committed or aborted while we walk is simply not listed.
                let modified = match entry.metadata().and_then(|m| m.modified()) {
                    Ok(modified) => modified,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(e),
                };
                if modified < idle_since {
                    out.push(UploadInfo {
                        id,
                        offset: 0,
                        started: modified,
                        last_activity: modified,
                    });
                }
            }
        }
    }
    Ok(out)
}
