//! Accounts, console users, API tokens, repository users and history.
//!
//! Every function runs inside the transaction its caller opened: on the writer for changes
//! (`BEGIN IMMEDIATE`), on a reader for lookups. Checks come in the same order as in the
//! reference backend, so that an input wrong in several ways gets the same error from each.

use std::collections::BTreeMap;

use berth_meta::{
    Account, AccountId, ApiToken, ConsoleSession, ConsoleUser, ConsoleUserId, ConsoleUserUpdate,
    Entity, Error, HistoryEvent, Page, Paged, Permission, RepositoryId, RepositoryUser,
    RepositoryUserUpdate, Timestamp,
};
use berth_meta::{NewRepositoryUser, accounting};
use berth_model::RepositoryName;
use rusqlite::{Connection, OptionalExtension as _, params};

use crate::error::{Res, unique};
use crate::rows;

pub(crate) fn create_account(
    c: &Connection,
    id: AccountId,
    name: &str,
    at: Timestamp,
) -> Res<Account> {
    c.prepare_cached("INSERT INTO accounts (id, name, created) VALUES (?1, ?2, ?3)")?
        .execute(params![id.0, name, at.unix_millis()])
        .map_err(unique(Entity::Account, id))?;
    Ok(Account {
        id,
        name: name.to_owned(),
        created: at,
    })
}

pub(crate) fn account(c: &Connection, id: AccountId) -> Res<Option<Account>> {
    let sql = format!("SELECT {} FROM accounts WHERE id = ?1", rows::ACCOUNT);
    Ok(c.prepare_cached(&sql)?
        .query_row([id.0], rows::account)
        .optional()?)
}

pub(crate) fn list_accounts(c: &Connection, page: Page) -> Res<Paged<Account>> {
    let (limit, offset) = rows::page(page);
    let sql = format!(
        "SELECT {} FROM accounts ORDER BY id LIMIT ?1 OFFSET ?2",
        rows::ACCOUNT
    );
    let items = c
        .prepare_cached(&sql)?
        .query_map(params![limit, offset], rows::account)?
        .collect::<rusqlite::Result<_>>()?;
    let total = c
        .prepare_cached("SELECT count(*) FROM accounts")?
        .query_row([], |r| r.get(0))?;
    Ok(Paged { items, total })
}

fn account_exists(c: &Connection, id: AccountId) -> Res<bool> {
    Ok(c.prepare_cached("SELECT 1 FROM accounts WHERE id = ?1")?
        .exists([id.0])?)
}

pub(crate) fn create_console_user(
    c: &Connection,
    account: Option<AccountId>,
    username: &str,
    password_hash: &str,
    at: Timestamp,
) -> Res<ConsoleUser> {
    if console_user(c, username)?.is_some() {
        return Err(Error::already_exists(Entity::ConsoleUser, username).into());
    }
    if let Some(account) = account
        && !account_exists(c, account)?
    {
        return Err(Error::not_found(Entity::Account, account).into());
    }
    let id = c
        .prepare_cached(
            "INSERT INTO console_users (account, username, password_hash, created) \
             VALUES (?1, ?2, ?3, ?4) RETURNING id",
        )?
        .query_row(
            params![
                account.map(|a| a.0),
                username,
                password_hash,
                at.unix_millis()
            ],
            |r| r.get(0),
        )
        .map_err(unique(Entity::ConsoleUser, username))?;
    Ok(ConsoleUser {
        id: ConsoleUserId(id),
        account,
        username: username.to_owned(),
        password_hash: password_hash.to_owned(),
        disabled: false,
        created: at,
    })
}

pub(crate) fn console_user(c: &Connection, username: &str) -> Res<Option<ConsoleUser>> {
    let sql = format!(
        "SELECT {} FROM console_users WHERE username = ?1",
        rows::CONSOLE_USER
    );
    Ok(c.prepare_cached(&sql)?
        .query_row([username], rows::console_user)
        .optional()?)
}

