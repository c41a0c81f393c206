//! Artifacts and tags: the push transaction, deletes, and the reads of artifacts and tags.
//!
//! Lock order, the same in every transaction here and in `blobs::record_pulls`: the repository
//! row, then the image row, then artifact rows, then tag rows. The repository is locked
//! `FOR NO KEY UPDATE` rather than `FOR UPDATE`: it serialises pushes and deletes of one
//! repository just the same, but leaves the `FOR KEY SHARE` locks of foreign-key checks (a
//! history row inserted by `delete_tag`) free, so those never wait for a push.

use std::collections::HashSet;

use berth_meta::*;
use berth_model::{Digest, Name, Tag};
use deadpool_postgres::{GenericClient, Pool};

use crate::db::{self, exec, get, int, limit, limit_offset, one, opt, pg, rows};
use crate::repositories::{Event, insert_event};
use crate::rows::{self, artifact_columns};

/// An artifact of an image (by OCI name) and digest.
async fn load_artifact<C: GenericClient>(
    c: &C,
    name: &str,
    digest: &str,
) -> Result<Option<Artifact>> {
    opt(
        c,
        concat!(
            "SELECT ",
            artifact_columns!(),
            " FROM artifacts a JOIN images i ON i.id = a.image
              WHERE i.full_name = $1 AND a.digest = $2"
        ),
        &[&name, &digest],
    )
    .await?
    .as_ref()
    .map(rows::artifact)
    .transpose()
}

