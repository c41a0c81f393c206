//! Online backups (`SqliteMetadata::backup_to`): taken while another handle writes, a backup
//! is one consistent snapshot that opens as a store; it never overwrites a file.

use berth_meta::{AccountId, AccountStore, Page, Timestamp};
use berth_meta_sqlite::SqliteMetadata;

async fn account_ids(store: &SqliteMetadata) -> Vec<i64> {
    let page = Page {
        page: 1,
        size: 1000,
    };
    let found = store.list_accounts(page).await.expect("list accounts");
    found.items.iter().map(|a| a.id.0).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_during_writes_is_a_consistent_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteMetadata::open(dir.path().join("berth.db"))
        .await
        .unwrap();
    // Another handle on the same file, as a running server is to `berth admin backup`.
    let writer = SqliteMetadata::open(dir.path().join("berth.db"))
        .await
        .unwrap();
    for id in 1..=50 {
        writer
            .create_account(AccountId(id), "before", Timestamp::now())
            .await
            .unwrap();
    }
    let writes = tokio::spawn(async move {
        for id in 51..=400 {
            writer
                .create_account(AccountId(id), "during", Timestamp::now())
                .await
                .unwrap();
        }
    });
    let dest = dir.path().join("backup.db");
    store.backup_to(&dest).await.unwrap();
    writes.await.unwrap();
    assert!(!dir.path().join("backup.db.partial").exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&dest).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the backup holds password hashes");
    }

    let restored = SqliteMetadata::open(&dest).await.unwrap();
    let ids = account_ids(&restored).await;
    // A snapshot: everything committed before it, then a prefix of the concurrent writes.
    assert!(ids.len() >= 50, "{ids:?}");
    assert_eq!(ids, (1..=ids.len() as i64).collect::<Vec<_>>());
    // The restored store is writable and the original went on.
    restored
        .create_account(AccountId(1000), "after restore", Timestamp::now())
        .await
        .unwrap();
    assert_eq!(account_ids(&store).await.len(), 400);
}

#[tokio::test]
async fn a_backup_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteMetadata::open(dir.path().join("berth.db"))
        .await
        .unwrap();
    let dest = dir.path().join("taken.db");
    std::fs::write(&dest, b"precious").unwrap();
    let e = store.backup_to(&dest).await.unwrap_err();
    assert!(e.to_string().contains("exists already"), "{e}");
    assert_eq!(std::fs::read(&dest).unwrap(), b"precious");
    let missing_dir = dir.path().join("no/such/dir/backup.db");
    assert!(store.backup_to(&missing_dir).await.is_err());
    assert!(!missing_dir.exists());
}