pub(crate) fn console_user_by_id(c: &Connection, id: ConsoleUserId) -> Res<Option<ConsoleUser>> {
    let sql = format!(
        "SELECT {} FROM console_users WHERE id = ?1",
        rows::CONSOLE_USER
    );
    Ok(c.prepare_cached(&sql)?
        .query_row([id.0], rows::console_user)
        .optional()?)
}

pub(crate) fn list_console_users(
    c: &Connection,
    account: Option<AccountId>,
    page: Page,
) -> Res<Paged<ConsoleUser>> {
    let (limit, offset) = rows::page(page);
    // `account IS ?1` matches NULL to NULL (the administrators) and is still an equality on
    // `console_users_by_account`, which then gives the username order.
    let sql = format!(
        "SELECT {} FROM console_users WHERE account IS ?1 ORDER BY username LIMIT ?2 OFFSET ?3",
        rows::CONSOLE_USER
    );
    let account = account.map(|a| a.0);
    let items = c
        .prepare_cached(&sql)?
        .query_map(params![account, limit, offset], rows::console_user)?
        .collect::<rusqlite::Result<_>>()?;
    let total = c
        .prepare_cached("SELECT count(*) FROM console_users WHERE account IS ?1")?
        .query_row([account], |r| r.get(0))?;
    Ok(Paged { items, total })
}

pub(crate) fn update_console_user(
    c: &Connection,
    id: ConsoleUserId,
    update: &ConsoleUserUpdate,
) -> Res<ConsoleUser> {
    let changed = c
        .prepare_cached(
            "UPDATE console_users SET password_hash = coalesce(?2, password_hash), \
             disabled = coalesce(?3, disabled) WHERE id = ?1",
        )?
        .execute(params![id.0, update.password_hash, update.disabled])?;
    if changed == 0 {
        return Err(Error::not_found(Entity::ConsoleUser, id).into());
    }
    if update.password_hash.is_some() || update.disabled == Some(true) {
        end_sessions_and_tokens(c, id)?;
    }
    console_user_by_id(c, id)?.ok_or_else(|| Error::not_found(Entity::ConsoleUser, id).into())
}

fn end_sessions_and_tokens(c: &Connection, user: ConsoleUserId) -> Res<()> {
    c.prepare_cached("DELETE FROM console_sessions WHERE user = ?1")?
        .execute([user.0])?;
    c.prepare_cached("DELETE FROM api_tokens WHERE user = ?1")?
        .execute([user.0])?;
    Ok(())
}

pub(crate) fn delete_console_user(c: &Connection, id: ConsoleUserId) -> Res<()> {
    end_sessions_and_tokens(c, id)?;
    let removed = c
        .prepare_cached("DELETE FROM console_users WHERE id = ?1")?
        .execute([id.0])?;
    if removed == 0 {
        return Err(Error::not_found(Entity::ConsoleUser, id).into());
    }
    Ok(())
}

pub(crate) fn create_console_session(
    c: &Connection,
    session: &ConsoleSession,
    keep: u32,
) -> Res<()> {
    if console_user_by_id(c, session.user)?.is_none() {
        return Err(Error::not_found(Entity::ConsoleUser, session.user).into());
    }
    c.prepare_cached("DELETE FROM console_sessions WHERE user = ?1 AND expires <= ?2")?
        .execute(params![session.user.0, session.created.unix_millis()])?;
    // Past `keep`, the oldest go (the new one takes a place).
    c.prepare_cached(
        "DELETE FROM console_sessions WHERE id_hash IN (SELECT id_hash FROM console_sessions \
         WHERE user = ?1 ORDER BY created DESC, id_hash DESC LIMIT -1 OFFSET ?2)",
    )?
    .execute(params![session.user.0, keep.max(1) - 1])?;
    c.prepare_cached(
        "INSERT INTO console_sessions (id_hash, user, created, expires) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![
        session.id_hash,
        session.user.0,
        session.created.unix_millis(),
        session.expires.unix_millis(),
    ])
    .map_err(unique(Entity::ConsoleSession, "session"))?;
    Ok(())
}

