//! Accounts, console users and their API tokens, and repository users with their permissions.

use std::collections::{BTreeMap, HashMap};

use berth_meta::*;
use berth_model::RepositoryName;
use deadpool_postgres::{GenericClient, Pool};

use crate::db::{self, exec, get, limit_offset, one, opt, pg, rows, unique};
use crate::repositories::{Event, insert_event};
use crate::rows::{self, user_columns};

pub(crate) async fn create_account(
    pool: &Pool,
    id: AccountId,
    name: &str,
    at: Timestamp,
) -> Result<Account> {
    let client = db::conn(pool).await?;
    client
        .execute(
            "INSERT INTO accounts (id, name, created) VALUES ($1, $2, $3)",
            &[&id.0, &name, &at.unix_millis()],
        )
        .await
        .map_err(unique(Entity::Account, id))?;
    Ok(Account {
        id,
        name: name.to_owned(),
        created: at,
    })
}

pub(crate) async fn account(pool: &Pool, id: AccountId) -> Result<Option<Account>> {
    let client = db::conn(pool).await?;
    let Some(row) = opt(
        &client,
        "SELECT name, created FROM accounts WHERE id = $1",
        &[&id.0],
    )
    .await?
    else {
        return Ok(None);
    };
    Ok(Some(Account {
        id,
        name: get(&row, "name")?,
        created: db::get_time(&row, "created")?,
    }))
}

pub(crate) async fn list_accounts(pool: &Pool, page: Page) -> Result<Paged<Account>> {
    let client = db::conn(pool).await?;
    let (limit, offset) = limit_offset(page);
    let items = rows(
        &client,
        "SELECT id, name, created FROM accounts ORDER BY id LIMIT $1 OFFSET $2",
        &[&limit, &offset],
    )
    .await?
    .iter()
    .map(|row| {
        Ok(Account {
            id: AccountId(get(row, "id")?),
            name: get(row, "name")?,
            created: db::get_time(row, "created")?,
        })
    })
    .collect::<Result<_>>()?;
    let total = one(&client, "SELECT count(*) AS n FROM accounts", &[]).await?;
    Ok(Paged {
        items,
        total: db::get_u64(&total, "n")?,
    })
}

pub(crate) async fn create_console_user(
    pool: &Pool,
    account: Option<AccountId>,
    username: &str,
    password_hash: &str,
    at: Timestamp,
) -> Result<ConsoleUser> {
    let mut client = db::conn(pool).await?;
    let tx = client.transaction().await.map_err(pg)?;
    // The reference reports a taken username before a missing account.
    if opt(
        &tx,
        "SELECT 1 FROM console_users WHERE username = $1",
        &[&username],
    )
    .await?
    .is_some()
    {
        return Err(Error::already_exists(Entity::ConsoleUser, username));
    }
    if let Some(account) = account
        && opt(&tx, "SELECT 1 FROM accounts WHERE id = $1", &[&account.0])
            .await?
            .is_none()
    {
        return Err(Error::not_found(Entity::Account, account));
    }
    let row = tx
        .query_one(
            "INSERT INTO console_users (account, username, password_hash, created)
             VALUES ($1, $2, $3, $4)
             RETURNING id, account, username, password_hash, created, disabled",
            &[
                &account.map(|a| a.0),
                &username,
                &password_hash,
                &at.unix_millis(),
            ],
        )
        .await
        .map_err(unique(Entity::ConsoleUser, username))?;
    let user = rows::console_user(&row)?;
    tx.commit().await.map_err(pg)?;
    Ok(user)
}

pub(crate) async fn console_user(pool: &Pool, username: &str) -> Result<Option<ConsoleUser>> {
    let client = db::conn(pool).await?;
    opt(
        &client,
        "SELECT id, account, username, password_hash, created, disabled FROM console_users
         WHERE username = $1",
        &[&username],
    )
    .await?
    .as_ref()
    .map(rows::console_user)
    .transpose()
}