pub(crate) async fn record_push(pool: &Pool, push: Push) -> Result<PushOutcome> {
    let refs = accounting::references(&push);
    let full_name = push.name.to_string();
    let digest = push.digest.as_str();
    let mut client = db::conn(pool).await?;
    let tx = client.transaction().await.map_err(pg)?;

    // The quota lock: every push and delete of this repository, on any node, waits here, and
    // this read returns the latest committed usage once the lock is granted.
    let repository = opt(
        &tx,
        "SELECT id, quota, used FROM repositories WHERE name = $1 FOR NO KEY UPDATE",
        &[&push.name.repository().as_str()],
    )
    .await?
    .ok_or_else(|| Error::not_found(Entity::Repository, push.name.repository()))?;
    let repository_id: i64 = get(&repository, "id")?;
    let quota = get::<Option<i64>>(&repository, "quota")?
        .map(db::uint)
        .transpose()?;
    let used = db::get_u64(&repository, "used")?;

    // Blobs must be known; `FOR KEY SHARE` keeps garbage collection from forgetting them before
    // this transaction commits its references (see `blobs::forget_blob`).
    let wanted: Vec<&str> = push.blobs.iter().map(|b| b.digest.as_str()).collect();
    let known: HashSet<String> = rows(
        &tx,
        "SELECT digest FROM blobs WHERE digest = ANY($1) ORDER BY digest FOR KEY SHARE",
        &[&wanted],
    )
    .await?
    .iter()
    .map(|row| get(row, "digest"))
    .collect::<Result<_>>()?;
    if let Some(missing) = push
        .blobs
        .iter()
        .find(|b| !push.cached && !known.contains(b.digest.as_str()))
    {
        return Err(Error::BlobUnknown(missing.digest.clone()));
    }

    // Images and artifacts of this repository change only under the lock held above, so these
    // reads stay true until commit.
    let image_id: Option<i64> = opt(
        &tx,
        "SELECT id FROM images WHERE full_name = $1",
        &[&full_name],
    )
    .await?
    .map(|row| get(&row, "id"))
    .transpose()?;
    if !push.children.is_empty() && !push.cached {
        let present: HashSet<String> = match image_id {
            Some(image) => {
                let children: Vec<&str> = push.children.iter().map(Digest::as_str).collect();
                rows(
                    &tx,
                    "SELECT digest FROM artifacts WHERE image = $1 AND digest = ANY($2)",
                    &[&image, &children],
                )
                .await?
                .iter()
                .map(|row| get(row, "digest"))
                .collect::<Result<_>>()?
            }
            None => HashSet::new(),
        };
        if let Some(missing) = push.children.iter().find(|c| !present.contains(c.as_str())) {
            return Err(Error::ManifestUnknown(missing.clone()));
        }
    }
    let existing: Option<i64> = match image_id {
        Some(image) => opt(
            &tx,
            "SELECT id FROM artifacts WHERE image = $1 AND digest = $2",
            &[&image, &digest],
        )
        .await?
        .map(|row| get(&row, "id"))
        .transpose()?,
        None => None,
    };

    // Decide before changing anything: a refused push records nothing.
    let added = match existing {
        Some(_) => 0,
        None => {
            let digests: Vec<&str> = refs.iter().map(|r| r.digest.as_str()).collect();
            let counted: HashSet<String> = rows(
                &tx,
                "SELECT DISTINCT digest FROM artifact_refs WHERE repository = $1 AND digest = ANY($2)",
                &[&repository_id, &digests],
            )
            .await?
            .iter()
            .map(|row| get(row, "digest"))
            .collect::<Result<_>>()?;
            accounting::admit_push(&refs, |d| counted.contains(d.as_str()), used, quota)?
        }
    };

    let new_artifacts: i64 = if existing.is_some() { 0 } else { 1 };
    let image_id: i64 = match image_id {
        Some(image) => {
            exec(
                &tx,
                "UPDATE images SET last_push = GREATEST(last_push, $2),
                     artifact_count = artifact_count + $3
                 WHERE id = $1",
                &[&image, &push.at.unix_millis(), &new_artifacts],
            )
            .await?;
            image
        }
        None => {
            let image: i64 = get(
                &one(
                    &tx,
                    "INSERT INTO images (repository, name, full_name, artifact_count, last_push)
                     VALUES ($1, $2, $3, $4, $5) RETURNING id",
                    &[
                        &repository_id,
                        &push.name.image().as_str(),
                        &full_name,
                        &new_artifacts,
                        &push.at.unix_millis(),
                    ],
                )
                .await?,
                "id",
            )?;
            exec(
                &tx,
                "UPDATE repositories SET image_count = image_count + 1 WHERE id = $1",
                &[&repository_id],
            )
            .await?;
            image
        }
    };
    let artifact_id: i64 = match existing {
        Some(id) => {
            exec(
                &tx,
                "UPDATE artifacts SET pushed_at = $2 WHERE id = $1",
                &[&id, &push.at.unix_millis()],
            )
            .await?;
            id
        }
        None => {
            let annotations = serde_json::to_string(&push.annotations)
                .map_err(|e| Error::backend(crate::STORE, e))?;
            let id: i64 = get(
                &one(
                    &tx,
                    "INSERT INTO artifacts (image, digest, media_type, artifact_type, manifest_size,
                         total_size, subject, annotations, pushed_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8::text::jsonb, $9) RETURNING id",
                    &[
                        &image_id,
                        &digest,
                        &push.media_type,
                        &push.artifact_type,
                        &int(push.manifest_size)?,
                        &int(push.total_size)?,
                        &push.subject.as_ref().map(Digest::as_str),
                        &annotations,
                        &push.at.unix_millis(),
                    ],
                )
                .await?,
                "id",
            )?;
            let digests: Vec<&str> = refs.iter().map(|r| r.digest.as_str()).collect();
            let sizes: Vec<i64> = refs.iter().map(|r| int(r.size)).collect::<Result<_>>()?;
            exec(
                &tx,
                "INSERT INTO artifact_refs (artifact, repository, digest, size)
                 SELECT $1, $2, r.digest, r.size FROM unnest($3::text[], $4::bigint[])
                     AS r(digest, size)",
                &[&id, &repository_id, &digests, &sizes],
            )
            .await?;
            exec(
                &tx,
                "UPDATE repositories SET used = used + $2 WHERE id = $1",
                &[&repository_id, &int(added)?],
            )
            .await?;
            id
        }
    };
    if let Some(tag) = &push.tag {
        exec(
            &tx,
            "INSERT INTO tags (image, name, artifact) VALUES ($1, $2, $3)
             ON CONFLICT (image, name) DO UPDATE SET artifact = EXCLUDED.artifact",
            &[&image_id, &tag.as_str(), &artifact_id],
        )
        .await?;
    }
    let detail = push.tag.as_ref().map(|t| format!("tag {t}"));
    insert_event(
        &tx,
        Event {
            repository: repository_id,
            at: push.at,
            actor: &push.actor,
            action: HistoryAction::Push,
            image: Some(push.name.image().as_str()),
            target: Some(digest),
            detail: detail.as_deref(),
        },
    )
    .await?;
    let artifact = load_artifact(&tx, &full_name, digest)
        .await?
        .ok_or_else(|| Error::not_found(Entity::Artifact, digest))?;
    tx.commit().await.map_err(pg)?;
    Ok(PushOutcome {
        artifact,
        created: existing.is_none(),
        added,
        used: used + added,
    })
}

