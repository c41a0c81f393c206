//! Known blobs and their garbage-collection queries, upload sessions, and pull statistics.

use std::collections::BTreeMap;

use berth_meta::*;
use berth_model::{Digest, RepositoryName, UploadId};
use deadpool_postgres::Pool;

use crate::db::{self, exec, get, int, limit, one, opt, pg, rows, unique};
use crate::rows::{self, blob_columns, upload_columns};

pub(crate) async fn record_blob(
    pool: &Pool,
    digest: &Digest,
    size: u64,
    at: Timestamp,
) -> Result<Blob> {
    let mut client = db::conn(pool).await?;
    let tx = client.transaction().await.map_err(pg)?;
    // Serialised per digest with `forget_blob` (which takes the same lock), so the tombstone
    // check below sees a forget that committed while we waited.
    exec(&tx, DIGEST_LOCK, &[&digest.as_str()]).await?;
    if opt(
        &tx,
        "SELECT 1 FROM blob_tombstones WHERE digest = $1",
        &[&digest.as_str()],
    )
    .await?
    .is_some()
    {
        return Err(Error::BlobBeingDeleted(digest.clone()));
    }
    // The first size recorded stays: a digest names one content.
    let row = db::one(
        &tx,
        concat!(
            "INSERT INTO blobs AS b (digest, size, first_seen, last_seen) VALUES ($1, $2, $3, $3)
             ON CONFLICT (digest) DO UPDATE SET last_seen = GREATEST(b.last_seen, EXCLUDED.last_seen)
             RETURNING ",
            blob_columns!()
        ),
        &[&digest.as_str(), &int(size)?, &at.unix_millis()],
    )
    .await?;
    let blob = rows::blob(&row)?;
    tx.commit().await.map_err(pg)?;
    Ok(blob)
}

/// A transaction-scoped advisory lock per digest, shared by `record_blob` and `forget_blob`.
const DIGEST_LOCK: &str = "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))";

pub(crate) async fn blob(pool: &Pool, digest: &Digest) -> Result<Option<Blob>> {
    let client = db::conn(pool).await?;
    opt(
        &client,
        concat!(
            "SELECT ",
            blob_columns!(),
            " FROM blobs b WHERE b.digest = $1"
        ),
        &[&digest.as_str()],
    )
    .await?
    .as_ref()
    .map(rows::blob)
    .transpose()
}

pub(crate) async fn unreferenced_blobs(
    pool: &Pool,
    before: Timestamp,
    n: usize,
) -> Result<Vec<Blob>> {
    let client = db::conn(pool).await?;
    rows(
        &client,
        concat!(
            "SELECT ",
            blob_columns!(),
            " FROM blobs b
              WHERE b.last_seen < $1
                AND NOT EXISTS (SELECT 1 FROM artifact_refs r WHERE r.digest = b.digest)
              ORDER BY b.last_seen, b.digest LIMIT $2"
        ),
        &[&before.unix_millis(), &limit(n)],
    )
    .await?
    .iter()
    .map(rows::blob)
    .collect()
}

pub(crate) async fn forget_blob(pool: &Pool, digest: &Digest, before: Timestamp) -> Result<bool> {
    let mut client = db::conn(pool).await?;
    let tx = client.transaction().await.map_err(pg)?;
    exec(&tx, DIGEST_LOCK, &[&digest.as_str()]).await?;
    // Lock the blob first: a push holds `FOR KEY SHARE` on the blobs it references until it
    // commits, so once this lock is granted the reference check below (a new statement, so a
    // new snapshot) sees every push that got the blob before us.
    let Some(row) = opt(
        &tx,
        "SELECT last_seen FROM blobs WHERE digest = $1 FOR UPDATE",
        &[&digest.as_str()],
    )
    .await?
    else {
        return Ok(false);
    };
    let last_seen: i64 = get(&row, "last_seen")?;
    let referenced = opt(
        &tx,
        "SELECT 1 FROM artifact_refs WHERE digest = $1 LIMIT 1",
        &[&digest.as_str()],
    )
    .await?
    .is_some();
    if last_seen >= before.unix_millis() || referenced {
        return Ok(false);
    }
    exec(
        &tx,
        "DELETE FROM blobs WHERE digest = $1",
        &[&digest.as_str()],
    )
    .await?;
    exec(
        &tx,
        "DELETE FROM blob_links WHERE digest = $1",
        &[&digest.as_str()],
    )
    .await?;
    exec(
        &tx,
        "INSERT INTO blob_tombstones (digest, since) VALUES ($1, $2) ON CONFLICT (digest) DO NOTHING",
        &[&digest.as_str(), &before.unix_millis()],
    )
    .await?;
    tx.commit().await.map_err(pg)?;
    Ok(true)
}

pub(crate) async fn finish_forget(pool: &Pool, digest: &Digest) -> Result<()> {
    let client = db::conn(pool).await?;
    exec(
        &client,
        "DELETE FROM blob_tombstones WHERE digest = $1",
        &[&digest.as_str()],
    )
    .await?;
    Ok(())
}

