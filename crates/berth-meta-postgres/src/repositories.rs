//! Repositories, images, the catalog, and history.

use berth_meta::*;
use berth_model::{Name, RepositoryName, UploadId};
use deadpool_postgres::{GenericClient, Pool};

use crate::db::{self, exec, get, limit, limit_offset, one, opt, pg, rows, unique};
use crate::rows::{self, image_columns, repository_columns};

/// One history row; `repository` is the repository's id.
pub(crate) struct Event<'a> {
    pub(crate) repository: i64,
    pub(crate) at: Timestamp,
    pub(crate) actor: &'a str,
    pub(crate) action: HistoryAction,
    pub(crate) image: Option<&'a str>,
    pub(crate) target: Option<&'a str>,
    pub(crate) detail: Option<&'a str>,
}

/// Appends a history row (in the caller's transaction).
pub(crate) async fn insert_event<C: GenericClient>(c: &C, e: Event<'_>) -> Result<()> {
    exec(
        c,
        "INSERT INTO history (repository, at, actor, action, image, target, detail)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            &e.repository,
            &e.at.unix_millis(),
            &e.actor,
            &e.action.as_str(),
            &e.image,
            &e.target,
            &e.detail,
        ],
    )
    .await?;
    Ok(())
}

pub(crate) async fn create_repository(
    pool: &Pool,
    new: NewRepository,
    actor: &str,
    at: Timestamp,
) -> Result<Repository> {
    let mut client = db::conn(pool).await?;
    let tx = client.transaction().await.map_err(pg)?;
    // A missing account is reported before a taken name, as the contract's reference does.
    if opt(
        &tx,
        "SELECT 1 FROM accounts WHERE id = $1",
        &[&new.account.0],
    )
    .await?
    .is_none()
    {
        return Err(Error::not_found(Entity::Account, new.account));
    }
    let proxy_registry: Option<i64> = match &new.proxy {
        Some(proxy) => Some(
            opt(
                &tx,
                "SELECT id FROM remote_registries WHERE account = $1 AND name = $2 FOR KEY SHARE",
                &[&new.account.0, &proxy.registry.as_str()],
            )
            .await?
            .ok_or_else(|| Error::not_found(Entity::RemoteRegistry, &proxy.registry))?
            .try_get("id")
            .map_err(pg)?,
        ),
        None => None,
    };
    let namespace = new
        .proxy
        .as_ref()
        .and_then(|p| p.namespace.as_ref())
        .map(|n| n.as_str());
    let row = tx
        .query_one(
            concat!(
                "INSERT INTO repositories AS r (account, name, access, quota, created,
                   delete_orphan_referrers, proxy_registry, proxy_namespace)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING ",
                repository_columns!()
            ),
            &[
                &new.account.0,
                &new.name.as_str(),
                &new.access.as_str(),
                &db::quota(new.quota),
                &at.unix_millis(),
                &new.delete_orphan_referrers,
                &proxy_registry,
                &namespace,
            ],
        )
        .await
        .map_err(unique(Entity::Repository, &new.name))?;
    let repository = rows::repository(&row)?;
    let detail = format!("access {}", new.access.as_str());
    insert_event(
        &tx,
        Event {
            repository: repository.id.0,
            at,
            actor,
            action: HistoryAction::Create,
            image: None,
            target: None,
            detail: Some(&detail),
        },
    )
    .await?;
    tx.commit().await.map_err(pg)?;
    Ok(repository)
}

pub(crate) async fn repository(pool: &Pool, name: &RepositoryName) -> Result<Option<Repository>> {
    let client = db::conn(pool).await?;
    opt(
        &client,
        concat!(
            "SELECT ",
            repository_columns!(),
            " FROM repositories r WHERE r.name = $1"
        ),
        &[&name.as_str()],
    )
    .await?
    .as_ref()
    .map(rows::repository)
    .transpose()
}

