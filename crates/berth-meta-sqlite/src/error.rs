//! The crate's internal error, and how it becomes the public [`berth_meta::Error`].

use berth_meta::{Entity, Error};
use rusqlite::ffi;

/// The backend's name in errors.
pub(crate) const STORE: &str = "sqlite";

/// A failure inside this crate: a caller decision (already the public error) or a database error
/// not yet classified. It exists so that `?` works on both inside one transaction while
/// rusqlite's error never becomes a public `From` conversion; it is turned into the public error
/// at the boundary, where an unclassified database error becomes [`Error::Backend`].
#[derive(Debug)]
pub(crate) enum Fail {
    /// A decision for the caller (not found, quota, …).
    Meta(Error),
    /// The database failed.
    Db(rusqlite::Error),
}

/// Result of the crate's internal functions.
pub(crate) type Res<T> = Result<T, Fail>;

impl From<Error> for Fail {
    fn from(e: Error) -> Self {
        Fail::Meta(e)
    }
}

impl From<rusqlite::Error> for Fail {
    fn from(e: rusqlite::Error) -> Self {
        Fail::Db(e)
    }
}

impl From<Fail> for Error {
    fn from(f: Fail) -> Self {
        match f {
            Fail::Meta(e) => e,
            Fail::Db(e) => Error::backend(STORE, e),
        }
    }
}

/// Whether `e` is a violated primary key or unique index.
pub(crate) fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_extended_error_code(),
        Some(ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY)
    )
}

/// For an insert: a unique violation means `entity` `name` exists already; anything else stays a
/// database error. Callers check first where several errors are possible (to report them in the
/// reference order); this mapping also covers a row inserted by another handle in between.
pub(crate) fn unique(entity: Entity, name: impl ToString) -> impl FnOnce(rusqlite::Error) -> Fail {
    move |e| {
        if is_unique_violation(&e) {
            Fail::Meta(Error::already_exists(entity, name.to_string()))
        } else {
            Fail::Db(e)
        }
    }
}

/// A backend error that is not a database error (a corrupt value, a task that panicked, …).
pub(crate) fn backend(source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Fail {
    Fail::Meta(Error::backend(STORE, source))
}
