//! The schema: numbered migrations, embedded, applied one version per transaction.
//!
//! Migration `N` is `migrations/NNNN_<what>.sql`; the database's version is `PRAGMA
//! user_version` (0 for a new file), which each migration sets in the same transaction as its
//! changes, so a crash leaves the database at either the old version or the new one. A shipped
//! file is never edited: a change is a new file appended to [`MIGRATIONS`].
//!
//! Migrations run inside a transaction with foreign keys enforced (the pragma cannot change
//! inside one). A future migration that rebuilds a table must keep every reference valid at
//! commit, or use SQLite's documented twelve-step procedure with `PRAGMA defer_foreign_keys`.

use rusqlite::{Connection, TransactionBehavior};

use crate::error::{Res, backend};

/// One schema version.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Migration {
    /// The version the database is at after it.
    pub(crate) version: u32,
    /// The file name, for errors.
    pub(crate) name: &'static str,
    /// The statements.
    pub(crate) sql: &'static str,
}

/// Every migration, in order, versions 1, 2, … without gaps.
pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "0001_initial.sql",
        sql: include_str!("../migrations/0001_initial.sql"),
    },
    Migration {
        version: 2,
        name: "0002_blob_tombstones.sql",
        sql: include_str!("../migrations/0002_blob_tombstones.sql"),
    },
    Migration {
        version: 3,
        name: "0003_blob_links.sql",
        sql: include_str!("../migrations/0003_blob_links.sql"),
    },
    Migration {
        version: 4,
        name: "0004_console.sql",
        sql: include_str!("../migrations/0004_console.sql"),
    },
    Migration {
        version: 5,
        name: "0005_hardening.sql",
        sql: include_str!("../migrations/0005_hardening.sql"),
    },
    Migration {
        version: 6,
        name: "0006_upload_chunks.sql",
        sql: include_str!("../migrations/0006_upload_chunks.sql"),
    },
    Migration {
        version: 7,
        name: "0007_images_and_referrers.sql",
        sql: include_str!("../migrations/0007_images_and_referrers.sql"),
    },
    Migration {
        version: 8,
        name: "0008_remote_registries.sql",
        sql: include_str!("../migrations/0008_remote_registries.sql"),
    },
    Migration {
        version: 9,
        name: "0009_replication.sql",
        sql: include_str!("../migrations/0009_replication.sql"),
    },
];

/// The version a database is at once migrated.
#[cfg(test)]
pub(crate) const LATEST: u32 = match MIGRATIONS.last() {
    Some(m) => m.version,
    None => 0,
};

/// The database's schema version.
pub(crate) fn version(conn: &Connection) -> rusqlite::Result<u32> {
    conn.pragma_query_value(None, "user_version", |row| row.get(0))
}