pub(crate) async fn artifact(
    pool: &Pool,
    name: &Name,
    digest: &Digest,
) -> Result<Option<Artifact>> {
    let client = db::conn(pool).await?;
    load_artifact(&client, &name.to_string(), digest.as_str()).await
}

pub(crate) async fn resolve_tag(pool: &Pool, name: &Name, tag: &Tag) -> Result<Option<Artifact>> {
    let client = db::conn(pool).await?;
    opt(
        &client,
        concat!(
            "SELECT ",
            artifact_columns!(),
            " FROM tags tg JOIN images i ON i.id = tg.image JOIN artifacts a ON a.id = tg.artifact
              WHERE i.full_name = $1 AND tg.name = $2"
        ),
        &[&name.to_string(), &tag.as_str()],
    )
    .await?
    .as_ref()
    .map(rows::artifact)
    .transpose()
}

pub(crate) async fn list_artifacts(
    pool: &Pool,
    name: &Name,
    page: Page,
) -> Result<Paged<Artifact>> {
    let client = db::conn(pool).await?;
    let (limit, offset) = limit_offset(page);
    let full_name = name.to_string();
    let items = rows(
        &client,
        concat!(
            "SELECT ",
            artifact_columns!(),
            " FROM artifacts a WHERE a.image = (SELECT id FROM images WHERE full_name = $1)
              ORDER BY a.pushed_at DESC, a.digest LIMIT $2 OFFSET $3"
        ),
        &[&full_name, &limit, &offset],
    )
    .await?
    .iter()
    .map(rows::artifact)
    .collect::<Result<_>>()?;
    let total = one(
        &client,
        "SELECT count(*) AS n FROM artifacts
         WHERE image = (SELECT id FROM images WHERE full_name = $1)",
        &[&full_name],
    )
    .await?;
    Ok(Paged {
        items,
        total: db::get_u64(&total, "n")?,
    })
}

pub(crate) async fn list_tags(
    pool: &Pool,
    name: &Name,
    n: usize,
    last: Option<&Tag>,
) -> Result<Vec<Tag>> {
    let client = db::conn(pool).await?;
    rows(
        &client,
        "SELECT t.name FROM tags t
         WHERE t.image = (SELECT id FROM images WHERE full_name = $1)
           AND ($2::text IS NULL OR t.name > $2)
         ORDER BY t.name LIMIT $3",
        &[&name.to_string(), &last.map(Tag::as_str), &limit(n)],
    )
    .await?
    .iter()
    .map(|row| rows::tag(get(row, "name")?))
    .collect()
}

pub(crate) async fn referrers(
    pool: &Pool,
    name: &Name,
    subject: &Digest,
    artifact_type: Option<&str>,
) -> Result<Vec<Artifact>> {
    let client = db::conn(pool).await?;
    rows(
        &client,
        concat!(
            "SELECT ",
            artifact_columns!(),
            " FROM artifacts a
              WHERE a.image = (SELECT id FROM images WHERE full_name = $1) AND a.subject = $2
                AND ($3::text IS NULL OR a.artifact_type = $3)
              ORDER BY a.digest"
        ),
        &[&name.to_string(), &subject.as_str(), &artifact_type],
    )
    .await?
    .iter()
    .map(rows::artifact)
    .collect()
}