pub(crate) async fn console_user_by_id(
    pool: &Pool,
    id: ConsoleUserId,
) -> Result<Option<ConsoleUser>> {
    let client = db::conn(pool).await?;
    opt(
        &client,
        "SELECT id, account, username, password_hash, created, disabled FROM console_users WHERE id = $1",
        &[&id.0],
    )
    .await?
    .as_ref()
    .map(rows::console_user)
    .transpose()
}

pub(crate) async fn list_console_users(
    pool: &Pool,
    account: Option<AccountId>,
    page: Page,
) -> Result<Paged<ConsoleUser>> {
    let client = db::conn(pool).await?;
    let (limit, offset) = limit_offset(page);
    // Two statements rather than `account IS NOT DISTINCT FROM $1`, which no index serves: both
    // are a range of console_users_account_username in username order.
    let (items, total) = match account {
        Some(account) => (
            rows(
                &client,
                "SELECT id, account, username, password_hash, created, disabled FROM console_users
                 WHERE account = $1 ORDER BY username LIMIT $2 OFFSET $3",
                &[&account.0, &limit, &offset],
            )
            .await?,
            one(
                &client,
                "SELECT count(*) AS n FROM console_users WHERE account = $1",
                &[&account.0],
            )
            .await?,
        ),
        None => (
            rows(
                &client,
                "SELECT id, account, username, password_hash, created, disabled FROM console_users
                 WHERE account IS NULL ORDER BY username LIMIT $1 OFFSET $2",
                &[&limit, &offset],
            )
            .await?,
            one(
                &client,
                "SELECT count(*) AS n FROM console_users WHERE account IS NULL",
                &[],
            )
            .await?,
        ),
    };
    Ok(Paged {
        items: items
            .iter()
            .map(rows::console_user)
            .collect::<Result<_>>()?,
        total: db::get_u64(&total, "n")?,
    })
}

pub(crate) async fn update_console_user(
    pool: &Pool,
    id: ConsoleUserId,
    update: ConsoleUserUpdate,
) -> Result<ConsoleUser> {
    let mut client = db::conn(pool).await?;
    let tx = client.transaction().await.map_err(pg)?;
    let row = opt(
        &tx,
        "UPDATE console_users SET password_hash = coalesce($2, password_hash),
           disabled = coalesce($3, disabled) WHERE id = $1
         RETURNING id, account, username, password_hash, created, disabled",
        &[&id.0, &update.password_hash, &update.disabled],
    )
    .await?
    .ok_or_else(|| Error::not_found(Entity::ConsoleUser, id))?;
    if update.password_hash.is_some() || update.disabled == Some(true) {
        end_sessions_and_tokens(&tx, id).await?;
    }
    let user = rows::console_user(&row)?;
    tx.commit().await.map_err(pg)?;
    Ok(user)
}

async fn end_sessions_and_tokens<C: GenericClient>(c: &C, user: ConsoleUserId) -> Result<()> {
    exec(
        c,
        "DELETE FROM console_sessions WHERE console_user = $1",
        &[&user.0],
    )
    .await?;
    exec(
        c,
        "DELETE FROM api_tokens WHERE console_user = $1",
        &[&user.0],
    )
    .await?;
    Ok(())
}

pub(crate) async fn delete_console_user(pool: &Pool, id: ConsoleUserId) -> Result<()> {
    let mut client = db::conn(pool).await?;
    let tx = client.transaction().await.map_err(pg)?;
    // The row lock first: a session or token being created for the user waits, then fails.
    if opt(
        &tx,
        "SELECT 1 FROM console_users WHERE id = $1 FOR UPDATE",
        &[&id.0],
    )
    .await?
    .is_none()
    {
        return Err(Error::not_found(Entity::ConsoleUser, id));
    }
    end_sessions_and_tokens(&tx, id).await?;
    exec(&tx, "DELETE FROM console_users WHERE id = $1", &[&id.0]).await?;
    tx.commit().await.map_err(pg)
}