pub(crate) fn console_session(c: &Connection, id_hash: &[u8]) -> Res<Option<ConsoleSession>> {
    Ok(c.prepare_cached(
        "SELECT id_hash, user, created, expires FROM console_sessions WHERE id_hash = ?1",
    )?
    .query_row([id_hash], rows::console_session)
    .optional()?)
}

pub(crate) fn delete_console_session(c: &Connection, id_hash: &[u8]) -> Res<bool> {
    let removed = c
        .prepare_cached("DELETE FROM console_sessions WHERE id_hash = ?1")?
        .execute([id_hash])?;
    Ok(removed > 0)
}

pub(crate) fn create_api_token(c: &Connection, token: &ApiToken) -> Res<()> {
    let user_exists = c
        .prepare_cached("SELECT 1 FROM console_users WHERE id = ?1")?
        .exists([token.user.0])?;
    if !user_exists {
        return Err(Error::not_found(Entity::ConsoleUser, token.user).into());
    }
    // A token hash seen again replaces the old record, as the reference backend does; hashes of
    // random tokens do not collide in practice.
    c.prepare_cached(
        "INSERT INTO api_tokens (token_hash, user, description, created, expires) \
         VALUES (?1, ?2, ?3, ?4, ?5) \
         ON CONFLICT (token_hash) DO UPDATE SET user = excluded.user, \
           description = excluded.description, created = excluded.created, \
           expires = excluded.expires",
    )?
    .execute(params![
        token.token_hash,
        token.user.0,
        token.description,
        token.created.unix_millis(),
        token.expires.map(Timestamp::unix_millis),
    ])?;
    Ok(())
}

pub(crate) fn api_token(c: &Connection, token_hash: &[u8]) -> Res<Option<ApiToken>> {
    let sql = format!(
        "SELECT {} FROM api_tokens WHERE token_hash = ?1",
        rows::API_TOKEN
    );
    Ok(c.prepare_cached(&sql)?
        .query_row([token_hash], rows::api_token)
        .optional()?)
}

pub(crate) fn list_api_tokens(c: &Connection, user: ConsoleUserId) -> Res<Vec<ApiToken>> {
    let sql = format!(
        "SELECT {} FROM api_tokens WHERE user = ?1 ORDER BY created DESC, token_hash",
        rows::API_TOKEN
    );
    let tokens = c
        .prepare_cached(&sql)?
        .query_map([user.0], rows::api_token)?
        .collect::<rusqlite::Result<_>>()?;
    Ok(tokens)
}

pub(crate) fn delete_api_token(c: &Connection, token_hash: &[u8]) -> Res<bool> {
    let removed = c
        .prepare_cached("DELETE FROM api_tokens WHERE token_hash = ?1")?
        .execute([token_hash])?;
    Ok(removed > 0)
}

/// The id and account of a repository, or `NotFound`.
pub(crate) fn repository_key(
    c: &Connection,
    name: &RepositoryName,
) -> Res<(RepositoryId, AccountId)> {
    c.prepare_cached("SELECT id, account FROM repositories WHERE name = ?1")?
        .query_row([name.as_str()], |r| {
            Ok((RepositoryId(r.get(0)?), AccountId(r.get(1)?)))
        })
        .optional()?
        .ok_or_else(|| Error::not_found(Entity::Repository, name).into())
}

/// Permissions checked against `account` in the order given (the first problem is reported),
/// one per repository (a later entry wins), with the repositories' ids.
fn check_permissions(
    c: &Connection,
    account: AccountId,
    permissions: &[(RepositoryName, Permission)],
) -> Res<BTreeMap<RepositoryName, (RepositoryId, Permission)>> {
    let mut out = BTreeMap::new();
    for (name, permission) in permissions {
        let (id, owner) = repository_key(c, name)?;
        if owner != account {
            return Err(Error::ForeignRepository(name.clone()).into());
        }
        out.insert(name.clone(), (id, *permission));
    }
    Ok(out)
}