pub(crate) async fn delete_artifact(
    pool: &Pool,
    name: &Name,
    digest: &Digest,
    actor: &str,
    at: Timestamp,
) -> Result<Deletion> {
    let mut client = db::conn(pool).await?;
    let tx = client.transaction().await.map_err(pg)?;
    // The same lock as a push: usage and references change together, one writer at a time.
    let repository = opt(
        &tx,
        "SELECT id, delete_orphan_referrers FROM repositories WHERE name = $1
         FOR NO KEY UPDATE",
        &[&name.repository().as_str()],
    )
    .await?
    .ok_or_else(|| Error::not_found(Entity::Repository, name.repository()))?;
    let (repository_id, cascade): (i64, bool) = (
        get(&repository, "id")?,
        get(&repository, "delete_orphan_referrers")?,
    );
    let row = opt(
        &tx,
        "SELECT a.id, a.image FROM artifacts a JOIN images i ON i.id = a.image
         WHERE i.full_name = $1 AND a.digest = $2",
        &[&name.to_string(), &digest.as_str()],
    )
    .await?
    .ok_or_else(|| Error::not_found(Entity::Artifact, digest))?;
    let (artifact_id, image_id): (i64, i64) = (get(&row, "id")?, get(&row, "image")?);
    let mut deletion = Deletion {
        tags: Vec::new(),
        artifacts: Vec::new(),
        freed: 0,
    };
    // The artifact, then those whose subject was deleted (and theirs), via
    // artifacts_image_subject.
    let mut next = vec![(artifact_id, None::<Digest>)];
    while let Some((artifact, subject)) = next.pop() {
        let removed =
            remove_artifact(&tx, repository_id, image_id, artifact, &mut deletion).await?;
        let detail = subject.map(|s| format!("referrer of {s}"));
        insert_event(
            &tx,
            Event {
                repository: repository_id,
                at,
                actor,
                action: HistoryAction::DeleteArtifact,
                image: Some(name.image().as_str()),
                target: Some(removed.as_str()),
                detail: detail.as_deref(),
            },
        )
        .await?;
        if cascade {
            let referrers = rows(
                &tx,
                "SELECT id FROM artifacts WHERE image = $1 AND subject = $2",
                &[&image_id, &removed.as_str()],
            )
            .await?;
            for referrer in &referrers {
                next.push((get(referrer, "id")?, Some(removed.clone())));
            }
        }
    }
    finish_deletion(&tx, repository_id, image_id, &deletion).await?;
    tx.commit().await.map_err(pg)?;
    Ok(deletion)
}

pub(crate) async fn delete_image(
    pool: &Pool,
    name: &Name,
    actor: &str,
    at: Timestamp,
) -> Result<Deletion> {
    let mut client = db::conn(pool).await?;
    let tx = client.transaction().await.map_err(pg)?;
    let repository_id: i64 = get(
        &opt(
            &tx,
            "SELECT id FROM repositories WHERE name = $1 FOR NO KEY UPDATE",
            &[&name.repository().as_str()],
        )
        .await?
        .ok_or_else(|| Error::not_found(Entity::Repository, name.repository()))?,
        "id",
    )?;
    let image_id: i64 = get(
        &opt(
            &tx,
            "SELECT id FROM images WHERE full_name = $1",
            &[&name.to_string()],
        )
        .await?
        .ok_or_else(|| Error::not_found(Entity::Image, name))?,
        "id",
    )?;
    let artifacts = rows(
        &tx,
        "SELECT id FROM artifacts WHERE image = $1 ORDER BY id",
        &[&image_id],
    )
    .await?;
    let mut deletion = Deletion {
        tags: Vec::new(),
        artifacts: Vec::new(),
        freed: 0,
    };
    for artifact in &artifacts {
        remove_artifact(
            &tx,
            repository_id,
            image_id,
            get(artifact, "id")?,
            &mut deletion,
        )
        .await?;
    }
    let detail = format!("{} artifacts", deletion.artifacts.len());
    insert_event(
        &tx,
        Event {
            repository: repository_id,
            at,
            actor,
            action: HistoryAction::DeleteImage,
            image: Some(name.image().as_str()),
            target: None,
            detail: Some(&detail),
        },
    )
    .await?;
    finish_deletion(&tx, repository_id, image_id, &deletion).await?;
    tx.commit().await.map_err(pg)?;
    Ok(deletion)
}

