//! The crate's one error: a variant per decision the caller makes.

/// A failed exchange with a remote registry. `url` is always the URL asked for (the registry's
/// own, or its token realm), without credentials, query or redirect target; no message ever holds
/// a password or a token.
#[non_exhaustive]
#[derive(thiserror::Error, Debug)]
pub enum Error {
    /// No HTTP answer: connection refused, DNS, TLS, a timeout, or the connection dropped in the
    /// middle of a body. Worth retrying later, or serving from the cache meanwhile. The cause is
    /// the `source` (print the chain).
    #[error("{url} is unreachable")]
    Unreachable {
        /// The URL asked for.
        url: String,
        /// What the transport said.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// 401 after the authentication flow, or the token endpoint refused the credentials (or
    /// there were none and the registry needs some).
    #[error("{url}: unauthorized: {message}")]
    Unauthorized {
        /// The URL asked for.
        url: String,
        /// What the registry said, or what credentials are missing.
        message: String,
    },
    /// 403: the credentials were accepted but do not allow this.
    #[error("{url}: denied: {message}")]
    Denied {
        /// The URL asked for.
        url: String,
        /// What the registry said.
        message: String,
    },
    /// Any other unexpected status.
    #[error("{url} answered {status}: {message}")]
    Status {
        /// The URL asked for.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The OCI error body's `code: message` when there was one, else the reason phrase.
        message: String,
    },
    /// A manifest (or an error, token or listing page body) longer than the limit, or a
    /// listing (tags, catalog, referrers) with more entries than the limit.
    #[error("{url}: the answer is longer than the limit of {limit} {unit}")]
    TooLarge {
        /// The URL asked for (a listing's first page).
        url: String,
        /// The limit, in `unit`s.
        limit: u64,
        /// What `limit` counts: `bytes`, or a listing's `tags`, `repositories`, `referrers`.
        unit: &'static str,
    },
    /// The bytes received do not have the digest asked for or announced.
    #[error("{url}: expected digest {expected}, the content has {actual}")]
    DigestMismatch {
        /// The URL asked for.
        url: String,
        /// The digest asked for, or the `Docker-Content-Digest` header.
        expected: String,
        /// The digest of the bytes received.
        actual: String,
    },
    /// The remote broke the protocol: a malformed header, token JSON, challenge, listing or
    /// upload `Location`; or the endpoint itself is unusable (a URL that is not
    /// `http(s)://host[:port][/path]`); or a request could not be made as asked (a blob body
    /// whose length is not the size given, a media type that is no header value).
    #[error("{url}: {message}")]
    Invalid {
        /// The URL asked for.
        url: String,
        /// Which rule was broken.
        message: String,
    },
}

impl Error {
    /// Whether the remote could not be reached or is temporarily unable to answer:
    /// [`Error::Unreachable`], and 502, 503 and 504 answers (a gateway in front of a registry
    /// that is down).
    pub fn is_unreachable(&self) -> bool {
        match self {
            Error::Unreachable { .. } => true,
            Error::Status { status, .. } => matches!(status, 502..=504),
            _ => false,
        }
    }

    /// A transport failure from reqwest, its URL removed (a redirect target may carry a
    /// presigned signature in its query).
    pub(crate) fn transport(url: &str, e: reqwest::Error) -> Self {
        Error::Unreachable {
            url: url.to_owned(),
            source: Box::new(e.without_url()),
        }
    }

    pub(crate) fn invalid(url: &str, message: impl Into<String>) -> Self {
        Error::Invalid {
            url: url.to_owned(),
            message: message.into(),
        }
    }
}
