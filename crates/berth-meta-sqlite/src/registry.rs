//! Repositories, images, the catalog, pushes, artifacts, tags and deletes: everything that moves
//! a repository's usage.
//!
//! Usage bookkeeping: `artifact_digests` lists, per artifact, the distinct digests it counts
//! (its blobs and its own manifest) with their sizes; `repository_digests` counts, per
//! repository and digest, the artifacts that reference it; a digest adds its size to
//! `repositories.used` when its count goes from 0 to 1 and frees it when the count returns to 0.
//! `digest_refs` is the same count over all repositories, for garbage collection.

use std::collections::HashSet;

use berth_meta::{
    Access, AccountId, Artifact, ArtifactId, BlobRef, CatalogScope, Deletion, Entity, Error,
    HistoryAction, HistoryEvent, Image, ImageId, NewRepository, Page, Paged, Push, PushOutcome,
    Repository, RepositoryId, RepositoryUpdate, Timestamp, accounting,
};
use berth_model::{Digest, Name, RepositoryName, Tag, UploadId};
use rusqlite::{Connection, OptionalExtension as _, params};

use crate::accounts::{insert_history, repository_key};
use crate::error::{Res, backend, unique};
use crate::rows;

pub(crate) fn create_repository(
    c: &Connection,
    new: &NewRepository,
    actor: &str,
    at: Timestamp,
) -> Res<Repository> {
    let account_exists = c
        .prepare_cached("SELECT 1 FROM accounts WHERE id = ?1")?
        .exists([new.account.0])?;
    if !account_exists {
        return Err(Error::not_found(Entity::Account, new.account).into());
    }
    let proxy_registry: Option<i64> = match &new.proxy {
        Some(proxy) => Some(
            c.prepare_cached("SELECT id FROM remote_registries WHERE account = ?1 AND name = ?2")?
                .query_row(params![new.account.0, proxy.registry.as_str()], |r| {
                    r.get(0)
                })
                .optional()?
                .ok_or_else(|| Error::not_found(Entity::RemoteRegistry, &proxy.registry))?,
        ),
        None => None,
    };
    let id: i64 = c
        .prepare_cached(
            "INSERT INTO repositories (account, name, access, quota, used, created, \
             delete_orphan_referrers, proxy_registry, proxy_namespace) \
             VALUES (?1, ?2, ?3, ?4, 0, ?5, ?6, ?7, ?8) RETURNING id",
        )?
        .query_row(
            params![
                new.account.0,
                new.name.as_str(),
                new.access.as_str(),
                new.quota,
                at.unix_millis(),
                new.delete_orphan_referrers,
                proxy_registry,
                new.proxy
                    .as_ref()
                    .and_then(|p| p.namespace.as_ref())
                    .map(|n| n.as_str()),
            ],
            |r| r.get(0),
        )
        .map_err(unique(Entity::Repository, &new.name))?;
    let id = RepositoryId(id);
    insert_history(
        c,
        id,
        &HistoryEvent {
            at,
            actor: actor.to_owned(),
            action: HistoryAction::Create,
            repository: new.name.clone(),
            image: None,
            target: None,
            detail: Some(format!("access {}", new.access.as_str())),
        },
    )?;
    Ok(Repository {
        id,
        account: new.account,
        name: new.name.clone(),
        access: new.access,
        quota: new.quota,
        used: 0,
        image_count: 0,
        delete_orphan_referrers: new.delete_orphan_referrers,
        proxy: new.proxy.clone(),
        created: at,
    })
}

pub(crate) fn repository(c: &Connection, name: &RepositoryName) -> Res<Option<Repository>> {
    let sql = format!(
        "SELECT {} FROM repositories r WHERE r.name = ?1",
        rows::REPOSITORY
    );
    Ok(c.prepare_cached(&sql)?
        .query_row([name.as_str()], rows::repository)
        .optional()?)
}

fn existing_repository(c: &Connection, name: &RepositoryName) -> Res<Repository> {
    repository(c, name)?.ok_or_else(|| Error::not_found(Entity::Repository, name).into())
}

