//! Running statements: pooled connections, the prepared-statement cache, error mapping and the
//! conversions between the records' unsigned numbers and PostgreSQL's `bigint`.

use std::fmt::Display;

use berth_meta::{Entity, Error, Page, Result, Timestamp};
use deadpool_postgres::{GenericClient, Object, Pool, PoolError};
use tokio_postgres::Row;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{FromSql, ToSql};

use crate::STORE;

/// Statement parameters.
pub(crate) type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

/// A connection from the pool.
pub(crate) async fn conn(pool: &Pool) -> Result<Object> {
    pool.get().await.map_err(pool_error)
}

/// A pool failure as the public error: no connection could be made or freed in time, or the
/// pool is closed, is [`Error::Unavailable`]; a hook's failure is [`Error::Backend`].
pub(crate) fn pool_error(e: PoolError) -> Error {
    match e {
        PoolError::Backend(e) => pg(e),
        PoolError::Timeout(_) | PoolError::Closed => Error::unavailable(STORE, e),
        e => Error::backend(STORE, e),
    }
}

/// Whether an error means the server cannot be reached or is going away, so the same request may
/// succeed later: the connection is closed or broke (an I/O error in its chain), or the server
/// said so (SQLSTATE class 08, connection exception; 57P01–57P03, shutting down or starting;
/// 53300, too many connections).
fn unreachable(e: &tokio_postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    if let Some(code) = e.code() {
        let code = code.code();
        return code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03" | "53300");
    }
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        if cause.is::<std::io::Error>() {
            return true;
        }
        source = cause.source();
    }
    false
}

/// A PostgreSQL error as the public error: a unique violation is [`Error::AlreadyExists`] (named
/// after the constraint's table), a server that cannot be reached [`Error::Unavailable`],
/// anything else [`Error::Backend`] with the cause kept.
pub(crate) fn pg(e: tokio_postgres::Error) -> Error {
    if e.code() == Some(&SqlState::UNIQUE_VIOLATION)
        && let Some(db) = e.as_db_error()
        && let Some(entity) = db.constraint().and_then(entity_of_constraint)
    {
        // The detail reads `Key (name)=(value) already exists.`: the value names the thing.
        let detail = db.detail().unwrap_or_default();
        let name = detail
            .split_once("=(")
            .and_then(|(_, rest)| rest.rsplit_once(") already exists"))
            .map_or(detail, |(value, _)| value);
        return Error::already_exists(entity, name);
    }
    if unreachable(&e) {
        return Error::unavailable(STORE, e);
    }
    Error::backend(STORE, e)
}

/// Maps a unique violation to "`entity` `name` exists already" (the caller knows the name
/// better than the constraint does), anything else as [`pg`].
pub(crate) fn unique(
    entity: Entity,
    name: impl Display,
) -> impl FnOnce(tokio_postgres::Error) -> Error {
    move |e| {
        if e.code() == Some(&SqlState::UNIQUE_VIOLATION) {
            Error::already_exists(entity, name)
        } else {
            pg(e)
        }
    }
}

/// Which thing a unique constraint of the schema names.
fn entity_of_constraint(constraint: &str) -> Option<Entity> {
    Some(match constraint {
        "accounts_pkey" => Entity::Account,
        "console_users_username_key" => Entity::ConsoleUser,
        "repositories_name_key" => Entity::Repository,
        "images_repository_name_key" | "images_full_name_key" => Entity::Image,
        "artifacts_image_digest_key" => Entity::Artifact,
        "tags_pkey" => Entity::Tag,
        "repository_users_name_key" => Entity::RepositoryUser,
        "uploads_pkey" => Entity::Upload,
        "console_sessions_pkey" => Entity::ConsoleSession,
        "remote_registries_name_key" => Entity::RemoteRegistry,
        _ => return None,
    })
}

/// A value read back from the database that breaks an invariant the schema cannot express (an
/// unparsable name or digest): the data was changed behind berth's back.
pub(crate) fn corrupt(what: impl Display) -> Error {
    Error::backend(STORE, format!("corrupt metadata: {what}"))
}

/// Runs a statement (prepared once per connection) and returns its rows.
pub(crate) async fn rows<C: GenericClient>(
    c: &C,
    sql: &str,
    params: Params<'_>,
) -> Result<Vec<Row>> {
    let statement = c.prepare_cached(sql).await.map_err(pg)?;
    c.query(&statement, params).await.map_err(pg)
}

/// Runs a statement and returns its row, if any (more than one is an error).
pub(crate) async fn opt<C: GenericClient>(
    c: &C,
    sql: &str,
    params: Params<'_>,
) -> Result<Option<Row>> {
    let statement = c.prepare_cached(sql).await.map_err(pg)?;
    c.query_opt(&statement, params).await.map_err(pg)
}

/// Runs a statement that returns exactly one row.
pub(crate) async fn one<C: GenericClient>(c: &C, sql: &str, params: Params<'_>) -> Result<Row> {
    let statement = c.prepare_cached(sql).await.map_err(pg)?;
    c.query_one(&statement, params).await.map_err(pg)
}

/// Runs a statement and returns how many rows it changed.
pub(crate) async fn exec<C: GenericClient>(c: &C, sql: &str, params: Params<'_>) -> Result<u64> {
    let statement = c.prepare_cached(sql).await.map_err(pg)?;
    c.execute(&statement, params).await.map_err(pg)
}

/// Column `col` of `row`.
pub(crate) fn get<'a, T: FromSql<'a>>(row: &'a Row, col: &str) -> Result<T> {
    row.try_get(col).map_err(pg)
}

/// A size or count for a `bigint` column; PostgreSQL has no unsigned types, and nothing berth
/// stores comes near 2^63.
pub(crate) fn int(value: u64) -> Result<i64> {
    i64::try_from(value)
        .map_err(|_| Error::backend(STORE, format!("{value} does not fit a bigint column")))
}

/// A `bigint` size or count, which the schema's checks keep non-negative.
pub(crate) fn uint(value: i64) -> Result<u64> {
    u64::try_from(value).map_err(|_| corrupt(format!("negative size or count {value}")))
}

/// A `bigint` column of `row` as an unsigned size or count.
pub(crate) fn get_u64(row: &Row, col: &str) -> Result<u64> {
    uint(get(row, col)?)
}

/// A quota for its `bigint` column: a limit beyond 2^63 - 1 bytes is no limit in practice, so it
/// saturates rather than fails.
pub(crate) fn quota(limit: Option<u64>) -> Option<i64> {
    limit.map(|l| i64::try_from(l).unwrap_or(i64::MAX))
}

/// A time column of `row`.
pub(crate) fn get_time(row: &Row, col: &str) -> Result<Timestamp> {
    Ok(Timestamp::from_unix_millis(get(row, col)?))
}

/// A nullable time column of `row`.
pub(crate) fn get_opt_time(row: &Row, col: &str) -> Result<Option<Timestamp>> {
    Ok(get::<Option<i64>>(row, col)?.map(Timestamp::from_unix_millis))
}

/// `LIMIT` and `OFFSET` of a console page.
pub(crate) fn limit_offset(page: Page) -> (i64, i64) {
    let clamp = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    (clamp(page.limit()), clamp(page.offset()))
}

/// A `LIMIT` from a `usize` count.
pub(crate) fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