pub(crate) async fn update_repository(
    pool: &Pool,
    name: &RepositoryName,
    update: RepositoryUpdate,
    actor: &str,
    at: Timestamp,
) -> Result<Repository> {
    let mut client = db::conn(pool).await?;
    let tx = client.transaction().await.map_err(pg)?;
    let access = update.access.map(Access::as_str);
    let set_quota = update.quota.is_some();
    let quota = db::quota(update.quota.flatten());
    let row = opt(
        &tx,
        concat!(
            "UPDATE repositories AS r
             SET access = COALESCE($2, r.access),
                 quota = CASE WHEN $3 THEN $4 ELSE r.quota END,
                 delete_orphan_referrers = COALESCE($5, r.delete_orphan_referrers)
             WHERE r.name = $1 RETURNING ",
            repository_columns!()
        ),
        &[
            &name.as_str(),
            &access,
            &set_quota,
            &quota,
            &update.delete_orphan_referrers,
        ],
    )
    .await?
    .ok_or_else(|| Error::not_found(Entity::Repository, name))?;
    let repository = rows::repository(&row)?;
    insert_event(
        &tx,
        Event {
            repository: repository.id.0,
            at,
            actor,
            action: HistoryAction::Update,
            image: None,
            target: None,
            detail: None,
        },
    )
    .await?;
    tx.commit().await.map_err(pg)?;
    Ok(repository)
}

pub(crate) async fn list_repositories(
    pool: &Pool,
    account: AccountId,
    page: Page,
) -> Result<Paged<Repository>> {
    let client = db::conn(pool).await?;
    let (limit, offset) = limit_offset(page);
    let items = rows(
        &client,
        concat!(
            "SELECT ",
            repository_columns!(),
            " FROM repositories r WHERE r.account = $1 ORDER BY r.name LIMIT $2 OFFSET $3"
        ),
        &[&account.0, &limit, &offset],
    )
    .await?
    .iter()
    .map(rows::repository)
    .collect::<Result<_>>()?;
    let total = one(
        &client,
        "SELECT count(*) AS n FROM repositories WHERE account = $1",
        &[&account.0],
    )
    .await?;
    Ok(Paged {
        items,
        total: db::get_u64(&total, "n")?,
    })
}

pub(crate) async fn image(pool: &Pool, name: &Name) -> Result<Option<Image>> {
    let client = db::conn(pool).await?;
    opt(
        &client,
        concat!(
            "SELECT ",
            image_columns!(),
            " FROM images i WHERE i.full_name = $1"
        ),
        &[&name.to_string()],
    )
    .await?
    .as_ref()
    .map(rows::image)
    .transpose()
}

pub(crate) async fn list_images(
    pool: &Pool,
    repository: &RepositoryName,
    name_contains: Option<&str>,
    page: Page,
) -> Result<Paged<Image>> {
    let client = db::conn(pool).await?;
    let (limit, offset) = limit_offset(page);
    // A range scan of images_repository_name_key in name order, the filter checked on each row
    // of the repository's range. ILIKE under the "C" collation of `name` folds ASCII letters
    // only, as the contract says.
    let pattern = name_contains.map(berth_meta::like_contains_pattern);
    let items = rows(
        &client,
        concat!(
            "SELECT ",
            image_columns!(),
            " FROM images i WHERE i.repository = (SELECT id FROM repositories WHERE name = $1)
                AND ($4::text IS NULL OR i.name ILIKE $4 ESCAPE '\\')
              ORDER BY i.name LIMIT $2 OFFSET $3"
        ),
        &[&repository.as_str(), &limit, &offset, &pattern],
    )
    .await?
    .iter()
    .map(rows::image)
    .collect::<Result<_>>()?;
    let total = one(
        &client,
        "SELECT count(*) AS n FROM images i
         WHERE i.repository = (SELECT id FROM repositories WHERE name = $1)
           AND ($2::text IS NULL OR i.name ILIKE $2 ESCAPE '\\')",
        &[&repository.as_str(), &pattern],
    )
    .await?;
    Ok(Paged {
        items,
        total: db::get_u64(&total, "n")?,
    })
}