pub(crate) async fn tombstones(pool: &Pool) -> Result<Vec<Digest>> {
    let client = db::conn(pool).await?;
    rows(
        &client,
        "SELECT digest FROM blob_tombstones ORDER BY since, digest",
        &[],
    )
    .await?
    .iter()
    .map(|row| {
        let text: &str = get(row, "digest")?;
        Digest::parse(text).map_err(db::corrupt)
    })
    .collect()
}

pub(crate) async fn create_upload(
    pool: &Pool,
    session: UploadSession,
    max_open: u64,
) -> Result<()> {
    let mut client = db::conn(pool).await?;
    let tx = client.transaction().await.map_err(pg)?;
    // The repository's row lock orders concurrent starts (the count below and the insert cannot
    // interleave with another start's) and holds off its deletion, which locks `FOR UPDATE`.
    let repository = opt(
        &tx,
        "SELECT name FROM repositories WHERE id = $1 FOR NO KEY UPDATE",
        &[&session.repository.0],
    )
    .await?
    .ok_or_else(|| Error::not_found(Entity::Repository, session.name.repository()))?;
    let open = db::get_u64(
        &one(
            &tx,
            "SELECT count(*) AS n FROM uploads WHERE repository = $1",
            &[&session.repository.0],
        )
        .await?,
        "n",
    )?;
    if open >= max_open {
        return Err(Error::TooManyUploads {
            repository: rows::repository_name(get(&repository, "name")?)?,
            limit: max_open,
        });
    }
    tx.execute(
        "INSERT INTO uploads (id, repository, name, received, short_chunk, started,
           last_activity) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            &session.id.as_str(),
            &session.repository.0,
            &session.name.to_string(),
            &db::int(session.received)?,
            &session.short_chunk,
            &session.started.unix_millis(),
            &session.last_activity.unix_millis(),
        ],
    )
    .await
    .map_err(unique(Entity::Upload, session.id))?;
    tx.commit().await.map_err(pg)
}

pub(crate) async fn open_uploads(pool: &Pool) -> Result<u64> {
    let client = db::conn(pool).await?;
    let row = one(&client, "SELECT count(*) AS n FROM uploads", &[]).await?;
    db::get_u64(&row, "n")
}

pub(crate) async fn upload_usage(pool: &Pool, repository: RepositoryId) -> Result<UploadUsage> {
    let client = db::conn(pool).await?;
    let row = one(
        &client,
        "SELECT count(*) AS n, coalesce(sum(received), 0)::bigint AS bytes FROM uploads
         WHERE repository = $1",
        &[&repository.0],
    )
    .await?;
    Ok(UploadUsage {
        sessions: db::get_u64(&row, "n")?,
        bytes: db::get_u64(&row, "bytes")?,
    })
}

pub(crate) async fn upload(pool: &Pool, id: &UploadId) -> Result<Option<UploadSession>> {
    let client = db::conn(pool).await?;
    opt(
        &client,
        concat!(
            "SELECT ",
            upload_columns!(),
            " FROM uploads u WHERE u.id = $1"
        ),
        &[&id.as_str()],
    )
    .await?
    .as_ref()
    .map(rows::upload)
    .transpose()
}

pub(crate) async fn touch_upload(
    pool: &Pool,
    id: &UploadId,
    received: u64,
    short_chunk: bool,
    at: Timestamp,
) -> Result<()> {
    let client = db::conn(pool).await?;
    exec(
        &client,
        "UPDATE uploads SET last_activity = GREATEST(last_activity, $2), received = $3,
           short_chunk = $4 WHERE id = $1",
        &[
            &id.as_str(),
            &at.unix_millis(),
            &db::int(received)?,
            &short_chunk,
        ],
    )
    .await?;
    Ok(())
}

pub(crate) async fn delete_upload(pool: &Pool, id: &UploadId) -> Result<()> {
    let client = db::conn(pool).await?;
    exec(
        &client,
        "DELETE FROM uploads WHERE id = $1",
        &[&id.as_str()],
    )
    .await?;
    Ok(())
}

pub(crate) async fn idle_uploads(pool: &Pool, before: Timestamp) -> Result<Vec<UploadSession>> {
    let client = db::conn(pool).await?;
    rows(
        &client,
        concat!(
            "SELECT ",
            upload_columns!(),
            " FROM uploads u WHERE u.last_activity < $1 ORDER BY u.last_activity, u.id"
        ),
        &[&before.unix_millis()],
    )
    .await?
    .iter()
    .map(rows::upload)
    .collect()
}