pub(crate) fn update_repository(
    c: &Connection,
    name: &RepositoryName,
    update: &RepositoryUpdate,
    actor: &str,
    at: Timestamp,
) -> Res<Repository> {
    let (id, _) = repository_key(c, name)?;
    if let Some(access) = update.access {
        c.prepare_cached("UPDATE repositories SET access = ?2 WHERE id = ?1")?
            .execute(params![id.0, access.as_str()])?;
    }
    if let Some(quota) = update.quota {
        c.prepare_cached("UPDATE repositories SET quota = ?2 WHERE id = ?1")?
            .execute(params![id.0, quota])?;
    }
    if let Some(delete) = update.delete_orphan_referrers {
        c.prepare_cached("UPDATE repositories SET delete_orphan_referrers = ?2 WHERE id = ?1")?
            .execute(params![id.0, delete])?;
    }
    insert_history(
        c,
        id,
        &HistoryEvent {
            at,
            actor: actor.to_owned(),
            action: HistoryAction::Update,
            repository: name.clone(),
            image: None,
            target: None,
            detail: None,
        },
    )?;
    existing_repository(c, name)
}

pub(crate) fn list_repositories(
    c: &Connection,
    account: AccountId,
    page: Page,
) -> Res<Paged<Repository>> {
    let (limit, offset) = rows::page(page);
    let sql = format!(
        "SELECT {} FROM repositories r WHERE r.account = ?1 ORDER BY r.name LIMIT ?2 OFFSET ?3",
        rows::REPOSITORY
    );
    let items = c
        .prepare_cached(&sql)?
        .query_map(params![account.0, limit, offset], rows::repository)?
        .collect::<rusqlite::Result<_>>()?;
    let total = c
        .prepare_cached("SELECT count(*) FROM repositories WHERE account = ?1")?
        .query_row([account.0], |r| r.get(0))?;
    Ok(Paged { items, total })
}

/// The text an image is found by: `images.full_name` has a unique index.
fn full_name(name: &Name) -> String {
    name.to_string()
}

pub(crate) fn image(c: &Connection, name: &Name) -> Res<Option<Image>> {
    let sql = format!(
        "SELECT {} FROM images i WHERE i.full_name = ?1",
        rows::IMAGE
    );
    Ok(c.prepare_cached(&sql)?
        .query_row([full_name(name)], rows::image)
        .optional()?)
}

fn image_id(c: &Connection, name: &Name) -> Res<Option<ImageId>> {
    Ok(
        c.prepare_cached("SELECT id FROM images WHERE full_name = ?1")?
            .query_row([full_name(name)], |r| Ok(ImageId(r.get(0)?)))
            .optional()?,
    )
}

pub(crate) fn list_images(
    c: &Connection,
    repository: &RepositoryName,
    name_contains: Option<&str>,
    page: Page,
) -> Res<Paged<Image>> {
    let (limit, offset) = rows::page(page);
    // Walks `images_by_repository` in name order; the filter is checked on each entry of the
    // repository's range (SQLite's LIKE ignores the case of ASCII letters only, as the contract
    // says).
    let pattern = name_contains.map(berth_meta::like_contains_pattern);
    let sql = format!(
        "SELECT {} FROM images i JOIN repositories r ON r.id = i.repository \
         WHERE r.name = ?1 AND (?4 IS NULL OR i.name LIKE ?4 ESCAPE '\\') \
         ORDER BY i.name LIMIT ?2 OFFSET ?3",
        rows::IMAGE
    );
    let items = c
        .prepare_cached(&sql)?
        .query_map(
            params![repository.as_str(), limit, offset, pattern],
            rows::image,
        )?
        .collect::<rusqlite::Result<_>>()?;
    let total = c
        .prepare_cached(
            "SELECT count(*) FROM images i JOIN repositories r ON r.id = i.repository \
             WHERE r.name = ?1 AND (?2 IS NULL OR i.name LIKE ?2 ESCAPE '\\')",
        )?
        .query_row(params![repository.as_str(), pattern], |r| r.get(0))?;
    Ok(Paged { items, total })
}