pub(crate) async fn create_console_session(
    pool: &Pool,
    session: ConsoleSession,
    keep: u32,
) -> Result<()> {
    let mut client = db::conn(pool).await?;
    let tx = client.transaction().await.map_err(pg)?;
    // `FOR KEY SHARE` holds off a concurrent delete of the user (which locks it `FOR UPDATE`)
    // and serialises nothing else.
    if opt(
        &tx,
        "SELECT 1 FROM console_users WHERE id = $1 FOR KEY SHARE",
        &[&session.user.0],
    )
    .await?
    .is_none()
    {
        return Err(Error::not_found(Entity::ConsoleUser, session.user));
    }
    exec(
        &tx,
        "DELETE FROM console_sessions WHERE console_user = $1 AND expires <= $2",
        &[&session.user.0, &session.created.unix_millis()],
    )
    .await?;
    // Past `keep`, the oldest go (the new one takes a place).
    exec(
        &tx,
        "DELETE FROM console_sessions WHERE id_hash IN (SELECT id_hash FROM console_sessions
           WHERE console_user = $1 ORDER BY created DESC, id_hash DESC OFFSET $2)",
        &[&session.user.0, &i64::from(keep.max(1) - 1)],
    )
    .await?;
    tx.execute(
        "INSERT INTO console_sessions (id_hash, console_user, created, expires)
         VALUES ($1, $2, $3, $4)",
        &[
            &session.id_hash,
            &session.user.0,
            &session.created.unix_millis(),
            &session.expires.unix_millis(),
        ],
    )
    .await
    .map_err(unique(Entity::ConsoleSession, "session"))?;
    tx.commit().await.map_err(pg)
}

pub(crate) async fn console_session(pool: &Pool, id_hash: &[u8]) -> Result<Option<ConsoleSession>> {
    let client = db::conn(pool).await?;
    opt(
        &client,
        "SELECT id_hash, console_user, created, expires FROM console_sessions WHERE id_hash = $1",
        &[&id_hash],
    )
    .await?
    .as_ref()
    .map(rows::console_session)
    .transpose()
}

pub(crate) async fn delete_console_session(pool: &Pool, id_hash: &[u8]) -> Result<bool> {
    let client = db::conn(pool).await?;
    let removed = exec(
        &client,
        "DELETE FROM console_sessions WHERE id_hash = $1",
        &[&id_hash],
    )
    .await?;
    Ok(removed > 0)
}

pub(crate) async fn create_api_token(pool: &Pool, token: ApiToken) -> Result<()> {
    let client = db::conn(pool).await?;
    // Storing a hash again replaces the token, as the reference does; a missing user inserts
    // nothing, which is how it is told apart.
    let changed = exec(
        &client,
        "INSERT INTO api_tokens (token_hash, console_user, description, created, expires)
         SELECT $1, u.id, $3, $4, $5 FROM console_users u WHERE u.id = $2
         ON CONFLICT (token_hash) DO UPDATE
         SET console_user = EXCLUDED.console_user, description = EXCLUDED.description,
             created = EXCLUDED.created, expires = EXCLUDED.expires",
        &[
            &token.token_hash,
            &token.user.0,
            &token.description,
            &token.created.unix_millis(),
            &token.expires.map(Timestamp::unix_millis),
        ],
    )
    .await?;
    if changed == 0 {
        return Err(Error::not_found(Entity::ConsoleUser, token.user));
    }
    Ok(())
}

pub(crate) async fn api_token(pool: &Pool, token_hash: &[u8]) -> Result<Option<ApiToken>> {
    let client = db::conn(pool).await?;
    opt(
        &client,
        "SELECT token_hash, console_user, description, created, expires FROM api_tokens
         WHERE token_hash = $1",
        &[&token_hash],
    )
    .await?
    .as_ref()
    .map(rows::api_token)
    .transpose()
}