/// Sums the counts and keeps the latest time per id, sorted by id: `UPDATE … FROM` applies one
/// source row per target row, and sorted ids lock rows in one order on every node.
fn merge(
    entries: impl Iterator<Item = (i64, u64, Timestamp)>,
) -> Result<(Vec<i64>, Vec<i64>, Vec<i64>)> {
    let mut merged: BTreeMap<i64, (u64, Timestamp)> = BTreeMap::new();
    for (id, count, last) in entries {
        let entry = merged.entry(id).or_insert((0, last));
        entry.0 = entry.0.saturating_add(count);
        entry.1 = entry.1.max(last);
    }
    let mut ids = Vec::with_capacity(merged.len());
    let mut counts = Vec::with_capacity(merged.len());
    let mut lasts = Vec::with_capacity(merged.len());
    for (id, (count, last)) in merged {
        ids.push(id);
        counts.push(int(count)?);
        lasts.push(last.unix_millis());
    }
    Ok((ids, counts, lasts))
}

pub(crate) async fn record_pulls(
    pool: &Pool,
    images: &[ImagePulls],
    artifacts: &[ArtifactPulls],
) -> Result<()> {
    let images = merge(images.iter().map(|p| (p.image.0, p.count, p.last)))?;
    let artifacts = merge(artifacts.iter().map(|p| (p.artifact.0, p.count, p.last)))?;
    let mut client = db::conn(pool).await?;
    let tx = client.transaction().await.map_err(pg)?;
    // Images before artifacts, each in id order, as pushes lock them: flushes and pushes on
    // several nodes cannot deadlock. Unknown ids match nothing and are skipped.
    for (table, last_column, (ids, counts, lasts)) in [
        ("images", "last_pull", &images),
        ("artifacts", "pulled_at", &artifacts),
    ] {
        if ids.is_empty() {
            continue;
        }
        let lock =
            format!("SELECT id FROM {table} WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE");
        exec(&tx, &lock, &[ids]).await?;
        let add = format!(
            "UPDATE {table} AS t
             SET pull_count = t.pull_count + p.count, {last_column} = GREATEST(t.{last_column}, p.last)
             FROM unnest($1::bigint[], $2::bigint[], $3::bigint[]) AS p(id, count, last)
             WHERE t.id = p.id"
        );
        exec(&tx, &add, &[ids, counts, lasts]).await?;
    }
    tx.commit().await.map_err(pg)
}

pub(crate) async fn link_blob(
    pool: &Pool,
    repository: &RepositoryName,
    digest: &Digest,
) -> Result<()> {
    let mut client = db::conn(pool).await?;
    let tx = client.transaction().await.map_err(pg)?;
    // The digest's lock orders this with `forget_blob`, which unlinks everywhere.
    exec(&tx, DIGEST_LOCK, &[&digest.as_str()]).await?;
    // `FOR KEY SHARE`, as the link's foreign key would: ordered with `delete_repository`.
    let Some(row) = opt(
        &tx,
        "SELECT id FROM repositories WHERE name = $1 FOR KEY SHARE",
        &[&repository.as_str()],
    )
    .await?
    else {
        return Err(Error::not_found(Entity::Repository, repository));
    };
    let id: i64 = get(&row, "id")?;
    if opt(
        &tx,
        "SELECT 1 FROM blobs WHERE digest = $1",
        &[&digest.as_str()],
    )
    .await?
    .is_none()
    {
        return Err(Error::BlobUnknown(digest.clone()));
    }
    exec(
        &tx,
        "INSERT INTO blob_links (repository, digest) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        &[&id, &digest.as_str()],
    )
    .await?;
    tx.commit().await.map_err(pg)?;
    Ok(())
}

pub(crate) async fn linked_blob(
    pool: &Pool,
    repository: &RepositoryName,
    digest: &Digest,
) -> Result<Option<u64>> {
    let client = db::conn(pool).await?;
    let row = opt(
        &client,
        "SELECT b.size FROM blob_links l JOIN repositories r ON r.id = l.repository
         JOIN blobs b ON b.digest = l.digest WHERE r.name = $1 AND l.digest = $2",
        &[&repository.as_str(), &digest.as_str()],
    )
    .await?;
    row.map(|row| db::get_u64(&row, "size")).transpose()
}

pub(crate) async fn linked_repositories(
    pool: &Pool,
    account: AccountId,
    digest: &Digest,
    limit: usize,
) -> Result<Vec<RepositoryName>> {
    let client = db::conn(pool).await?;
    rows(
        &client,
        "SELECT r.name FROM blob_links l JOIN repositories r ON r.id = l.repository
         WHERE l.digest = $1 AND r.account = $2 ORDER BY r.name LIMIT $3",
        &[&digest.as_str(), &account.0, &db::limit(limit)],
    )
    .await?
    .iter()
    .map(|row| rows::repository_name(get(row, "name")?))
    .collect()
}

pub(crate) async fn unlink_blob(
    pool: &Pool,
    repository: &RepositoryName,
    digest: &Digest,
) -> Result<bool> {
    let client = db::conn(pool).await?;
    let removed = exec(
        &client,
        "DELETE FROM blob_links l USING repositories r
         WHERE r.id = l.repository AND r.name = $1 AND l.digest = $2",
        &[&repository.as_str(), &digest.as_str()],
    )
    .await?;
    Ok(removed > 0)
}
