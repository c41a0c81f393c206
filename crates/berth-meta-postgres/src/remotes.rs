//! Remote registries.

use berth_meta::*;
use berth_model::RegistryName;
use deadpool_postgres::Pool;

use crate::db::{self, exec, get, opt, pg, rows, unique};
use crate::rows::{self, remote_registry_columns};

pub(crate) async fn create(
    pool: &Pool,
    new: NewRemoteRegistry,
    at: Timestamp,
) -> Result<RemoteRegistry> {
    let mut client = db::conn(pool).await?;
    let tx = client.transaction().await.map_err(pg)?;
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
    let row = tx
        .query_one(
            concat!(
                "INSERT INTO remote_registries AS g (account, name, url, username, password, \
                 insecure, created) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ",
                remote_registry_columns!()
            ),
            &[
                &new.account.0,
                &new.name.as_str(),
                &new.url,
                &new.username,
                &new.sealed_password,
                &new.insecure,
                &at.unix_millis(),
            ],
        )
        .await
        .map_err(unique(Entity::RemoteRegistry, &new.name))?;
    let registry = rows::remote_registry(&row)?;
    tx.commit().await.map_err(pg)?;
    Ok(registry)
}

pub(crate) async fn get_one(
    pool: &Pool,
    account: AccountId,
    name: &RegistryName,
) -> Result<Option<RemoteRegistry>> {
    let client = db::conn(pool).await?;
    opt(
        &client,
        concat!(
            "SELECT ",
            remote_registry_columns!(),
            " FROM remote_registries g WHERE g.account = $1 AND g.name = $2"
        ),
        &[&account.0, &name.as_str()],
    )
    .await?
    .map(|row| rows::remote_registry(&row))
    .transpose()
}

pub(crate) async fn list(pool: &Pool, account: AccountId) -> Result<Vec<RemoteRegistry>> {
    let client = db::conn(pool).await?;
    rows(
        &client,
        concat!(
            "SELECT ",
            remote_registry_columns!(),
            " FROM remote_registries g WHERE g.account = $1 ORDER BY g.name"
        ),
        &[&account.0],
    )
    .await?
    .iter()
    .map(rows::remote_registry)
    .collect()
}

pub(crate) async fn update(
    pool: &Pool,
    account: AccountId,
    name: &RegistryName,
    update: RemoteRegistryUpdate,
) -> Result<RemoteRegistry> {
    let client = db::conn(pool).await?;
    let (set_username, username) = match update.username {
        Some(u) => (true, u),
        None => (false, None),
    };
    let (set_password, password) = match update.sealed_password {
        Some(p) => (true, p),
        None => (false, None),
    };
    opt(
        &client,
        concat!(
            "UPDATE remote_registries AS g
             SET url = COALESCE($3, g.url),
                 username = CASE WHEN $4 THEN $5 ELSE g.username END,
                 password = CASE WHEN $6 THEN $7 ELSE g.password END,
                 insecure = COALESCE($8, g.insecure)
             WHERE g.account = $1 AND g.name = $2 RETURNING ",
            remote_registry_columns!()
        ),
        &[
            &account.0,
            &name.as_str(),
            &update.url,
            &set_username,
            &username,
            &set_password,
            &password,
            &update.insecure,
        ],
    )
    .await?
    .map(|row| rows::remote_registry(&row))
    .transpose()?
    .ok_or_else(|| Error::not_found(Entity::RemoteRegistry, name))
}

pub(crate) async fn delete(pool: &Pool, account: AccountId, name: &RegistryName) -> Result<()> {
    let mut client = db::conn(pool).await?;
    let tx = client.transaction().await.map_err(pg)?;
    // The row lock waits out a proxy repository being created on it (which takes KEY SHARE).
    let Some(row) = opt(
        &tx,
        "SELECT id FROM remote_registries WHERE account = $1 AND name = $2 FOR UPDATE",
        &[&account.0, &name.as_str()],
    )
    .await?
    else {
        return Err(Error::not_found(Entity::RemoteRegistry, name));
    };
    let id: i64 = get(&row, "id")?;
    if let Some(user) = opt(
        &tx,
        "SELECT name FROM repositories WHERE proxy_registry = $1 ORDER BY name LIMIT 1",
        &[&id],
    )
    .await?
    {
        return Err(Error::RegistryInUse {
            registry: name.clone(),
            repository: rows::repository_name(get(&user, "name")?)?,
        });
    }
    if let Some(rule) = crate::replication::rule_using(&tx, id).await? {
        return Err(Error::RegistryUsedByRule {
            registry: name.clone(),
            rule,
        });
    }
    exec(&tx, "DELETE FROM remote_registries WHERE id = $1", &[&id]).await?;
    tx.commit().await.map_err(pg)?;
    Ok(())
}
