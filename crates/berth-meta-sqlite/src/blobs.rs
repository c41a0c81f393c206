//! Blobs (for garbage collection), upload sessions and pull statistics.

use berth_meta::{
    ArtifactPulls, Blob, Entity, Error, ImagePulls, RepositoryId, Timestamp, UploadSession,
    UploadUsage,
};
use berth_model::{Digest, RepositoryName, UploadId};
use rusqlite::{Connection, OptionalExtension as _, params};

use crate::error::{Res, unique};
use crate::rows;

pub(crate) fn record_blob(c: &Connection, digest: &Digest, size: u64, at: Timestamp) -> Res<Blob> {
    // Under the write lock with the collector's forget: a tombstoned digest is refused.
    let tombstoned = c
        .prepare_cached("SELECT 1 FROM blob_tombstones WHERE digest = ?1")?
        .query_row([digest.as_str()], |_| Ok(()))
        .optional()?
        .is_some();
    if tombstoned {
        return Err(Error::BlobBeingDeleted(digest.clone()).into());
    }
    // A blob recorded again keeps its first size and first time; only `last_seen` moves, and
    // never backwards (uploads finishing out of order).
    let sql = format!(
        "INSERT INTO blobs (digest, size, first_seen, last_seen) VALUES (?1, ?2, ?3, ?3) \
         ON CONFLICT (digest) DO UPDATE SET last_seen = max(last_seen, excluded.last_seen) \
         RETURNING {}",
        rows::BLOB
    );
    Ok(c.prepare_cached(&sql)?
        .query_row(params![digest.as_str(), size, at.unix_millis()], rows::blob)?)
}

pub(crate) fn blob(c: &Connection, digest: &Digest) -> Res<Option<Blob>> {
    let sql = format!("SELECT {} FROM blobs WHERE digest = ?1", rows::BLOB);
    Ok(c.prepare_cached(&sql)?
        .query_row([digest.as_str()], rows::blob)
        .optional()?)
}

pub(crate) fn unreferenced_blobs(
    c: &Connection,
    before: Timestamp,
    limit: usize,
) -> Res<Vec<Blob>> {
    // Walks `blobs_by_last_seen` oldest first, skipping digests some artifact references.
    let sql = format!(
        "SELECT {} FROM blobs b \
         WHERE b.last_seen < ?1 AND NOT EXISTS (SELECT 1 FROM digest_refs d WHERE d.digest = b.digest) \
         ORDER BY b.last_seen, b.digest LIMIT ?2",
        rows::BLOB
    );
    let out = c
        .prepare_cached(&sql)?
        .query_map(
            params![before.unix_millis(), rows::limit(limit)],
            rows::blob,
        )?
        .collect::<rusqlite::Result<_>>()?;
    Ok(out)
}

pub(crate) fn forget_blob(c: &Connection, digest: &Digest, before: Timestamp) -> Res<bool> {
    // One statement re-checks both conditions under the write lock: a push that references the
    // blob, or an upload that records it again, wins over a collector that listed it earlier.
    let deleted = c
        .prepare_cached(
            "DELETE FROM blobs WHERE digest = ?1 AND last_seen < ?2 \
             AND NOT EXISTS (SELECT 1 FROM digest_refs WHERE digest = ?1)",
        )?
        .execute(params![digest.as_str(), before.unix_millis()])?;
    if deleted > 0 {
        c.prepare_cached("DELETE FROM blob_links WHERE digest = ?1")?
            .execute([digest.as_str()])?;
        c.prepare_cached(
            "INSERT INTO blob_tombstones (digest, since) VALUES (?1, ?2) ON CONFLICT (digest) DO NOTHING",
        )?
        .execute(params![digest.as_str(), before.unix_millis()])?;
    }
    Ok(deleted > 0)
}

pub(crate) fn finish_forget(c: &Connection, digest: &Digest) -> Res<()> {
    c.prepare_cached("DELETE FROM blob_tombstones WHERE digest = ?1")?
        .execute([digest.as_str()])?;
    Ok(())
}

pub(crate) fn tombstones(c: &Connection) -> Res<Vec<Digest>> {
    let texts: Vec<String> = c
        .prepare_cached("SELECT digest FROM blob_tombstones ORDER BY since, digest")?
        .query_map([], |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    texts
        .iter()
        .map(|t| Digest::parse(t).map_err(crate::error::backend))
        .collect()
}

pub(crate) fn create_upload(c: &Connection, session: &UploadSession, max_open: u64) -> Res<()> {
    // Under the write lock (BEGIN IMMEDIATE): the count and the insert cannot interleave with
    // another start, nor with the repository's deletion.
    let repository: Option<String> = c
        .prepare_cached("SELECT name FROM repositories WHERE id = ?1")?
        .query_row([session.repository.0], |r| r.get(0))
        .optional()?;
    let Some(repository) = repository else {
        return Err(Error::not_found(Entity::Repository, session.name.repository()).into());
    };
    let open: u64 = c
        .prepare_cached("SELECT count(*) FROM uploads WHERE repository = ?1")?
        .query_row([session.repository.0], |r| r.get(0))?;
    if open >= max_open {
        return Err(Error::TooManyUploads {
            repository: RepositoryName::parse(&repository).map_err(crate::error::backend)?,
            limit: max_open,
        }
        .into());
    }
    c.prepare_cached(
        "INSERT INTO uploads (id, repository, name, received, short_chunk, started, \
         last_activity) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        session.id.as_str(),
        session.repository.0,
        session.name.to_string(),
        session.received,
        session.short_chunk,
        session.started.unix_millis(),
        session.last_activity.unix_millis(),
    ])
    .map_err(unique(Entity::Upload, session.id))?;
    Ok(())
}