/// Brings the database up to the last of `migrations`; returns the versions it applied (none
/// when it was up to date).
///
/// Each version is applied in its own `BEGIN IMMEDIATE` transaction that first re-reads the
/// version, so two processes opening the same new file at once apply each migration once. A
/// database newer than `migrations` is refused rather than used with a schema this code does not
/// know.
pub(crate) fn migrate(conn: &mut Connection, migrations: &[Migration]) -> Res<Vec<u32>> {
    let latest = migrations.last().map_or(0, |m| m.version);
    let mut applied = Vec::new();
    for migration in migrations {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let current = version(&tx)?;
        if current > latest {
            return Err(backend(format!(
                "the database is at schema version {current}, newer than this berth's {latest}"
            )));
        }
        if current >= migration.version {
            // Already applied (earlier, or just now by another process); the empty transaction
            // rolls back on drop.
            continue;
        }
        if current + 1 != migration.version {
            return Err(backend(format!(
                "cannot apply {} (version {}) to a database at version {current}",
                migration.name, migration.version
            )));
        }
        tx.execute_batch(migration.sql)?;
        tx.pragma_update(None, "user_version", migration.version)?;
        tx.commit()?;
        applied.push(migration.version);
    }
    // With no migration to apply, the loop never looked: still refuse a newer database.
    let current = version(conn)?;
    if current > latest {
        return Err(backend(format!(
            "the database is at schema version {current}, newer than this berth's {latest}"
        )));
    }
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(dir: &tempfile::TempDir) -> Connection {
        Connection::open(dir.path().join("meta.db")).expect("open")
    }

    /// The objects a schema consists of, to compare two databases.
    fn objects(conn: &Connection) -> Vec<(String, String, Option<String>)> {
        let mut stmt = conn
            .prepare("SELECT type, name, sql FROM sqlite_master ORDER BY type, name")
            .expect("prepare");
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .expect("query")
            .collect::<rusqlite::Result<_>>()
            .expect("rows")
    }

    /// A test-only next version, to exercise a database that is one version behind with data.
    const NEXT: Migration = Migration {
        version: LATEST + 1,
        name: "test_next.sql",
        sql: "ALTER TABLE accounts ADD COLUMN note TEXT NOT NULL DEFAULT 'migrated';",
    };

    #[test]
    fn versions_are_numbered_without_gaps() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version as usize, i + 1, "{}", m.name);
            assert!(
                m.name.starts_with(&format!("{:04}_", m.version)),
                "{}",
                m.name
            );
        }
    }

    #[test]
    fn a_new_database_gets_every_version_and_a_current_one_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut conn = open(&dir);
        let all: Vec<u32> = MIGRATIONS.iter().map(|m| m.version).collect();
        assert_eq!(migrate(&mut conn, MIGRATIONS).expect("migrate"), all);
        assert_eq!(version(&conn).expect("version"), LATEST);
        let before = objects(&conn);
        assert_eq!(
            migrate(&mut conn, MIGRATIONS).expect("again"),
            Vec::<u32>::new()
        );
        assert_eq!(objects(&conn), before);
    }

    #[test]
    fn every_older_version_migrates_to_the_same_schema() {
        let fresh_dir = tempfile::tempdir().expect("tempdir");
        let mut fresh = open(&fresh_dir);
        migrate(&mut fresh, MIGRATIONS).expect("migrate");
        for start in 0..MIGRATIONS.len() {
            let dir = tempfile::tempdir().expect("tempdir");
            let mut conn = open(&dir);
            migrate(&mut conn, &MIGRATIONS[..start]).expect("old version");
            assert_eq!(version(&conn).expect("version") as usize, start);
            let applied = migrate(&mut conn, MIGRATIONS).expect("forward");
            assert_eq!(applied.len(), MIGRATIONS.len() - start, "from {start}");
            assert_eq!(objects(&conn), objects(&fresh), "from {start}");
        }
    }

    #[test]
    fn an_older_database_with_data_migrates_forward_and_keeps_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut conn = open(&dir);
        migrate(&mut conn, MIGRATIONS).expect("current");
        conn.execute(
            "INSERT INTO accounts (id, name, created) VALUES (10042, 'acme', 1)",
            [],
        )
        .expect("insert");
        let next = [MIGRATIONS, &[NEXT]].concat();
        assert_eq!(migrate(&mut conn, &next).expect("forward"), [NEXT.version]);
        let row: (String, String) = conn
            .query_row(
                "SELECT name, note FROM accounts WHERE id = 10042",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .expect("row");
        assert_eq!(row, ("acme".to_owned(), "migrated".to_owned()));
        assert_eq!(migrate(&mut conn, &next).expect("again"), Vec::<u32>::new());
        // The code of the previous version refuses the newer database.
        assert!(migrate(&mut conn, MIGRATIONS).is_err());
    }

    #[test]
    fn a_failing_migration_leaves_the_previous_version() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut conn = open(&dir);
        let broken = Migration {
            sql: "CREATE TABLE half (x INTEGER); SELECT * FROM no_such_table;",
            ..NEXT
        };
        let all = [MIGRATIONS, &[broken]].concat();
        assert!(migrate(&mut conn, &all).is_err());
        assert_eq!(version(&conn).expect("version"), LATEST);
        let half: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE name = 'half'",
                [],
                |r| r.get(0),
            )
            .expect("count");
        assert_eq!(half, 0);
    }
}
