//! Remote registries.

use berth_meta::{
    AccountId, Entity, Error, NewRemoteRegistry, RemoteRegistry, RemoteRegistryId,
    RemoteRegistryUpdate, Timestamp,
};
use berth_model::{RegistryName, RepositoryName};
use rusqlite::{Connection, OptionalExtension, params};

use crate::error::{Res, backend, unique};
use crate::rows;

pub(crate) fn create(
    c: &Connection,
    new: &NewRemoteRegistry,
    at: Timestamp,
) -> Res<RemoteRegistry> {
    let account_exists = c
        .prepare_cached("SELECT 1 FROM accounts WHERE id = ?1")?
        .exists([new.account.0])?;
    if !account_exists {
        return Err(Error::not_found(Entity::Account, new.account).into());
    }
    let id: i64 = c
        .prepare_cached(
            "INSERT INTO remote_registries (account, name, url, username, password, insecure, \
             created) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id",
        )?
        .query_row(
            params![
                new.account.0,
                new.name.as_str(),
                new.url,
                new.username,
                new.sealed_password,
                new.insecure,
                at.unix_millis()
            ],
            |r| r.get(0),
        )
        .map_err(unique(Entity::RemoteRegistry, &new.name))?;
    Ok(RemoteRegistry {
        id: RemoteRegistryId(id),
        account: new.account,
        name: new.name.clone(),
        url: new.url.clone(),
        username: new.username.clone(),
        sealed_password: new.sealed_password.clone(),
        insecure: new.insecure,
        created: at,
    })
}

pub(crate) fn get(
    c: &Connection,
    account: AccountId,
    name: &RegistryName,
) -> Res<Option<RemoteRegistry>> {
    let sql = format!(
        "SELECT {} FROM remote_registries g WHERE g.account = ?1 AND g.name = ?2",
        rows::REMOTE_REGISTRY
    );
    Ok(c.prepare_cached(&sql)?
        .query_row(params![account.0, name.as_str()], rows::remote_registry)
        .optional()?)
}

pub(crate) fn list(c: &Connection, account: AccountId) -> Res<Vec<RemoteRegistry>> {
    let sql = format!(
        "SELECT {} FROM remote_registries g WHERE g.account = ?1 ORDER BY g.name",
        rows::REMOTE_REGISTRY
    );
    let mut statement = c.prepare_cached(&sql)?;
    let found = statement
        .query_map([account.0], rows::remote_registry)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(found)
}

pub(crate) fn update(
    c: &Connection,
    account: AccountId,
    name: &RegistryName,
    update: &RemoteRegistryUpdate,
) -> Res<RemoteRegistry> {
    let Some(existing) = get(c, account, name)? else {
        return Err(Error::not_found(Entity::RemoteRegistry, name).into());
    };
    let id = existing.id.0;
    if let Some(url) = &update.url {
        c.prepare_cached("UPDATE remote_registries SET url = ?2 WHERE id = ?1")?
            .execute(params![id, url])?;
    }
    if let Some(username) = &update.username {
        c.prepare_cached("UPDATE remote_registries SET username = ?2 WHERE id = ?1")?
            .execute(params![id, username])?;
    }
    if let Some(password) = &update.sealed_password {
        c.prepare_cached("UPDATE remote_registries SET password = ?2 WHERE id = ?1")?
            .execute(params![id, password])?;
    }
    if let Some(insecure) = update.insecure {
        c.prepare_cached("UPDATE remote_registries SET insecure = ?2 WHERE id = ?1")?
            .execute(params![id, insecure])?;
    }
    get(c, account, name)?.ok_or_else(|| Error::not_found(Entity::RemoteRegistry, name).into())
}

pub(crate) fn delete(c: &Connection, account: AccountId, name: &RegistryName) -> Res<()> {
    let Some(existing) = get(c, account, name)? else {
        return Err(Error::not_found(Entity::RemoteRegistry, name).into());
    };
    let user: Option<String> = c
        .prepare_cached(
            "SELECT name FROM repositories WHERE proxy_registry = ?1 ORDER BY name LIMIT 1",
        )?
        .query_row([existing.id.0], |r| r.get(0))
        .optional()?;
    if let Some(user) = user {
        let repository = RepositoryName::parse(&user).map_err(backend)?;
        return Err(Error::RegistryInUse {
            registry: name.clone(),
            repository,
        }
        .into());
    }
    if let Some(rule) = crate::replication::rule_using(c, existing.id.0)? {
        return Err(Error::RegistryUsedByRule {
            registry: name.clone(),
            rule,
        }
        .into());
    }
    c.prepare_cached("DELETE FROM remote_registries WHERE id = ?1")?
        .execute([existing.id.0])?;
    Ok(())
}
