//! Schema migrations: numbered `.sql` files embedded in the binary, applied in order, one
//! version per transaction, each recorded in `schema_version`.

use berth_meta::{Result, Timestamp};
use deadpool_postgres::Pool;

use crate::db::{self, pg};

/// Every migration, in order, as `(version, SQL)`. A shipped file is never edited: a change to
/// the schema is a new file with the next number.
pub const MIGRATIONS: &[(i32, &str)] = &[
    (1, include_str!("../migrations/0001_initial.sql")),
    (2, include_str!("../migrations/0002_blob_tombstones.sql")),
    (3, include_str!("../migrations/0003_blob_links.sql")),
    (4, include_str!("../migrations/0004_console.sql")),
    (5, include_str!("../migrations/0005_hardening.sql")),
    (6, include_str!("../migrations/0006_upload_chunks.sql")),
    (
        7,
        include_str!("../migrations/0007_images_and_referrers.sql"),
    ),
    (8, include_str!("../migrations/0008_remote_registries.sql")),
    (9, include_str!("../migrations/0009_replication.sql")),
];

/// The advisory lock every migrating node takes ("berth_mg" in ASCII): PostgreSQL's DDL is
/// transactional, but two nodes creating the same table at once would still fail, and two that
/// each see a version missing would both apply it.
const MIGRATION_LOCK: i64 = 0x6265_7274_685f_6d67;

/// Applies the migrations the database lacks and returns the versions this call applied (none
/// when another node, or an earlier start, did).
///
/// Each version runs in its own transaction that first takes a transaction-scoped advisory lock,
/// then checks `schema_version` (a fresh snapshot, taken after the lock was granted, sees what a
/// node that held the lock committed): nodes starting together apply each version exactly once,
/// and a failed version leaves the database at the previous one. A database at a version this
/// build does not know (a newer node migrated it) is left alone: migrations only add.
pub async fn migrate(pool: &Pool) -> Result<Vec<i32>> {
    let mut client = db::conn(pool).await?;
    let mut applied = Vec::new();
    for (version, sql) in MIGRATIONS {
        let tx = client.transaction().await.map_err(pg)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await
            .map_err(pg)?;
        // Created under the lock: concurrent `CREATE TABLE IF NOT EXISTS` can still collide.
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_version (
                 version    integer PRIMARY KEY,
                 applied_at bigint  NOT NULL
             )",
        )
        .await
        .map_err(pg)?;
        let done = tx
            .query_opt(
                "SELECT 1 FROM schema_version WHERE version = $1",
                &[version],
            )
            .await
            .map_err(pg)?
            .is_some();
        if !done {
            tx.batch_execute(sql).await.map_err(pg)?;
            tx.execute(
                "INSERT INTO schema_version (version, applied_at) VALUES ($1, $2)",
                &[version, &Timestamp::now().unix_millis()],
            )
            .await
            .map_err(pg)?;
            applied.push(*version);
        }
        tx.commit().await.map_err(pg)?;
    }
    Ok(applied)
}