fn insert_permissions(
    c: &Connection,
    user: i64,
    permissions: &BTreeMap<RepositoryName, (RepositoryId, Permission)>,
) -> Res<()> {
    let mut insert = c.prepare_cached(
        "INSERT INTO repository_user_permissions (user, repository, permission) \
         VALUES (?1, ?2, ?3)",
    )?;
    for (repository, permission) in permissions.values() {
        insert.execute(params![user, repository.0, permission.as_str()])?;
    }
    Ok(())
}

pub(crate) fn create_repository_user(
    c: &Connection,
    new: &NewRepositoryUser,
    actor: &str,
    at: Timestamp,
) -> Res<RepositoryUser> {
    if !account_exists(c, new.account)? {
        return Err(Error::not_found(Entity::Account, new.account).into());
    }
    if repository_user(c, &new.name)?.is_some() {
        return Err(Error::already_exists(Entity::RepositoryUser, &new.name).into());
    }
    let permissions = check_permissions(c, new.account, &new.permissions)?;
    let id: i64 = c
        .prepare_cached(
            "INSERT INTO repository_users \
               (account, name, secret_hash, description, expires, disabled, created) \
             VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6) RETURNING id",
        )?
        .query_row(
            params![
                new.account.0,
                new.name,
                new.secret_hash,
                new.description,
                new.expires.map(Timestamp::unix_millis),
                at.unix_millis(),
            ],
            |r| r.get(0),
        )
        .map_err(unique(Entity::RepositoryUser, &new.name))?;
    insert_permissions(c, id, &permissions)?;
    let user = repository_user(c, &new.name)?
        .ok_or_else(|| Error::not_found(Entity::RepositoryUser, &new.name))?;
    user_history(
        c,
        &accounting::user_history(&user.name, &[], &user.permissions, None, actor, at),
    )?;
    Ok(user)
}

/// Records the history of a repository-user change in the repositories it concerns.
fn user_history(c: &Connection, events: &[HistoryEvent]) -> Res<()> {
    for event in events {
        let (repository, _) = repository_key(c, &event.repository)?;
        insert_history(c, repository, event)?;
    }
    Ok(())
}

pub(crate) fn repository_user(c: &Connection, name: &str) -> Res<Option<RepositoryUser>> {
    let sql = format!(
        "SELECT {} FROM repository_users u WHERE u.name = ?1",
        rows::REPOSITORY_USER
    );
    Ok(c.prepare_cached(&sql)?
        .query_row([name], rows::repository_user)
        .optional()?)
}

pub(crate) fn update_repository_user(
    c: &Connection,
    name: &str,
    update: &RepositoryUserUpdate,
    actor: &str,
    at: Timestamp,
) -> Res<RepositoryUser> {
    let before = repository_user(c, name)?
        .map(|u| u.permissions)
        .unwrap_or_default();
    let (id, account): (i64, AccountId) = c
        .prepare_cached("SELECT id, account FROM repository_users WHERE name = ?1")?
        .query_row([name], |r| Ok((r.get(0)?, AccountId(r.get(1)?))))
        .optional()?
        .ok_or_else(|| Error::not_found(Entity::RepositoryUser, name))?;
    // Validate everything before the first change; the transaction would undo a partial one
    // anyway, but this keeps the error the reference backend gives.
    let permissions = update
        .permissions
        .as_ref()
        .map(|p| check_permissions(c, account, p))
        .transpose()?;
    if let Some(description) = &update.description {
        c.prepare_cached("UPDATE repository_users SET description = ?2 WHERE id = ?1")?
            .execute(params![id, description])?;
    }
    if let Some(expires) = update.expires {
        c.prepare_cached("UPDATE repository_users SET expires = ?2 WHERE id = ?1")?
            .execute(params![id, expires.map(Timestamp::unix_millis)])?;
    }
    if let Some(disabled) = update.disabled {
        c.prepare_cached("UPDATE repository_users SET disabled = ?2 WHERE id = ?1")?
            .execute(params![id, disabled])?;
    }
    if let Some(secret_hash) = &update.secret_hash {
        c.prepare_cached("UPDATE repository_users SET secret_hash = ?2 WHERE id = ?1")?
            .execute(params![id, secret_hash])?;
    }
    if let Some(permissions) = permissions {
        c.prepare_cached("DELETE FROM repository_user_permissions WHERE user = ?1")?
            .execute([id])?;
        insert_permissions(c, id, &permissions)?;
    }
    let user =
        repository_user(c, name)?.ok_or_else(|| Error::not_found(Entity::RepositoryUser, name))?;
    let changed = accounting::user_change(update);
    let events = accounting::user_history(
        name,
        &before,
        &user.permissions,
        changed.as_deref(),
        actor,
        at,
    );
    user_history(c, &events)?;
    Ok(user)
}