pub(crate) async fn list_api_tokens(pool: &Pool, user: ConsoleUserId) -> Result<Vec<ApiToken>> {
    let client = db::conn(pool).await?;
    rows(
        &client,
        "SELECT token_hash, console_user, description, created, expires FROM api_tokens
         WHERE console_user = $1 ORDER BY created DESC, token_hash",
        &[&user.0],
    )
    .await?
    .iter()
    .map(rows::api_token)
    .collect()
}

pub(crate) async fn delete_api_token(pool: &Pool, token_hash: &[u8]) -> Result<bool> {
    let client = db::conn(pool).await?;
    let removed = exec(
        &client,
        "DELETE FROM api_tokens WHERE token_hash = $1",
        &[&token_hash],
    )
    .await?;
    Ok(removed > 0)
}

/// Resolves permissions against the account's repositories, in the caller's transaction: the
/// first repository that is missing or foreign (in the order given) is the error; a repository
/// named twice keeps its last permission. Sorted by repository name, with ids.
///
/// The repositories are locked `FOR KEY SHARE` (in id order) before any permission row is
/// touched: the permissions' foreign keys would take that lock later anyway, and taking it
/// after deleting the user's old permission rows could deadlock with `delete_repository`, which
/// locks the repository and then deletes its permission rows.
async fn check_permissions<C: GenericClient>(
    c: &C,
    account: AccountId,
    permissions: &[(RepositoryName, Permission)],
) -> Result<Vec<(i64, RepositoryName, Permission)>> {
    let names: Vec<&str> = permissions.iter().map(|(n, _)| n.as_str()).collect();
    let found: HashMap<String, (i64, i64)> = rows(
        c,
        "SELECT id, account, name FROM repositories WHERE name = ANY($1)
         ORDER BY id FOR KEY SHARE",
        &[&names],
    )
    .await?
    .iter()
    .map(|row| Ok((get(row, "name")?, (get(row, "id")?, get(row, "account")?))))
    .collect::<Result<_>>()?;
    let mut out = BTreeMap::new();
    for (name, permission) in permissions {
        let &(id, owner) = found
            .get(name.as_str())
            .ok_or_else(|| Error::not_found(Entity::Repository, name))?;
        if owner != account.0 {
            return Err(Error::ForeignRepository(name.clone()));
        }
        out.insert(name.clone(), (id, *permission));
    }
    Ok(out
        .into_iter()
        .map(|(name, (id, permission))| (id, name, permission))
        .collect())
}

/// Replaces a user's permissions with `permissions` (in the caller's transaction).
async fn write_permissions<C: GenericClient>(
    c: &C,
    user: i64,
    permissions: &[(i64, RepositoryName, Permission)],
) -> Result<()> {
    let ids: Vec<i64> = permissions.iter().map(|(id, _, _)| *id).collect();
    let kinds: Vec<&str> = permissions.iter().map(|(_, _, p)| p.as_str()).collect();
    exec(
        c,
        "DELETE FROM repository_user_permissions WHERE repository_user = $1",
        &[&user],
    )
    .await?;
    exec(
        c,
        "INSERT INTO repository_user_permissions (repository_user, repository, permission)
         SELECT $1, p.repository, p.permission FROM unnest($2::bigint[], $3::text[])
             AS p(repository, permission)",
        &[&user, &ids, &kinds],
    )
    .await?;
    Ok(())
}

