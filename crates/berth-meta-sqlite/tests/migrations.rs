//! Opening databases at other schema versions: older ones are migrated forward with their data,
//! current ones are left alone, newer ones are refused.

use std::path::{Path, PathBuf};

use berth_meta::{AccountId, AccountStore, Error, RegistryStore};
use berth_meta_sqlite::SqliteMetadata;
use rusqlite::Connection;

/// The migration files shipped in `migrations/`, in order.
fn migration_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("migrations directory")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .collect();
    files.sort();
    files
}

fn user_version(conn: &Connection) -> usize {
    conn.pragma_query_value(None, "user_version", |r| r.get(0))
        .expect("user_version")
}

/// SQLite's schema cookie: it changes with every change to the schema.
fn schema_cookie(conn: &Connection) -> i64 {
    conn.pragma_query_value(None, "schema_version", |r| r.get(0))
        .expect("schema_version")
}

/// A database file brought to version `version` by the shipped files themselves, as an older
/// berth would have left it.
fn database_at(dir: &Path, version: usize) -> (PathBuf, Connection) {
    let path = dir.join("meta.db");
    let conn = Connection::open(&path).expect("create");
    for file in &migration_files()[..version] {
        conn.execute_batch(&std::fs::read_to_string(file).expect("read migration"))
            .expect("apply migration");
    }
    conn.pragma_update(None, "user_version", version)
        .expect("set version");
    (path, conn)
}

#[tokio::test]
async fn every_older_version_is_migrated_forward_keeping_its_data() {
    let latest = migration_files().len();
    assert!(latest >= 1);
    for version in 0..latest {
        let dir = tempfile::tempdir().expect("temporary directory");
        let (path, conn) = database_at(dir.path(), version);
        if version >= 1 {
            // `accounts` exists from version 1 on.
            conn.execute(
                "INSERT INTO accounts (id, name, created) VALUES (10042, 'acme', 1)",
                [],
            )
            .expect("old data");
        }
        drop(conn);

        let store = SqliteMetadata::open(&path).await.expect("open migrates");
        let conn = Connection::open(&path).expect("inspect");
        assert_eq!(user_version(&conn), latest, "from version {version}");
        if version >= 1 {
            let account = store
                .account(AccountId(10042))
                .await
                .expect("account")
                .expect("kept");
            assert_eq!(account.name, "acme");
        }
    }
}

#[tokio::test]
async fn reopening_a_current_database_applies_nothing() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("meta.db");
    let store = SqliteMetadata::open(&path).await.expect("create");
    store
        .create_account(
            AccountId(1),
            "one",
            berth_meta::Timestamp::from_unix_millis(0),
        )
        .await
        .expect("account");
    drop(store);
    let before = {
        let conn = Connection::open(&path).expect("inspect");
        (user_version(&conn), schema_cookie(&conn))
    };
    let store = SqliteMetadata::open(&path).await.expect("reopen");
    let after = {
        let conn = Connection::open(&path).expect("inspect");
        (user_version(&conn), schema_cookie(&conn))
    };
    assert_eq!(after, before, "(user_version, schema cookie)");
    assert_eq!(before.0, migration_files().len());
    assert!(
        store
            .account(AccountId(1))
            .await
            .expect("account")
            .is_some()
    );
}

#[tokio::test]
async fn a_database_from_a_newer_berth_is_refused() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let latest = migration_files().len();
    let (path, conn) = database_at(dir.path(), latest);
    conn.pragma_update(None, "user_version", latest + 1)
        .expect("set version");
    drop(conn);
    let err = SqliteMetadata::open(&path).await.expect_err("refused");
    assert!(
        matches!(
            err,
            Error::Backend {
                store: "sqlite",
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn image_counts_are_filled_in_for_repositories_of_version_3() {
    // Version 4 counts the images; version 7 then removes those without artifacts.
    let dir = tempfile::tempdir().expect("temporary directory");
    let (path, conn) = database_at(dir.path(), 3);
    conn.execute_batch(
        "INSERT INTO accounts (id, name, created) VALUES (1, 'acme', 1);
         INSERT INTO repositories (id, account, name, access, created)
             VALUES (1, 1, 'team', 'private', 1), (2, 1, 'empty', 'private', 1);
         INSERT INTO images (repository, name, full_name, artifact_count)
             VALUES (1, 'a', 'team/a', 1), (1, 'b/c', 'team/b/c', 2), (1, 'gone', 'team/gone', 0);",
    )
    .expect("old data");
    drop(conn);

    let store = SqliteMetadata::open(&path).await.expect("open migrates");
    let count = |name: &'static str| {
        let store = store.clone();
        async move {
            store
                .repository(&berth_model::RepositoryName::parse(name).expect("name"))
                .await
                .expect("repository")
                .expect("kept")
                .image_count
        }
    };
    assert_eq!((count("team").await, count("empty").await), (2, 0));
}
