//! The concrete backends a configuration names: the only place that does; and the keys kept in
//! the data directory (`token.key`, `sealing.key`) when none is configured.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use berth_core::sealing::SealingKey;
use berth_core::{Registry, RegistryConfig};
use berth_meta::MetadataStore;
use berth_meta_postgres::{PostgresMetadata, PostgresOptions};
use berth_meta_sqlite::SqliteMetadata;
use berth_storage::BlobStore;
use berth_storage_fs::FsStore;
use berth_storage_s3::{S3Config, S3Store};
use berth_v2::token::TokenKey;

use crate::config::Config;

/// Opens the metadata store: PostgreSQL when configured, else SQLite in the data directory.
pub(crate) async fn metadata(config: &Config) -> Result<Arc<dyn MetadataStore>, String> {
    match &config.metadata.postgres_url {
        Some(url) => {
            let mut options = PostgresOptions::default();
            if let Some(n) = config.metadata.max_connections {
                options.max_connections = n;
            }
            let store = PostgresMetadata::connect(url, options)
                .await
                .map_err(|e| format!("cannot open PostgreSQL metadata: {e}"))?;
            Ok(Arc::new(store))
        }
        None => {
            ensure_dir(&config.data_dir)?;
            let path = config.data_dir.join("berth.db");
            private_file(&path)?;
            let store = SqliteMetadata::open(&path)
                .await
                .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
            Ok(Arc::new(store))
        }
    }
}

/// Opens the blob store: S3 when configured, else files in the data directory.
pub(crate) fn blobs(config: &Config) -> Result<Arc<dyn BlobStore>, String> {
    match &config.storage.s3 {
        Some(s3) => {
            let mut c = S3Config::new(&s3.bucket, &s3.access_key, &s3.secret_key);
            c.endpoint = s3.endpoint.clone();
            c.allow_http = s3
                .endpoint
                .as_deref()
                .is_some_and(|e| e.starts_with("http://"));
            if let Some(region) = &s3.region {
                c.region = region.clone();
            }
            if let Some(prefix) = &s3.prefix {
                c.prefix = prefix.clone();
            }
            c.virtual_hosted_style = s3.virtual_hosted_style.unwrap_or(false);
            let store = S3Store::new(c).map_err(|e| format!("cannot open S3 storage: {e}"))?;
            Ok(Arc::new(store))
        }
        None => {
            let root = config.data_dir.join("blobs");
            ensure_dir(&root)?;
            let store = FsStore::open(&root)
                .map_err(|e| format!("cannot open blob directory {}: {e}", root.display()))?;
            Ok(Arc::new(store))
        }
    }
}

/// Refuses to run an admin command against a data directory that holds no berth store (a
/// mistyped `--data-dir`, or a command run from another directory), where opening it would
/// silently create an empty one and report that it holds nothing. `serve` creates the store.
pub(crate) fn require_store(config: &Config) -> Result<(), String> {
    if config.metadata.postgres_url.is_some() {
        return Ok(());
    }
    let db = config.data_dir.join("berth.db");
    if db.exists() {
        return Ok(());
    }
    Err(format!(
        "no berth store in {} (it has no berth.db): give the data directory of your server with \
         --data-dir or BERTH_DATA_DIR; `berth serve` creates one",
        config.data_dir.display()
    ))
}

/// `berth admin backup`: a consistent copy of the embedded SQLite store at `dest`, taken while
/// a server may be using it (`SqliteMetadata::backup_to`); returns the database it copied.
/// PostgreSQL is refused: pg_dump is its online backup.
pub(crate) async fn backup_metadata(config: &Config, dest: &Path) -> Result<PathBuf, String> {
    if config.metadata.postgres_url.is_some() {
        return Err(
            "the metadata store is PostgreSQL, which `berth admin backup` does not copy: \
                    back it up with pg_dump (e.g. `pg_dump --format=custom --file=berth.dump \
                    \"$BERTH_POSTGRES_URL\"`), as the README's \"Backups\" says"
                .into(),
        );
    }
    require_store(config)?;
    let db = config.data_dir.join("berth.db");
    let store = SqliteMetadata::open(&db)
        .await
        .map_err(|e| format!("cannot open {}: {e}", db.display()))?;
    store
        .backup_to(dest)
        .await
        .map_err(|e| format!("cannot back up {} to {}: {e}", db.display(), dest.display()))?;
    Ok(db)
}

/// Holds the data directory for one `serve`: a second one on the same directory (whose store
/// is SQLite or files, which two servers must not share) refuses to start, naming the first.
/// The lock is the file's `flock`, released by the kernel when the process ends, however it
/// ends; the file keeps the holder's pid for the message.
pub(crate) fn lock_data_dir(config: &Config) -> Result<Option<std::fs::File>, String> {
    use std::io::{Read as _, Seek as _, Write as _};
    if config.metadata.postgres_url.is_some() && config.storage.s3.is_some() {
        return Ok(None);
    }
    ensure_dir(&config.data_dir)?;
    let path = config.data_dir.join("serve.lock");
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => {
            let pid = std::process::id();
            file.set_len(0)
                .and_then(|()| file.rewind())
                .and_then(|()| writeln!(file, "{pid}"))
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            Ok(Some(file))
        }
        Err(rustix::io::Errno::WOULDBLOCK) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = match holder.trim() {
                "" => String::new(),
                pid => format!(" (pid {pid})"),
            };
            Err(format!(
                "another berth serve{holder} is using {}; stop it first, or give this one \
                 another --data-dir",
                config.data_dir.display()
            ))
        }
        Err(e) => Err(format!("cannot lock {}: {e}", path.display())),
    }
}