/// Fills in the permissions of `users`, sorted by repository name.
async fn with_permissions<C: GenericClient>(
    c: &C,
    mut users: Vec<RepositoryUser>,
) -> Result<Vec<RepositoryUser>> {
    let ids: Vec<i64> = users.iter().map(|u| u.id.0).collect();
    let mut by_user: HashMap<i64, Vec<(RepositoryName, Permission)>> = HashMap::new();
    for row in rows(
        c,
        "SELECT p.repository_user, r.name, p.permission
         FROM repository_user_permissions p JOIN repositories r ON r.id = p.repository
         WHERE p.repository_user = ANY($1) ORDER BY p.repository_user, r.name",
        &[&ids],
    )
    .await?
    {
        by_user
            .entry(get(&row, "repository_user")?)
            .or_default()
            .push((
                rows::repository_name(get(&row, "name")?)?,
                rows::permission(get(&row, "permission")?)?,
            ));
    }
    for user in &mut users {
        user.permissions = by_user.remove(&user.id.0).unwrap_or_default();
    }
    Ok(users)
}

/// A repository user with its permissions, by name.
async fn load_user<C: GenericClient>(c: &C, name: &str) -> Result<Option<RepositoryUser>> {
    let Some(row) = opt(
        c,
        concat!(
            "SELECT ",
            user_columns!(),
            " FROM repository_users u WHERE u.name = $1"
        ),
        &[&name],
    )
    .await?
    else {
        return Ok(None);
    };
    let user = rows::repository_user(&row)?;
    Ok(with_permissions(c, vec![user]).await?.pop())
}

/// Records the history of a repository-user change in the repositories it concerns (in the
/// caller's transaction).
async fn user_history<C: GenericClient>(c: &C, events: &[HistoryEvent]) -> Result<()> {
    for event in events {
        let repository: i64 = get(
            &opt(
                c,
                "SELECT id FROM repositories WHERE name = $1 FOR KEY SHARE",
                &[&event.repository.as_str()],
            )
            .await?
            .ok_or_else(|| Error::not_found(Entity::Repository, &event.repository))?,
            "id",
        )?;
        insert_event(
            c,
            Event {
                repository,
                at: event.at,
                actor: &event.actor,
                action: event.action,
                image: None,
                target: event.target.as_deref(),
                detail: event.detail.as_deref(),
            },
        )
        .await?;
    }
    Ok(())
}

pub(crate) async fn create_repository_user(
    pool: &Pool,
    new: NewRepositoryUser,
    actor: &str,
    at: Timestamp,
) -> Result<RepositoryUser> {
    let mut client = db::conn(pool).await?;
    let tx = client.transaction().await.map_err(pg)?;
    // The reference's order of refusals: missing account, taken name, then permissions.
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
    if opt(
        &tx,
        "SELECT 1 FROM repository_users WHERE name = $1",
        &[&new.name],
    )
    .await?
    .is_some()
    {
        return Err(Error::already_exists(Entity::RepositoryUser, &new.name));
    }
    let permissions = check_permissions(&tx, new.account, &new.permissions).await?;
    let row = tx
        .query_one(
            concat!(
                "INSERT INTO repository_users AS u
                     (account, name, secret_hash, description, expires, created)
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING ",
                user_columns!()
            ),
            &[
                &new.account.0,
                &new.name,
                &new.secret_hash,
                &new.description,
                &new.expires.map(Timestamp::unix_millis),
                &at.unix_millis(),
            ],
        )
        .await
        .map_err(unique(Entity::RepositoryUser, &new.name))?;
    let mut user = rows::repository_user(&row)?;
    write_permissions(&tx, user.id.0, &permissions).await?;
    user.permissions = permissions
        .into_iter()
        .map(|(_, name, permission)| (name, permission))
        .collect();
    let events = accounting::user_history(&user.name, &[], &user.permissions, None, actor, at);
    user_history(&tx, &events).await?;
    tx.commit().await.map_err(pg)?;
    Ok(user)
}

pub(crate) async fn repository_user(pool: &Pool, name: &str) -> Result<Option<RepositoryUser>> {
    let client = db::conn(pool).await?;
    load_user(&client, name).await
}