/// Removes one artifact with its tags and references, adding what went to `deletion`; its
/// digest.
async fn remove_artifact<C: GenericClient>(
    tx: &C,
    repository_id: i64,
    image_id: i64,
    artifact_id: i64,
    deletion: &mut Deletion,
) -> Result<Digest> {
    exec(
        tx,
        "UPDATE images SET artifact_count = artifact_count - 1 WHERE id = $1",
        &[&image_id],
    )
    .await?;
    let mut tags: Vec<Tag> = rows(
        tx,
        "DELETE FROM tags WHERE artifact = $1 RETURNING name",
        &[&artifact_id],
    )
    .await?
    .iter()
    .map(|row| rows::tag(get(row, "name")?))
    .collect::<Result<_>>()?;
    tags.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    deletion.tags.extend(tags);
    let removed: Vec<(String, i64)> = rows(
        tx,
        "DELETE FROM artifact_refs WHERE artifact = $1 RETURNING digest, size",
        &[&artifact_id],
    )
    .await?
    .iter()
    .map(|row| Ok((get(row, "digest")?, get(row, "size")?)))
    .collect::<Result<_>>()?;
    let digests: Vec<&str> = removed.iter().map(|(d, _)| d.as_str()).collect();
    let still_used: HashSet<String> = rows(
        tx,
        "SELECT DISTINCT digest FROM artifact_refs WHERE repository = $1 AND digest = ANY($2)",
        &[&repository_id, &digests],
    )
    .await?
    .iter()
    .map(|row| get(row, "digest"))
    .collect::<Result<_>>()?;
    for (d, size) in &removed {
        if !still_used.contains(d) {
            deletion.freed += db::uint(*size)?;
        }
    }
    let digest: String = get(
        &one(
            tx,
            "DELETE FROM artifacts WHERE id = $1 RETURNING digest",
            &[&artifact_id],
        )
        .await?,
        "digest",
    )?;
    let digest = rows::digest(&digest)?;
    deletion.artifacts.push(digest.clone());
    Ok(digest)
}

/// After artifacts of an image were removed: the usage drops, and an image left without
/// artifacts goes.
async fn finish_deletion<C: GenericClient>(
    tx: &C,
    repository_id: i64,
    image_id: i64,
    deletion: &Deletion,
) -> Result<()> {
    let emptied = exec(
        tx,
        "DELETE FROM images WHERE id = $1 AND artifact_count = 0",
        &[&image_id],
    )
    .await?;
    exec(
        tx,
        "UPDATE repositories SET used = GREATEST(used - $2, 0),
           image_count = GREATEST(image_count - $3, 0) WHERE id = $1",
        &[&repository_id, &int(deletion.freed)?, &(emptied as i64)],
    )
    .await?;
    Ok(())
}

pub(crate) async fn delete_tag(
    pool: &Pool,
    name: &Name,
    tag: &Tag,
    actor: &str,
    at: Timestamp,
) -> Result<Deletion> {
    let mut client = db::conn(pool).await?;
    let tx = client.transaction().await.map_err(pg)?;
    let repository_id: i64 = get(
        &opt(
            &tx,
            "DELETE FROM tags t USING images i
             WHERE t.image = i.id AND i.full_name = $1 AND t.name = $2
             RETURNING i.repository",
            &[&name.to_string(), &tag.as_str()],
        )
        .await?
        .ok_or_else(|| Error::not_found(Entity::Tag, tag))?,
        "repository",
    )?;
    insert_event(
        &tx,
        Event {
            repository: repository_id,
            at,
            actor,
            action: HistoryAction::DeleteTag,
            image: Some(name.image().as_str()),
            target: Some(tag.as_str()),
            detail: None,
        },
    )
    .await?;
    tx.commit().await.map_err(pg)?;
    Ok(Deletion {
        tags: vec![tag.clone()],
        artifacts: Vec::new(),
        freed: 0,
    })
}