/// The engine over the configured backends.
pub(crate) async fn registry(config: &Config) -> Result<Arc<Registry>, String> {
    let meta = metadata(config).await?;
    let blobs = blobs(config)?;
    let engine = RegistryConfig {
        max_manifest_size: config.limits.max_manifest_bytes,
        pull_flush_interval: config.stats.flush_interval.get(),
        gc_grace: config.gc.grace.get(),
        gc_interval: config.gc.interval.get(),
        upload_idle_limit: config.limits.upload_idle_timeout.get(),
        max_open_uploads: config.limits.max_open_uploads,
        max_buffered_bytes: usize::try_from(config.limits.max_buffered_bytes).unwrap_or(usize::MAX),
        proxy_tag_check: config.proxy.tag_check.get(),
        proxy_keep_unpulled: config.proxy.keep_unpulled.get(),
        replication_concurrency: config.replication.concurrency.max(1),
        replication_executions: config.replication.executions.max(1),
        replication_lease: config.replication.lease.get(),
        spool_dir: spool_dir(config)?,
        sealing_key: sealing_key(config)?,
        ..RegistryConfig::default()
    };
    Ok(Arc::new(Registry::new(blobs, meta, engine)))
}

/// Where blobs on their way from a proxy repository's upstream are spooled: unnamed files (they
/// vanish with the process, crash included) in `spool/` of the data directory when there is one
/// (on the same disk as the store rather than a small `/tmp`), else the system's temporary
/// directory (a node on PostgreSQL and S3 may have no data directory).
fn spool_dir(config: &Config) -> Result<Option<std::path::PathBuf>, String> {
    if !config.data_dir.is_dir() {
        return Ok(None);
    }
    let dir = config.data_dir.join("spool");
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    Ok(Some(dir))
}

/// The token signing key: configured, or kept in `token.key` in the data directory (made on
/// first use, readable by its owner only). Console sessions are signed with a key derived from
/// it.
pub(crate) fn token_key(config: &Config) -> Result<Vec<u8>, String> {
    let key = read_token_key(config)?;
    // Checks the length.
    TokenKey::new(key.clone())?;
    Ok(key)
}

fn read_token_key(config: &Config) -> Result<Vec<u8>, String> {
    match &config.auth.token_key {
        Some(key) => Ok(key.as_bytes().to_vec()),
        None => key_file(config, "token.key"),
    }
}

/// The key that seals remote registries' passwords: configured (`auth.sealing_key`), or kept
/// in `sealing.key` in the data directory (made on first use, readable by its owner only).
/// Passwords sealed under another key do not open: nodes sharing a store share it, and a
/// restore needs it.
pub(crate) fn sealing_key(config: &Config) -> Result<SealingKey, String> {
    let material = match &config.auth.sealing_key {
        Some(key) => key.as_bytes().to_vec(),
        None => key_file(config, "sealing.key")?,
    };
    SealingKey::new(&material).map_err(|e| format!("sealing key: {e}"))
}

/// The key material in `name` in the data directory: 32 random bytes (as hex), made on first
/// use, readable by its owner only.
fn key_file(config: &Config, name: &str) -> Result<Vec<u8>, String> {
    ensure_dir(&config.data_dir)?;
    let path = config.data_dir.join(name);
    match std::fs::read(&path) {
        Ok(bytes) => {
            narrow(&path, 0o600)?;
            Ok(bytes)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut key = [0u8; 32];
            getrandom::fill(&mut key).map_err(|e| format!("no randomness: {e}"))?;
            let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
            write_private(&path, hex.as_bytes())?;
            // Another process may have won the race: use what is on disk.
            std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))
        }
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), String> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path);
    match file {
        Ok(mut f) => f
            .write_all(bytes)
            .and_then(|()| f.sync_all())
            .map_err(|e| format!("cannot write {}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(format!("cannot create {}: {e}", path.display())),
    }
}

/// Creates `dir` readable by its owner only (0700), and narrows an existing one to that: the
/// data directory holds the database, the token key and every blob.
fn ensure_dir(dir: &Path) -> Result<(), String> {
    use std::os::unix::fs::DirBuilderExt as _;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| format!("cannot create data directory {}: {e}", dir.display()))?;
    narrow(dir, 0o700)
}

/// Creates the database file readable by its owner only (0600) before SQLite opens it (its
/// `-wal` and `-shm` files take the same mode), and narrows an existing one.
fn private_file(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::OpenOptionsExt as _;
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    narrow(path, 0o600)?;
    for suffix in ["-wal", "-shm"] {
        let mut side = path.as_os_str().to_owned();
        side.push(suffix);
        let side = std::path::PathBuf::from(side);
        if side.exists() {
            narrow(&side, 0o600)?;
        }
    }
    Ok(())
}

/// Takes away from `path` every permission beyond `mode`, for files made by older versions.
fn narrow(path: &Path, mode: u32) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt as _;
    let meta =
        std::fs::metadata(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if meta.permissions().mode() & 0o777 & !mode != 0 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .map_err(|e| format!("cannot restrict {}: {e}", path.display()))?;
    }
    Ok(())
}