pub(crate) fn open_uploads(c: &Connection) -> Res<u64> {
    Ok(c.prepare_cached("SELECT count(*) FROM uploads")?
        .query_row([], |r| r.get(0))?)
}

pub(crate) fn upload_usage(c: &Connection, repository: RepositoryId) -> Res<UploadUsage> {
    let (sessions, bytes) = c
        .prepare_cached(
            "SELECT count(*), coalesce(sum(received), 0) FROM uploads WHERE repository = ?1",
        )?
        .query_row([repository.0], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(UploadUsage { sessions, bytes })
}

pub(crate) fn upload(c: &Connection, id: &UploadId) -> Res<Option<UploadSession>> {
    let sql = format!("SELECT {} FROM uploads WHERE id = ?1", rows::UPLOAD);
    Ok(c.prepare_cached(&sql)?
        .query_row([id.as_str()], rows::upload)
        .optional()?)
}

pub(crate) fn touch_upload(
    c: &Connection,
    id: &UploadId,
    received: u64,
    short_chunk: bool,
    at: Timestamp,
) -> Res<()> {
    c.prepare_cached(
        "UPDATE uploads SET last_activity = max(last_activity, ?2), received = ?3, \
         short_chunk = ?4 WHERE id = ?1",
    )?
    .execute(params![
        id.as_str(),
        at.unix_millis(),
        received,
        short_chunk
    ])?;
    Ok(())
}

pub(crate) fn delete_upload(c: &Connection, id: &UploadId) -> Res<()> {
    c.prepare_cached("DELETE FROM uploads WHERE id = ?1")?
        .execute([id.as_str()])?;
    Ok(())
}

pub(crate) fn idle_uploads(c: &Connection, before: Timestamp) -> Res<Vec<UploadSession>> {
    let sql = format!(
        "SELECT {} FROM uploads WHERE last_activity < ?1 ORDER BY last_activity, id",
        rows::UPLOAD
    );
    let out = c
        .prepare_cached(&sql)?
        .query_map([before.unix_millis()], rows::upload)?
        .collect::<rusqlite::Result<_>>()?;
    Ok(out)
}

pub(crate) fn record_pulls(
    c: &Connection,
    images: &[ImagePulls],
    artifacts: &[ArtifactPulls],
) -> Res<()> {
    // Increments in place, never read-modify-write in Rust: flushes from several handles or
    // nodes add up whatever their order. Unknown ids update no row and are skipped.
    let mut image = c.prepare_cached(
        "UPDATE images SET pull_count = pull_count + ?2, \
           last_pull = max(coalesce(last_pull, ?3), ?3) WHERE id = ?1",
    )?;
    for pulls in images {
        image.execute(params![
            pulls.image.0,
            pulls.count,
            pulls.last.unix_millis()
        ])?;
    }
    let mut artifact = c.prepare_cached(
        "UPDATE artifacts SET pull_count = pull_count + ?2, \
           pulled_at = max(coalesce(pulled_at, ?3), ?3) WHERE id = ?1",
    )?;
    for pulls in artifacts {
        artifact.execute(params![
            pulls.artifact.0,
            pulls.count,
            pulls.last.unix_millis()
        ])?;
    }
    Ok(())
}

fn repository_id(c: &Connection, repository: &RepositoryName) -> Res<Option<i64>> {
    Ok(
        c.prepare_cached("SELECT id FROM repositories WHERE name = ?1")?
            .query_row([repository.as_str()], |row| row.get(0))
            .optional()?,
    )
}

pub(crate) fn link_blob(c: &Connection, repository: &RepositoryName, digest: &Digest) -> Res<()> {
    let id = repository_id(c, repository)?
        .ok_or_else(|| Error::not_found(Entity::Repository, repository))?;
    if blob(c, digest)?.is_none() {
        return Err(Error::BlobUnknown(digest.clone()).into());
    }
    c.prepare_cached(
        "INSERT INTO blob_links (repository, digest) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
    )?
    .execute(params![id, digest.as_str()])?;
    Ok(())
}

pub(crate) fn linked_blob(
    c: &Connection,
    repository: &RepositoryName,
    digest: &Digest,
) -> Res<Option<u64>> {
    Ok(c.prepare_cached(
        "SELECT b.size FROM blob_links l JOIN repositories r ON r.id = l.repository \
         JOIN blobs b ON b.digest = l.digest WHERE r.name = ?1 AND l.digest = ?2",
    )?
    .query_row(params![repository.as_str(), digest.as_str()], |row| {
        row.get(0)
    })
    .optional()?)
}

pub(crate) fn linked_repositories(
    c: &Connection,
    account: berth_meta::AccountId,
    digest: &Digest,
    limit: usize,
) -> Res<Vec<RepositoryName>> {
    // `blob_links_by_digest` finds the links; the repositories' primary key their names.
    let names = c
        .prepare_cached(
            "SELECT r.name FROM blob_links l JOIN repositories r ON r.id = l.repository \
             WHERE l.digest = ?1 AND r.account = ?2 ORDER BY r.name LIMIT ?3",
        )?
        .query_map(
            params![digest.as_str(), account.0, rows::limit(limit)],
            |r| r.get::<_, String>(0),
        )?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    names
        .iter()
        .map(|n| RepositoryName::parse(n).map_err(crate::error::backend))
        .collect()
}

pub(crate) fn unlink_blob(
    c: &Connection,
    repository: &RepositoryName,
    digest: &Digest,
) -> Res<bool> {
    let Some(id) = repository_id(c, repository)? else {
        return Ok(false);
    };
    let removed = c
        .prepare_cached("DELETE FROM blob_links WHERE repository = ?1 AND digest = ?2")?
        .execute(params![id, digest.as_str()])?;
    Ok(removed > 0)
}
