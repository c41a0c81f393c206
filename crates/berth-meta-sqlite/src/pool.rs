//! Connections: how they are opened, pooled, and used off the async runtime.
//!
//! A [`Pool`] is a fixed set of connections guarded by a semaphore with one permit per
//! connection. A call first waits for a permit *asynchronously* (so a queue of callers holds no
//! threads), then runs its closure on `spawn_blocking` with a connection taken from the set, and
//! puts it back even if the closure panics.

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use berth_meta::Result;
use rusqlite::{Connection, OpenFlags};
use tokio::sync::Semaphore;

use crate::error::{Res, backend};

/// How each connection is set up.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnectionSettings {
    /// How long a connection waits for another's lock before failing with `SQLITE_BUSY`.
    pub(crate) busy_timeout: Duration,
}

/// Opens the read-write connection. It also puts the file in WAL mode (a persistent setting of
/// the file), which lets readers run while a write is in progress.
pub(crate) fn open_writer(path: &Path, settings: ConnectionSettings) -> Res<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    // First, so that even switching to WAL waits for a handle that holds the lock.
    conn.busy_timeout(settings.busy_timeout)?;
    let mode: String =
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        // An in-memory or otherwise special database: nothing here would be safe without WAL's
        // concurrent readers, so refuse rather than misbehave under load.
        return Err(backend(format!(
            "{} cannot use WAL (journal_mode is {mode})",
            path.display()
        )));
    }
    // In WAL mode NORMAL still never corrupts the database; a power cut may lose the last
    // commits, which is the usual trade for not fsyncing every transaction.
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(conn)
}

/// Opens a read-only connection: a bug that writes through it fails instead of bypassing the
/// writer's transactions.
pub(crate) fn open_reader(
    path: &Path,
    settings: ConnectionSettings,
) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    // Readers rarely wait in WAL mode, but can during a checkpoint or recovery.
    conn.busy_timeout(settings.busy_timeout)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(conn)
}

/// A fixed set of connections used one call at a time each.
pub(crate) struct Pool {
    idle: Mutex<Vec<Connection>>,
    permits: Arc<Semaphore>,
    size: usize,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("size", &self.size)
            .field("available", &self.permits.available_permits())
            .finish()
    }
}

impl Pool {
    /// A pool of these connections.
    pub(crate) fn new(connections: Vec<Connection>) -> Self {
        let size = connections.len();
        Pool {
            idle: Mutex::new(connections),
            permits: Arc::new(Semaphore::new(size)),
            size,
        }
    }

    fn idle(&self) -> MutexGuard<'_, Vec<Connection>> {
        // The lock only guards pushes and pops of the list, which cannot be left half done.
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` on one of the pool's connections on a blocking thread.
    pub(crate) async fn run<T, F>(self: &Arc<Self>, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Res<T> + Send + 'static,
    {
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(backend)?;
        let pool = Arc::clone(self);
        let joined = tokio::task::spawn_blocking(move || {
            // Declared before the checkout so that it is released after the connection is back.
            let _permit = permit;
            let mut checkout = Checkout {
                conn: pool.idle().pop(),
                pool: &pool,
            };
            let conn = checkout
                .conn
                .as_mut()
                .ok_or_else(|| backend("connection pool is empty while a permit is held"))?;
            f(conn)
        })
        .await;
        match joined {
            Ok(result) => result.map_err(Into::into),
            Err(e) => Err(backend(e).into()),
        }
    }
}

/// A connection out of the pool; dropping it (also while unwinding) puts it back.
struct Checkout<'a> {
    conn: Option<Connection>,
    pool: &'a Pool,
}

impl Drop for Checkout<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            self.pool.idle().push(conn);
        }
    }
}
