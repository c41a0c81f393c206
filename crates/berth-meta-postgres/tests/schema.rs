//! The migrated schema against its committed snapshot, and migrations racing each other.
#![cfg(feature = "postgres-server-tests")]

mod support;

use std::fmt::Write as _;

use berth_meta::RegistryStore as _;
use berth_meta_postgres::{MIGRATIONS, PostgresMetadata, migrate};
use deadpool_postgres::{Manager, Pool};
use tokio_postgres::NoTls;

const SNAPSHOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/schema.snapshot");

fn pool(url: &str) -> Pool {
    let config: tokio_postgres::Config = url.parse().expect("url");
    Pool::builder(Manager::new(config, NoTls))
        .max_size(2)
        .build()
        .expect("pool")
}

/// The schema as text: tables with their columns, then indexes, then constraints, each sorted,
/// so that a change to a migration shows up as a readable diff of `tests/schema.snapshot`.
async fn dump(client: &tokio_postgres::Client) -> String {
    let mut out = String::new();
    let columns = client
        .query(
            "SELECT table_name::text, column_name::text, data_type::text, is_nullable::text,
                    collation_name::text, is_identity::text, column_default::text
             FROM information_schema.columns WHERE table_schema = 'public'
             ORDER BY table_name, ordinal_position",
            &[],
        )
        .await
        .expect("columns");
    let mut table = String::new();
    for row in &columns {
        let name: String = row.get(0);
        if name != table {
            writeln!(out, "table {name}").expect("write");
            table = name;
        }
        let (column, ty, nullable): (String, String, String) = (row.get(1), row.get(2), row.get(3));
        let mut line = format!("    {column} {ty}");
        if let Some(collation) = row.get::<_, Option<String>>(4) {
            write!(line, " collate {collation}").expect("write");
        }
        if nullable == "NO" {
            line.push_str(" not null");
        }
        if row.get::<_, Option<String>>(5).as_deref() == Some("YES") {
            line.push_str(" identity");
        }
        if let Some(default) = row.get::<_, Option<String>>(6) {
            write!(line, " default {default}").expect("write");
        }
        writeln!(out, "{line}").expect("write");
    }
    let indexes = client
        .query(
            "SELECT indexdef FROM pg_indexes WHERE schemaname = 'public'
             ORDER BY tablename, indexname",
            &[],
        )
        .await
        .expect("indexes");
    for row in &indexes {
        writeln!(out, "{}", row.get::<_, String>(0)).expect("write");
    }
    let constraints = client
        .query(
            "SELECT conrelid::regclass::text, conname::text, pg_get_constraintdef(oid)
             FROM pg_constraint WHERE connamespace = 'public'::regnamespace
             ORDER BY 1, 2",
            &[],
        )
        .await
        .expect("constraints");
    for row in &constraints {
        let (table, name, def): (String, String, String) = (row.get(0), row.get(1), row.get(2));
        writeln!(out, "constraint {table}.{name}: {def}").expect("write");
    }
    out
}

/// The schema a fresh database migrates to is the committed snapshot; with
/// `BERTH_UPDATE_SNAPSHOTS=1` the test rewrites the snapshot instead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schema_matches_the_snapshot() {
    let db = support::fresh_database().await;
    let applied = migrate(&pool(&db.url)).await.expect("migrate");
    assert_eq!(
        applied,
        MIGRATIONS.iter().map(|(v, _)| *v).collect::<Vec<_>>()
    );
    let (client, connection) = tokio_postgres::connect(&db.url, NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    let schema = dump(&client).await;
    if std::env::var_os("BERTH_UPDATE_SNAPSHOTS").is_some_and(|v| v == "1") {
        std::fs::write(SNAPSHOT, &schema).expect("write the snapshot");
        return;
    }
    let committed = std::fs::read_to_string(SNAPSHOT).unwrap_or_default();
    if committed != schema {
        let first = committed
            .lines()
            .zip(schema.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| committed.lines().count().min(schema.lines().count()));
        panic!(
            "the migrated schema differs from {SNAPSHOT} from line {} on \
             (rerun with BERTH_UPDATE_SNAPSHOTS=1 to accept it, and review the diff):\n\
             committed: {:?}\nmigrated:  {:?}\n\nfull migrated schema:\n{schema}",
            first + 1,
            committed.lines().nth(first),
            schema.lines().nth(first),
        );
    }
}

/// Nodes that start together on a fresh database apply each version exactly once between
/// them, and a later start applies nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_migrations_apply_each_version_once() {
    let db = support::fresh_database().await;
    let pools: Vec<Pool> = (0..4).map(|_| pool(&db.url)).collect();
    let results = futures::future::join_all(pools.iter().map(migrate)).await;
    let mut applied: Vec<i32> = results
        .into_iter()
        .flat_map(|r| r.expect("every node migrates without error"))
        .collect();
    applied.sort_unstable();
    let all: Vec<i32> = MIGRATIONS.iter().map(|(v, _)| *v).collect();
    assert_eq!(applied, all, "each version applied by exactly one node");
    let client = pools[0].get().await.expect("connection");
    let recorded: Vec<i32> = client
        .query("SELECT version FROM schema_version ORDER BY version", &[])
        .await
        .expect("versions")
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(recorded, all);
    assert_eq!(
        migrate(&pools[1]).await.expect("migrate again"),
        Vec::<i32>::new()
    );
}

/// A database at version 3 with images gets its repositories' image counts filled in by
/// version 4.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn image_counts_are_filled_in_for_repositories_of_version_3() {
    let db = support::fresh_database().await;
    let (client, connection) = tokio_postgres::connect(&db.url, NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    // Version 3 as an older berth left it: its migrations, recorded as `migrate` records them.
    client
        .batch_execute(
            "CREATE TABLE schema_version (version integer PRIMARY KEY, applied_at bigint NOT NULL)",
        )
        .await
        .expect("schema_version");
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v <= 3) {
        client.batch_execute(sql).await.expect("old migration");
        client
            .execute(
                "INSERT INTO schema_version (version, applied_at) VALUES ($1, 0)",
                &[version],
            )
            .await
            .expect("record version");
    }
    client
        .batch_execute(
            "INSERT INTO accounts (id, name, created) VALUES (1, 'acme', 1);
             INSERT INTO repositories (account, name, access, created)
                 VALUES (1, 'team', 'private', 1), (1, 'empty', 'private', 1);
             INSERT INTO images (repository, name, full_name, artifact_count)
                 SELECT id, 'a', 'team/a', 1 FROM repositories WHERE name = 'team';
             INSERT INTO images (repository, name, full_name, artifact_count)
                 SELECT id, 'b/c', 'team/b/c', 2 FROM repositories WHERE name = 'team';
             -- Version 7 removes an image without artifacts.
             INSERT INTO images (repository, name, full_name, artifact_count)
                 SELECT id, 'gone', 'team/gone', 0 FROM repositories WHERE name = 'team';",
        )
        .await
        .expect("old data");

    let store = PostgresMetadata::from_pool(pool(&db.url))
        .await
        .expect("migrates to the current version");
    let mut counts = Vec::new();
    for name in ["team", "empty"] {
        let name = berth_model::RepositoryName::parse(name).expect("name");
        let repository = store.repository(&name).await.expect("get").expect("kept");
        counts.push(repository.image_count);
    }
    assert_eq!(counts, [2, 0]);
}
