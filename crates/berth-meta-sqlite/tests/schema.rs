//! The schema a fresh database gets, compared with the committed `tests/schema.snapshot`.
//!
//! A migration that changes the schema changes the snapshot in the same commit, so the review
//! shows the resulting tables and indexes and not only the statements that made them. Run with
//! `BERTH_UPDATE_SNAPSHOTS=1` to rewrite the snapshot after an intended change.

use std::path::Path;

use berth_meta_sqlite::SqliteMetadata;
use rusqlite::Connection;

/// Every table and index (automatic indexes too, statistics tables not), sorted, with the statement that created it.
fn dump(conn: &Connection) -> String {
    let mut stmt = conn
        .prepare(
            "SELECT type, name, coalesce(sql, '(automatic)') FROM sqlite_master \
             WHERE type IN ('table', 'index') AND name NOT LIKE 'sqlite_stat%' \
             ORDER BY type DESC, name",
        )
        .expect("prepare");
    let rows = stmt
        .query_map([], |r| {
            Ok(format!(
                "-- {} {}\n{};\n",
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?
            ))
        })
        .expect("query")
        .collect::<rusqlite::Result<Vec<_>>>()
        .expect("rows");
    let version: u32 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .expect("version");
    format!("-- user_version {version}\n\n{}", rows.join("\n"))
}

/// A line-by-line difference, enough to see what moved.
fn diff(expected: &str, actual: &str) -> String {
    let (old, new): (Vec<&str>, Vec<&str>) = (expected.lines().collect(), actual.lines().collect());
    let mut out = String::new();
    for line in &old {
        if !new.contains(line) {
            out.push_str(&format!("- {line}\n"));
        }
    }
    for line in &new {
        if !old.contains(line) {
            out.push_str(&format!("+ {line}\n"));
        }
    }
    if out.is_empty() {
        out.push_str("(same lines, different order)\n");
    }
    out
}

#[tokio::test]
async fn schema_matches_the_snapshot() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("meta.db");
    drop(SqliteMetadata::open(&path).await.expect("open"));
    let actual = dump(&Connection::open(&path).expect("connection"));

    let snapshot = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schema.snapshot");
    if std::env::var_os("BERTH_UPDATE_SNAPSHOTS").is_some_and(|v| v == "1") {
        std::fs::write(&snapshot, &actual).expect("write snapshot");
        return;
    }
    let expected = std::fs::read_to_string(&snapshot).unwrap_or_default();
    assert!(
        expected == actual,
        "the schema differs from {} (rerun with BERTH_UPDATE_SNAPSHOTS=1 if intended):\n{}",
        snapshot.display(),
        diff(&expected, &actual)
    );
}