pub(crate) fn list_repository_users(
    c: &Connection,
    account: AccountId,
    page: Page,
) -> Res<Paged<RepositoryUser>> {
    let (limit, offset) = rows::page(page);
    let sql = format!(
        "SELECT {} FROM repository_users u WHERE u.account = ?1 ORDER BY u.name \
         LIMIT ?2 OFFSET ?3",
        rows::REPOSITORY_USER
    );
    let items = c
        .prepare_cached(&sql)?
        .query_map(params![account.0, limit, offset], rows::repository_user)?
        .collect::<rusqlite::Result<_>>()?;
    let total = c
        .prepare_cached("SELECT count(*) FROM repository_users WHERE account = ?1")?
        .query_row([account.0], |r| r.get(0))?;
    Ok(Paged { items, total })
}

pub(crate) fn delete_repository_user(
    c: &Connection,
    name: &str,
    actor: &str,
    at: Timestamp,
) -> Res<()> {
    let before = repository_user(c, name)?
        .map(|u| u.permissions)
        .unwrap_or_default();
    let id: i64 = c
        .prepare_cached("SELECT id FROM repository_users WHERE name = ?1")?
        .query_row([name], |r| r.get(0))
        .optional()?
        .ok_or_else(|| Error::not_found(Entity::RepositoryUser, name))?;
    c.prepare_cached("DELETE FROM repository_user_permissions WHERE user = ?1")?
        .execute([id])?;
    c.prepare_cached("DELETE FROM repository_users WHERE id = ?1")?
        .execute([id])?;
    user_history(
        c,
        &accounting::user_history(name, &before, &[], None, actor, at),
    )
}

/// Appends an event to a repository's history.
pub(crate) fn insert_history(
    c: &Connection,
    repository: RepositoryId,
    event: &HistoryEvent,
) -> Res<()> {
    c.prepare_cached(
        "INSERT INTO history (repository, at, actor, action, image, target, detail) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        repository.0,
        event.at.unix_millis(),
        event.actor,
        event.action.as_str(),
        event.image.as_ref().map(|i| i.as_str()),
        event.target,
        event.detail,
    ])?;
    Ok(())
}

pub(crate) fn history(
    c: &Connection,
    repository: &RepositoryName,
    page: Page,
) -> Res<Paged<HistoryEvent>> {
    let (limit, offset) = rows::page(page);
    let sql = format!(
        "SELECT {} FROM history h JOIN repositories r ON r.id = h.repository \
         WHERE r.name = ?1 ORDER BY h.at DESC, h.id DESC LIMIT ?2 OFFSET ?3",
        rows::HISTORY
    );
    let items = c
        .prepare_cached(&sql)?
        .query_map(params![repository.as_str(), limit, offset], rows::history)?
        .collect::<rusqlite::Result<_>>()?;
    let total = c
        .prepare_cached(
            "SELECT count(*) FROM history h JOIN repositories r ON r.id = h.repository \
             WHERE r.name = ?1",
        )?
        .query_row([repository.as_str()], |r| r.get(0))?;
    Ok(Paged { items, total })
}