pub(crate) async fn delete_repository(pool: &Pool, name: &RepositoryName) -> Result<Vec<UploadId>> {
    let mut client = db::conn(pool).await?;
    let tx = client.transaction().await.map_err(pg)?;
    // `FOR UPDATE` conflicts with the `FOR NO KEY UPDATE` every push and artifact delete takes
    // first, and with the `FOR KEY SHARE` of anything that is about to insert a row referring to
    // the repository. A push that locked first has committed its artifact by the time the count
    // below runs (a new statement, a new snapshot); a push that waits finds the row gone and
    // reports the repository unknown.
    let id: i64 = get(
        &opt(
            &tx,
            "SELECT id FROM repositories WHERE name = $1 FOR UPDATE",
            &[&name.as_str()],
        )
        .await?
        .ok_or_else(|| Error::not_found(Entity::Repository, name))?,
        "id",
    )?;
    let images = db::get_u64(
        &one(
            &tx,
            "SELECT count(*) AS n FROM images WHERE repository = $1 AND artifact_count > 0",
            &[&id],
        )
        .await?,
        "n",
    )?;
    if images > 0 {
        return Err(Error::RepositoryNotEmpty {
            name: name.clone(),
            images,
        });
    }
    let mut sessions = rows(
        &tx,
        "DELETE FROM uploads WHERE repository = $1 RETURNING id",
        &[&id],
    )
    .await?
    .iter()
    .map(|row| {
        let id: &str = get(row, "id")?;
        UploadId::parse(id).map_err(|e| db::corrupt(format!("upload id {id:?}: {e}")))
    })
    .collect::<Result<Vec<_>>>()?;
    sessions.sort();
    // Without artifacts there are no tags and no references: what refers to the repository is
    // its empty images, blob links, permissions, history and upload sessions. A row missed here
    // would fail the foreign-key check of the last delete rather than be left dangling.
    for sql in [
        "DELETE FROM images WHERE repository = $1",
        "DELETE FROM blob_links WHERE repository = $1",
        "DELETE FROM repository_user_permissions WHERE repository = $1",
        "DELETE FROM history WHERE repository = $1",
        "DELETE FROM repositories WHERE id = $1",
    ] {
        exec(&tx, sql, &[&id]).await?;
    }
    tx.commit().await.map_err(pg)?;
    Ok(sessions)
}

pub(crate) async fn catalog(
    pool: &Pool,
    scope: &CatalogScope,
    n: usize,
    last: Option<&Name>,
) -> Result<Vec<Name>> {
    let client = db::conn(pool).await?;
    let (all, visible) = match scope {
        CatalogScope::All => (true, Vec::new()),
        CatalogScope::Visible(ids) => (false, ids.iter().map(|id| id.0).collect()),
    };
    let last = last.map(ToString::to_string);
    // Walks images_full_name_key from `last`: the order of full names, not of (repository,
    // image), is the catalog's.
    rows(
        &client,
        "SELECT i.full_name FROM images i JOIN repositories r ON r.id = i.repository
         WHERE ($1::text IS NULL OR i.full_name > $1)
           AND ($2 OR r.access = 'public' OR r.id = ANY($3))
         ORDER BY i.full_name LIMIT $4",
        &[&last, &all, &visible, &limit(n)],
    )
    .await?
    .iter()
    .map(|row| rows::full_name(get(row, "full_name")?))
    .collect()
}

pub(crate) async fn history(
    pool: &Pool,
    repository: &RepositoryName,
    page: Page,
) -> Result<Paged<HistoryEvent>> {
    let client = db::conn(pool).await?;
    let (limit, offset) = limit_offset(page);
    let items = rows(
        &client,
        "SELECT h.at, h.actor, h.action, $1::text AS repository, h.image, h.target, h.detail
         FROM history h WHERE h.repository = (SELECT id FROM repositories WHERE name = $1)
         ORDER BY h.at DESC, h.id DESC LIMIT $2 OFFSET $3",
        &[&repository.as_str(), &limit, &offset],
    )
    .await?
    .iter()
    .map(rows::event)
    .collect::<Result<_>>()?;
    let total = one(
        &client,
        "SELECT count(*) AS n FROM history
         WHERE repository = (SELECT id FROM repositories WHERE name = $1)",
        &[&repository.as_str()],
    )
    .await?;
    Ok(Paged {
        items,
        total: db::get_u64(&total, "n")?,
    })
}