pub(crate) fn delete_repository(c: &Connection, name: &RepositoryName) -> Res<Vec<UploadId>> {
    // Under the write lock (BEGIN IMMEDIATE): no push, in this process or another, can add an
    // artifact between this check and the commit; one that waited finds no repository.
    let (id, _) = repository_key(c, name)?;
    let images: u64 = c
        .prepare_cached("SELECT count(*) FROM images WHERE repository = ?1 AND artifact_count > 0")?
        .query_row([id.0], |r| r.get(0))?;
    if images > 0 {
        return Err(Error::RepositoryNotEmpty {
            name: name.clone(),
            images,
        }
        .into());
    }
    let sessions = c
        .prepare_cached("DELETE FROM uploads WHERE repository = ?1 RETURNING id")?
        .query_map([id.0], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut sessions = sessions
        .iter()
        .map(|id| UploadId::parse(id).map_err(crate::error::backend))
        .collect::<Result<Vec<_>, _>>()?;
    sessions.sort();
    // Without artifacts there are no tags and no digest references: what refers to the
    // repository is its empty images, blob links, permissions, history and upload sessions. A
    // row missed here would fail the foreign-key check of the last delete rather than be left
    // dangling.
    for sql in [
        "DELETE FROM images WHERE repository = ?1",
        "DELETE FROM blob_links WHERE repository = ?1",
        "DELETE FROM repository_user_permissions WHERE repository = ?1",
        "DELETE FROM history WHERE repository = ?1",
        "DELETE FROM repositories WHERE id = ?1",
    ] {
        c.prepare_cached(sql)?.execute([id.0])?;
    }
    Ok(sessions)
}

pub(crate) fn catalog(
    c: &Connection,
    scope: &CatalogScope,
    n: usize,
    last: Option<&Name>,
) -> Res<Vec<Name>> {
    let (all, ids) = match scope {
        CatalogScope::All => (true, Vec::new()),
        CatalogScope::Visible(ids) => (false, ids.iter().map(|id| id.0).collect()),
    };
    // The visible ids go in as one JSON array: one statement, cached, whatever their number.
    let ids = serde_json::to_string(&ids).map_err(backend)?;
    // Walks `images_by_full_name` from `last` and stops after `n` visible names.
    let mut stmt = c.prepare_cached(
        "SELECT i.full_name FROM images i JOIN repositories r ON r.id = i.repository \
         WHERE i.full_name > ?1 \
           AND (?2 OR r.access = ?5 OR r.id IN (SELECT value FROM json_each(?3))) \
         ORDER BY i.full_name LIMIT ?4",
    )?;
    let names = stmt
        .query_map(
            params![
                last.map(full_name).unwrap_or_default(),
                all,
                ids,
                rows::limit(n),
                Access::Public.as_str(),
            ],
            |r| rows::name(r, 0),
        )?
        .collect::<rusqlite::Result<_>>()?;
    Ok(names)
}

/// The id of an image's artifact.
fn artifact_id(c: &Connection, image: ImageId, digest: &Digest) -> Res<Option<ArtifactId>> {
    Ok(
        c.prepare_cached("SELECT id FROM artifacts WHERE image = ?1 AND digest = ?2")?
            .query_row(params![image.0, digest.as_str()], |r| {
                Ok(ArtifactId(r.get(0)?))
            })
            .optional()?,
    )
}

fn artifact_by_id(c: &Connection, id: ArtifactId) -> Res<Option<Artifact>> {
    let sql = format!("SELECT {} FROM artifacts a WHERE a.id = ?1", rows::ARTIFACT);
    Ok(c.prepare_cached(&sql)?
        .query_row([id.0], rows::artifact)
        .optional()?)
}

/// How many artifacts of `repository` reference `digest`.
fn repository_refs(c: &Connection, repository: RepositoryId, digest: &str) -> Res<u64> {
    Ok(c.prepare_cached(
        "SELECT refs FROM repository_digests WHERE repository = ?1 AND digest = ?2",
    )?
    .query_row(params![repository.0, digest], |r| r.get(0))
    .optional()?
    .unwrap_or(0))
}

pub(crate) fn record_push(c: &Connection, push: &Push) -> Res<PushOutcome> {
    // Everything is checked before the first change, in the reference backend's order.
    let repository = existing_repository(c, push.name.repository())?;
    if !push.cached {
        let mut known = c.prepare_cached("SELECT 1 FROM blobs WHERE digest = ?1")?;
        for blob in &push.blobs {
            if !known.exists([blob.digest.as_str()])? {
                return Err(Error::BlobUnknown(blob.digest.clone()).into());
            }
        }
    }
    let image = image_id(c, &push.name)?;
    for child in push.children.iter().filter(|_| !push.cached) {
        let found = match image {
            Some(image) => artifact_id(c, image, child)?.is_some(),
            None => false,
        };
        if !found {
            return Err(Error::ManifestUnknown(child.clone()).into());
        }
    }
    let existing = match image {
        Some(image) => artifact_id(c, image, &push.digest)?,
        None => None,
    };
    let refs = accounting::references(push);
    let added = match existing {
        Some(_) => 0,
        None => {
            // Read under this transaction's write lock (BEGIN IMMEDIATE): no other push can
            // change the usage between this check and the commit, in this process or another.
            let mut counted = HashSet::new();
            for r in &refs {
                if repository_refs(c, repository.id, r.digest.as_str())? > 0 {
                    counted.insert(r.digest.clone());
                }
            }
            accounting::admit_push(
                &refs,
                |d| counted.contains(d),
                repository.used,
                repository.quota,
            )?
        }
    };

    let image = match image {
        Some(image) => image,
        None => {
            let id = c
                .prepare_cached(
                    "INSERT INTO images (repository, name, full_name) VALUES (?1, ?2, ?3) \
                     RETURNING id",
                )?
                .query_row(
                    params![
                        repository.id.0,
                        push.name.image().as_str(),
                        full_name(&push.name)
                    ],
                    |r| r.get(0),
                )?;
            c.prepare_cached(
                "UPDATE repositories SET image_count = image_count + 1 WHERE id = ?1",
            )?
            .execute([repository.id.0])?;
            ImageId(id)
        }
    };
    let artifact = match existing {
        Some(id) => {
            c.prepare_cached("UPDATE artifacts SET pushed_at = ?2 WHERE id = ?1")?
                .execute(params![id.0, push.at.unix_millis()])?;
            id
        }
        None => insert_artifact(c, repository.id, image, push, &refs, added)?,
    };
    if let Some(tag) = &push.tag {
        c.prepare_cached(
            "INSERT INTO tags (image, name, artifact) VALUES (?1, ?2, ?3) \
             ON CONFLICT (image, name) DO UPDATE SET artifact = excluded.artifact",
        )?
        .execute(params![image.0, tag.as_str(), artifact.0])?;
    }
    c.prepare_cached(
        "UPDATE images SET last_push = max(coalesce(last_push, ?2), ?2) WHERE id = ?1",
    )?
    .execute(params![image.0, push.at.unix_millis()])?;
    insert_history(
        c,
        repository.id,
        &HistoryEvent {
            at: push.at,
            actor: push.actor.clone(),
            action: HistoryAction::Push,
            repository: push.name.repository().clone(),
            image: Some(push.name.image().clone()),
            target: Some(push.digest.to_string()),
            detail: push.tag.as_ref().map(|t| format!("tag {t}")),
        },
    )?;
    let stored = artifact_by_id(c, artifact)?
        .ok_or_else(|| Error::not_found(Entity::Artifact, &push.digest))?;
    Ok(PushOutcome {
        artifact: stored,
        created: existing.is_none(),
        added,
        used: repository.used + added,
    })
}

/// Inserts a new artifact with its digests, and counts them (and `added`) into usage.
fn insert_artifact(
    c: &Connection,
    repository: RepositoryId,
    image: ImageId,
    push: &Push,
    refs: &[BlobRef],
    added: u64,
) -> Res<ArtifactId> {
    let annotations = serde_json::to_string(&push.annotations).map_err(backend)?;
    let id: i64 = c
        .prepare_cached(
            "INSERT INTO artifacts (image, digest, media_type, artifact_type, manifest_size, \
               total_size, subject, annotations, pushed_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) RETURNING id",
        )?
        .query_row(
            params![
                image.0,
                push.digest.as_str(),
                push.media_type,
                push.artifact_type,
                push.manifest_size,
                push.total_size,
                push.subject.as_ref().map(Digest::as_str),
                annotations,
                push.at.unix_millis(),
            ],
            |r| r.get(0),
        )
        .map_err(unique(Entity::Artifact, &push.digest))?;
    let mut own = c.prepare_cached(
        "INSERT INTO artifact_digests (artifact, digest, size) VALUES (?1, ?2, ?3)",
    )?;
    let mut per_repository = c.prepare_cached(
        "INSERT INTO repository_digests (repository, digest, refs) VALUES (?1, ?2, 1) \
         ON CONFLICT (repository, digest) DO UPDATE SET refs = refs + 1",
    )?;
    let mut global = c.prepare_cached(
        "INSERT INTO digest_refs (digest, refs) VALUES (?1, 1) \
         ON CONFLICT (digest) DO UPDATE SET refs = refs + 1",
    )?;
    for r in refs {
        let digest = r.digest.as_str();
        own.execute(params![id, digest, r.size])?;
        per_repository.execute(params![repository.0, digest])?;
        global.execute([digest])?;
    }
    c.prepare_cached("UPDATE repositories SET used = used + ?2 WHERE id = ?1")?
        .execute(params![repository.0, added])?;
    c.prepare_cached("UPDATE images SET artifact_count = artifact_count + 1 WHERE id = ?1")?
        .execute([image.0])?;
    Ok(ArtifactId(id))
}

pub(crate) fn artifact(c: &Connection, name: &Name, digest: &Digest) -> Res<Option<Artifact>> {
    let sql = format!(
        "SELECT {} FROM artifacts a JOIN images i ON i.id = a.image \
         WHERE i.full_name = ?1 AND a.digest = ?2",
        rows::ARTIFACT
    );
    Ok(c.prepare_cached(&sql)?
        .query_row(params![full_name(name), digest.as_str()], rows::artifact)
        .optional()?)
}

pub(crate) fn resolve_tag(c: &Connection, name: &Name, tag: &Tag) -> Res<Option<Artifact>> {
    // The pull-by-tag path: two primary-key lookups and the artifact's row.
    let sql = format!(
        "SELECT {} FROM images i JOIN tags t ON t.image = i.id JOIN artifacts a ON a.id = t.artifact \
         WHERE i.full_name = ?1 AND t.name = ?2",
        rows::ARTIFACT
    );
    Ok(c.prepare_cached(&sql)?
        .query_row(params![full_name(name), tag.as_str()], rows::artifact)
        .optional()?)
}

pub(crate) fn list_artifacts(c: &Connection, name: &Name, page: Page) -> Res<Paged<Artifact>> {
    let Some(image) = image_id(c, name)? else {
        return Ok(Paged {
            items: Vec::new(),
            total: 0,
        });
    };
    let (limit, offset) = rows::page(page);
    let sql = format!(
        "SELECT {} FROM artifacts a WHERE a.image = ?1 \
         ORDER BY a.pushed_at DESC, a.digest LIMIT ?2 OFFSET ?3",
        rows::ARTIFACT
    );
    let items = c
        .prepare_cached(&sql)?
        .query_map(params![image.0, limit, offset], rows::artifact)?
        .collect::<rusqlite::Result<_>>()?;
    let total = c
        .prepare_cached("SELECT count(*) FROM artifacts WHERE image = ?1")?
        .query_row([image.0], |r| r.get(0))?;
    Ok(Paged { items, total })
}

pub(crate) fn list_tags(
    c: &Connection,
    name: &Name,
    n: usize,
    last: Option<&Tag>,
) -> Res<Vec<Tag>> {
    // A keyset walk of the tags' primary key (image, name) from `last`.
    let tags = c
        .prepare_cached(
            "SELECT t.name FROM images i JOIN tags t ON t.image = i.id \
             WHERE i.full_name = ?1 AND t.name > ?2 ORDER BY t.name LIMIT ?3",
        )?
        .query_map(
            params![
                full_name(name),
                last.map(Tag::as_str).unwrap_or_default(),
                rows::limit(n)
            ],
            |r| rows::tag(r, 0),
        )?
        .collect::<rusqlite::Result<_>>()?;
    Ok(tags)
}

pub(crate) fn referrers(
    c: &Connection,
    name: &Name,
    subject: &Digest,
    artifact_type: Option<&str>,
) -> Res<Vec<Artifact>> {
    let sql = format!(
        "SELECT {} FROM artifacts a JOIN images i ON i.id = a.image \
         WHERE i.full_name = ?1 AND a.subject = ?2 \
           AND (?3 IS NULL OR a.artifact_type = ?3) \
         ORDER BY a.digest",
        rows::ARTIFACT
    );
    let out = c
        .prepare_cached(&sql)?
        .query_map(
            params![full_name(name), subject.as_str(), artifact_type],
            rows::artifact,
        )?
        .collect::<rusqlite::Result<_>>()?;
    Ok(out)
}

pub(crate) fn delete_artifact(
    c: &Connection,
    name: &Name,
    digest: &Digest,
    actor: &str,
    at: Timestamp,
) -> Res<Deletion> {
    let repository = existing_repository(c, name.repository())?;
    let image = image_id(c, name)?;
    let artifact = match image {
        Some(image) => artifact_id(c, image, digest)?,
        None => None,
    };
    let (Some(image), Some(artifact)) = (image, artifact) else {
        return Err(Error::not_found(Entity::Artifact, digest).into());
    };
    let mut deletion = Deletion {
        tags: Vec::new(),
        artifacts: Vec::new(),
        freed: 0,
    };
    // The artifact, then those whose subject was deleted (and theirs), via artifacts_by_subject.
    let mut next = vec![(artifact, None::<Digest>)];
    while let Some((artifact, subject)) = next.pop() {
        let removed = remove_artifact(c, repository.id, image, artifact, &mut deletion)?;
        insert_history(
            c,
            repository.id,
            &HistoryEvent {
                at,
                actor: actor.to_owned(),
                action: HistoryAction::DeleteArtifact,
                repository: name.repository().clone(),
                image: Some(name.image().clone()),
                target: Some(removed.to_string()),
                detail: subject.map(|s| format!("referrer of {s}")),
            },
        )?;
        if repository.delete_orphan_referrers {
            let referrers = c
                .prepare_cached("SELECT id FROM artifacts WHERE image = ?1 AND subject = ?2")?
                .query_map(params![image.0, removed.as_str()], |r| {
                    Ok(ArtifactId(r.get(0)?))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            next.extend(referrers.into_iter().map(|r| (r, Some(removed.clone()))));
        }
    }
    finish_deletion(c, repository.id, image, &deletion)?;
    Ok(deletion)
}

pub(crate) fn delete_image(
    c: &Connection,
    name: &Name,
    actor: &str,
    at: Timestamp,
) -> Res<Deletion> {
    let (repository, _) = repository_key(c, name.repository())?;
    let image = image_id(c, name)?.ok_or_else(|| Error::not_found(Entity::Image, name))?;
    let artifacts = c
        .prepare_cached("SELECT id FROM artifacts WHERE image = ?1 ORDER BY id")?
        .query_map([image.0], |r| Ok(ArtifactId(r.get(0)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut deletion = Deletion {
        tags: Vec::new(),
        artifacts: Vec::new(),
        freed: 0,
    };
    for artifact in artifacts {
        remove_artifact(c, repository, image, artifact, &mut deletion)?;
    }
    insert_history(
        c,
        repository,
        &HistoryEvent {
            at,
            actor: actor.to_owned(),
            action: HistoryAction::DeleteImage,
            repository: name.repository().clone(),
            image: Some(name.image().clone()),
            target: None,
            detail: Some(format!("{} artifacts", deletion.artifacts.len())),
        },
    )?;
    finish_deletion(c, repository, image, &deletion)?;
    Ok(deletion)
}

/// Removes one artifact with its tags and references, adding what went to `deletion`; its
/// digest.
fn remove_artifact(
    c: &Connection,
    repository: RepositoryId,
    image: ImageId,
    artifact: ArtifactId,
    deletion: &mut Deletion,
) -> Res<Digest> {
    let digest: String = c
        .prepare_cached("SELECT digest FROM artifacts WHERE id = ?1")?
        .query_row([artifact.0], |r| r.get(0))?;
    let tags: Vec<Tag> = c
        .prepare_cached("SELECT name FROM tags WHERE artifact = ?1 ORDER BY name")?
        .query_map([artifact.0], |r| rows::tag(r, 0))?
        .collect::<rusqlite::Result<_>>()?;
    c.prepare_cached("DELETE FROM tags WHERE artifact = ?1")?
        .execute([artifact.0])?;
    deletion.tags.extend(tags);
    let digests: Vec<(String, u64)> = c
        .prepare_cached("SELECT digest, size FROM artifact_digests WHERE artifact = ?1")?
        .query_map([artifact.0], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (digest, size) in &digests {
        if release(c, repository, digest)? {
            deletion.freed += size;
        }
    }
    c.prepare_cached("DELETE FROM artifact_digests WHERE artifact = ?1")?
        .execute([artifact.0])?;
    c.prepare_cached("DELETE FROM artifacts WHERE id = ?1")?
        .execute([artifact.0])?;
    c.prepare_cached(
        "UPDATE images SET artifact_count = max(artifact_count - 1, 0) WHERE id = ?1",
    )?
    .execute([image.0])?;
    let digest = Digest::parse(&digest).map_err(backend)?;
    deletion.artifacts.push(digest.clone());
    Ok(digest)
}

/// After artifacts of `image` were removed: the usage drops, and an image left without artifacts
/// goes.
fn finish_deletion(
    c: &Connection,
    repository: RepositoryId,
    image: ImageId,
    deletion: &Deletion,
) -> Res<()> {
    c.prepare_cached("UPDATE repositories SET used = max(used - ?2, 0) WHERE id = ?1")?
        .execute(params![repository.0, deletion.freed])?;
    let emptied = c
        .prepare_cached("DELETE FROM images WHERE id = ?1 AND artifact_count = 0")?
        .execute([image.0])?;
    if emptied > 0 {
        c.prepare_cached(
            "UPDATE repositories SET image_count = max(image_count - 1, 0) WHERE id = ?1",
        )?
        .execute([repository.0])?;
    }
    Ok(())
}

/// Drops one reference to `digest` from `repository` and from the global count; whether the
/// repository's count reached zero (its size leaves usage).
fn release(c: &Connection, repository: RepositoryId, digest: &str) -> Res<bool> {
    let freed = repository_refs(c, repository, digest)? <= 1;
    if freed {
        c.prepare_cached("DELETE FROM repository_digests WHERE repository = ?1 AND digest = ?2")?
            .execute(params![repository.0, digest])?;
    } else {
        c.prepare_cached(
            "UPDATE repository_digests SET refs = refs - 1 WHERE repository = ?1 AND digest = ?2",
        )?
        .execute(params![repository.0, digest])?;
    }
    c.prepare_cached("DELETE FROM digest_refs WHERE digest = ?1 AND refs <= 1")?
        .execute([digest])?;
    c.prepare_cached("UPDATE digest_refs SET refs = refs - 1 WHERE digest = ?1")?
        .execute([digest])?;
    Ok(freed)
}

pub(crate) fn delete_tag(
    c: &Connection,
    name: &Name,
    tag: &Tag,
    actor: &str,
    at: Timestamp,
) -> Res<Deletion> {
    let image = image_id(c, name)?.ok_or_else(|| Error::not_found(Entity::Tag, tag))?;
    let removed = c
        .prepare_cached("DELETE FROM tags WHERE image = ?1 AND name = ?2")?
        .execute(params![image.0, tag.as_str()])?;
    if removed == 0 {
        return Err(Error::not_found(Entity::Tag, tag).into());
    }
    let (repository, _) = repository_key(c, name.repository())?;
    insert_history(
        c,
        repository,
        &HistoryEvent {
            at,
            actor: actor.to_owned(),
            action: HistoryAction::DeleteTag,
            repository: name.repository().clone(),
            image: Some(name.image().clone()),
            target: Some(tag.to_string()),
            detail: None,
        },
    )?;
    Ok(Deletion {
        tags: vec![tag.clone()],
        artifacts: Vec::new(),
        freed: 0,
    })
}