pub(crate) async fn update_repository_user(
    pool: &Pool,
    name: &str,
    update: RepositoryUserUpdate,
    actor: &str,
    at: Timestamp,
) -> Result<RepositoryUser> {
    let mut client = db::conn(pool).await?;
    let tx = client.transaction().await.map_err(pg)?;
    let row = opt(
        &tx,
        "SELECT id, account FROM repository_users WHERE name = $1 FOR UPDATE",
        &[&name],
    )
    .await?
    .ok_or_else(|| Error::not_found(Entity::RepositoryUser, name))?;
    let before = load_user(&tx, name)
        .await?
        .map(|u| u.permissions)
        .unwrap_or_default();
    let (id, account): (i64, i64) = (get(&row, "id")?, get(&row, "account")?);
    // Validate before changing anything: a refused update changes nothing.
    let permissions = match &update.permissions {
        Some(p) => Some(check_permissions(&tx, AccountId(account), p).await?),
        None => None,
    };
    let set_expires = update.expires.is_some();
    let expires = update.expires.flatten().map(Timestamp::unix_millis);
    exec(
        &tx,
        "UPDATE repository_users
         SET description = COALESCE($2, description),
             expires = CASE WHEN $3 THEN $4 ELSE expires END,
             disabled = COALESCE($5, disabled),
             secret_hash = COALESCE($6, secret_hash)
         WHERE id = $1",
        &[
            &id,
            &update.description,
            &set_expires,
            &expires,
            &update.disabled,
            &update.secret_hash,
        ],
    )
    .await?;
    if let Some(permissions) = &permissions {
        write_permissions(&tx, id, permissions).await?;
    }
    let user = load_user(&tx, name)
        .await?
        .ok_or_else(|| Error::not_found(Entity::RepositoryUser, name))?;
    let changed = accounting::user_change(&update);
    let events = accounting::user_history(
        name,
        &before,
        &user.permissions,
        changed.as_deref(),
        actor,
        at,
    );
    user_history(&tx, &events).await?;
    tx.commit().await.map_err(pg)?;
    Ok(user)
}

pub(crate) async fn list_repository_users(
    pool: &Pool,
    account: AccountId,
    page: Page,
) -> Result<Paged<RepositoryUser>> {
    let client = db::conn(pool).await?;
    let (limit, offset) = limit_offset(page);
    let users = rows(
        &client,
        concat!(
            "SELECT ",
            user_columns!(),
            " FROM repository_users u WHERE u.account = $1 ORDER BY u.name LIMIT $2 OFFSET $3"
        ),
        &[&account.0, &limit, &offset],
    )
    .await?
    .iter()
    .map(rows::repository_user)
    .collect::<Result<Vec<_>>>()?;
    let items = with_permissions(&client, users).await?;
    let total = one(
        &client,
        "SELECT count(*) AS n FROM repository_users WHERE account = $1",
        &[&account.0],
    )
    .await?;
    Ok(Paged {
        items,
        total: db::get_u64(&total, "n")?,
    })
}

pub(crate) async fn delete_repository_user(
    pool: &Pool,
    name: &str,
    actor: &str,
    at: Timestamp,
) -> Result<()> {
    let mut client = db::conn(pool).await?;
    let tx = client.transaction().await.map_err(pg)?;
    let Some(user) = opt(
        &tx,
        "SELECT id FROM repository_users WHERE name = $1 FOR UPDATE",
        &[&name],
    )
    .await?
    else {
        return Err(Error::not_found(Entity::RepositoryUser, name));
    };
    let id: i64 = get(&user, "id")?;
    let before = load_user(&tx, name)
        .await?
        .map(|u| u.permissions)
        .unwrap_or_default();
    // The permissions go with it (ON DELETE CASCADE).
    exec(&tx, "DELETE FROM repository_users WHERE id = $1", &[&id]).await?;
    user_history(
        &tx,
        &accounting::user_history(name, &before, &[], None, actor, at),
    )
    .await?;
    tx.commit().await.map_err(pg)
}
