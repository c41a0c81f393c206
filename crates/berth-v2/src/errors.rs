//! The one table from failures to HTTP statuses and OCI error codes, and the OCI error envelope.
//!
//! Every failure a handler can meet (a route that does not parse, an engine error) becomes an
//! [`OciError`] here and nowhere else, so a client always sees the same code and status for the
//! same condition.

use berth_core::Error;
use berth_core::identity::IdentityError;
use berth_policy::Denial;
use http::StatusCode;

use crate::route::RouteError;

/// What a failure answers: an OCI error code as the envelope spells it, and its HTTP status. A
/// spec code that different failures answer with different statuses (an upload chunk out of
/// order is `BLOB_UPLOAD_INVALID` with 416; a collected blob, with 503) is one variant per
/// status, so a status is always a property of its variant and never set per error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// Blob unknown to registry.
    BlobUnknown,
    /// A requested byte range lies outside the blob (`BLOB_UNKNOWN`, 416).
    BlobRangeUnsatisfiable,
    /// Blob upload invalid (a body that failed, a session refused).
    BlobUploadInvalid,
    /// A chunk that does not continue the upload where it stands, or whose `Content-Range`
    /// does not hold (`BLOB_UPLOAD_INVALID`, 416: the client resumes from `Range`).
    UploadRangeInvalid,
    /// The blob is being garbage-collected; upload it again (`BLOB_UPLOAD_INVALID`, 503: a
    /// retryable condition).
    UploadAgain,
    /// Blob upload unknown to registry.
    BlobUploadUnknown,
    /// Provided digest did not match uploaded content.
    DigestInvalid,
    /// Manifest references a manifest or blob unknown to registry.
    ManifestBlobUnknown,
    /// Manifest invalid.
    ManifestInvalid,
    /// Manifest unknown to registry.
    ManifestUnknown,
    /// Invalid repository name.
    NameInvalid,
    /// Repository name not known to registry.
    NameUnknown,
    /// Provided length did not match content length.
    SizeInvalid,
    /// A body over its limit (`SIZE_INVALID`, 413).
    TooLarge,
    /// Authentication required.
    Unauthorized,
    /// Requested access to the resource is denied.
    Denied,
    /// The operation is unsupported (the method, on this path: 405).
    Unsupported,
    /// A request this registry does not take as asked (a query parameter, a service name:
    /// `UNSUPPORTED`, 400).
    BadRequest,
    /// Too many requests.
    TooManyRequests,
    /// The server failed (the reference registry's `UNKNOWN`, answered with 500); the details go
    /// to the log, not to the client.
    Unknown,
    /// A backend (the metadata store, the blob storage) cannot be reached at the moment: the
    /// reference registry's `UNAVAILABLE`, 503 with `Retry-After`; the same request may succeed
    /// once it is back.
    Unavailable,
}

impl ErrorCode {
    /// Every code.
    pub const ALL: [ErrorCode; 21] = [
        ErrorCode::BlobUnknown,
        ErrorCode::BlobRangeUnsatisfiable,
        ErrorCode::BlobUploadInvalid,
        ErrorCode::UploadRangeInvalid,
        ErrorCode::UploadAgain,
        ErrorCode::BlobUploadUnknown,
        ErrorCode::DigestInvalid,
        ErrorCode::ManifestBlobUnknown,
        ErrorCode::ManifestInvalid,
        ErrorCode::ManifestUnknown,
        ErrorCode::NameInvalid,
        ErrorCode::NameUnknown,
        ErrorCode::SizeInvalid,
        ErrorCode::TooLarge,
        ErrorCode::Unauthorized,
        ErrorCode::Denied,
        ErrorCode::Unsupported,
        ErrorCode::BadRequest,
        ErrorCode::TooManyRequests,
        ErrorCode::Unknown,
        ErrorCode::Unavailable,
    ];

    /// The code as it appears in the envelope, and its HTTP status: the table.
    pub const fn describe(self) -> (&'static str, StatusCode) {
        match self {
            ErrorCode::BlobUnknown => ("BLOB_UNKNOWN", StatusCode::NOT_FOUND),
            ErrorCode::BlobRangeUnsatisfiable => {
                ("BLOB_UNKNOWN", StatusCode::RANGE_NOT_SATISFIABLE)
            }
            ErrorCode::BlobUploadInvalid => ("BLOB_UPLOAD_INVALID", StatusCode::BAD_REQUEST),
            ErrorCode::UploadRangeInvalid => {
                ("BLOB_UPLOAD_INVALID", StatusCode::RANGE_NOT_SATISFIABLE)
            }
            ErrorCode::UploadAgain => ("BLOB_UPLOAD_INVALID", StatusCode::SERVICE_UNAVAILABLE),
            ErrorCode::BlobUploadUnknown => ("BLOB_UPLOAD_UNKNOWN", StatusCode::NOT_FOUND),
            ErrorCode::DigestInvalid => ("DIGEST_INVALID", StatusCode::BAD_REQUEST),
            ErrorCode::ManifestBlobUnknown => ("MANIFEST_BLOB_UNKNOWN", StatusCode::BAD_REQUEST),
            ErrorCode::ManifestInvalid => ("MANIFEST_INVALID", StatusCode::BAD_REQUEST),
            ErrorCode::ManifestUnknown => ("MANIFEST_UNKNOWN", StatusCode::NOT_FOUND),
            ErrorCode::NameInvalid => ("NAME_INVALID", StatusCode::BAD_REQUEST),
            ErrorCode::NameUnknown => ("NAME_UNKNOWN", StatusCode::NOT_FOUND),
            ErrorCode::SizeInvalid => ("SIZE_INVALID", StatusCode::BAD_REQUEST),
            ErrorCode::TooLarge => ("SIZE_INVALID", StatusCode::PAYLOAD_TOO_LARGE),
            ErrorCode::Unauthorized => ("UNAUTHORIZED", StatusCode::UNAUTHORIZED),
            ErrorCode::Denied => ("DENIED", StatusCode::FORBIDDEN),
            ErrorCode::Unsupported => ("UNSUPPORTED", StatusCode::METHOD_NOT_ALLOWED),
            ErrorCode::BadRequest => ("UNSUPPORTED", StatusCode::BAD_REQUEST),
            ErrorCode::TooManyRequests => ("TOOMANYREQUESTS", StatusCode::TOO_MANY_REQUESTS),
            ErrorCode::Unknown => ("UNKNOWN", StatusCode::INTERNAL_SERVER_ERROR),
            ErrorCode::Unavailable => ("UNAVAILABLE", StatusCode::SERVICE_UNAVAILABLE),
        }
    }

    /// The code as it appears in the envelope.
    pub const fn as_str(self) -> &'static str {
        self.describe().0
    }
}

/// One failure as a client sees it: code (and with it the status) and a readable message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OciError {
    /// The OCI code, and with it the HTTP status.
    pub code: ErrorCode,
    /// What went wrong, for a person.
    pub message: String,
    /// Headers the answer carries (`Retry-After` of a 429, `Content-Range` of a 416).
    pub headers: Vec<(http::HeaderName, String)>,
}

impl OciError {
    /// An error with its code's status.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        OciError {
            code,
            message: message.into(),
            headers: Vec::new(),
        }
    }

    /// The HTTP status: always its code's.
    pub const fn status(&self) -> StatusCode {
        self.code.describe().1
    }

    /// The same error with a header on its answer.
    pub fn with_header(mut self, name: http::HeaderName, value: impl ToString) -> Self {
        self.headers.push((name, value.to_string()));
        self
    }

    /// The OCI error envelope: `{"errors":[{"code":…,"message":…,"detail":{}}]}`.
    pub fn envelope(&self) -> String {
        let error =
            serde_json::json!({"code": self.code.as_str(), "message": self.message, "detail": {}});
        serde_json::json!({"errors": [error]}).to_string()
    }
}

impl From<&RouteError> for OciError {
    fn from(e: &RouteError) -> Self {
        let message = e.to_string();
        let code = match e {
            RouteError::NotFound => ErrorCode::NameUnknown,
            RouteError::MethodNotAllowed { .. } => ErrorCode::Unsupported,
            RouteError::Name(_) => ErrorCode::NameInvalid,
            RouteError::Digest(_) | RouteError::DigestRequired => ErrorCode::DigestInvalid,
            RouteError::Reference(_) => ErrorCode::ManifestInvalid,
            RouteError::ManifestUnknown { .. } => ErrorCode::ManifestUnknown,
            RouteError::UploadId(_) => ErrorCode::BlobUploadUnknown,
            RouteError::Query { .. } => ErrorCode::BadRequest,
        };
        OciError::new(code, message)
    }
}

impl From<&Error> for OciError {
    fn from(e: &Error) -> Self {
        let message = e.to_string();
        let code = match e {
            Error::Denied(
                Denial::AuthenticationRequired { .. } | Denial::InsufficientScope { .. },
            ) => ErrorCode::Unauthorized,
            Error::Denied(_) => ErrorCode::Denied,
            Error::NameUnknown(_) | Error::ImageUnknown(_) => ErrorCode::NameUnknown,
            Error::BlobUnknown(_) => ErrorCode::BlobUnknown,
            Error::UploadUnknown(_) => ErrorCode::BlobUploadUnknown,
            // The spec answers a chunk that does not continue the upload with 416.
            Error::UploadOffset { .. } | Error::ChunkTooSmall { .. } => {
                ErrorCode::UploadRangeInvalid
            }
            Error::DigestMismatch(_) => ErrorCode::DigestInvalid,
            Error::ManifestInvalid(_) | Error::ManifestBlobSize { .. } => {
                ErrorCode::ManifestInvalid
            }
            Error::ManifestTooLarge { .. } => ErrorCode::TooLarge,
            Error::ManifestBlobUnknown(_) => ErrorCode::ManifestBlobUnknown,
            Error::ManifestUnknown { .. } => ErrorCode::ManifestUnknown,
            // docker shows "denied: <message>": the quota message reads as a sentence.
            Error::QuotaExceeded(_) => ErrorCode::Denied,
            Error::TooManyUploads { .. } => ErrorCode::TooManyRequests,
            Error::Busy => {
                return OciError::new(ErrorCode::TooManyRequests, message)
                    .with_header(http::header::RETRY_AFTER, 1);
            }
            Error::RangeNotSatisfiable { size } => {
                return OciError::new(ErrorCode::BlobRangeUnsatisfiable, message)
                    .with_header(http::header::CONTENT_RANGE, format!("bytes */{size}"));
            }
            // docker shows "denied: proxy repository cache is read-only: ...".
            Error::ReadOnly(_) => ErrorCode::Denied,
            // Nothing cached to answer with while the upstream fails: the client may retry.
            Error::Upstream { .. } => {
                tracing::warn!(error = %berth_core::error_chain(e), "a proxy repository's upstream failed");
                return OciError::new(ErrorCode::Unavailable, message)
                    .with_header(http::header::RETRY_AFTER, RETRY_UNAVAILABLE_SECS);
            }
            // Retryable: the client uploads again.
            Error::BlobBeingCollected(_) => ErrorCode::UploadAgain,
            Error::Body(_) => ErrorCode::BlobUploadInvalid,
            // The cause is for the log (inside the request's span, which names its id); the
            // client learns only that the server failed.
            Error::Backend { .. } => {
                tracing::error!(error = %berth_core::error_chain(e), "the registry engine failed");
                return backend_failure(e);
            }
        };
        OciError::new(code, message)
    }
}

impl From<&IdentityError> for OciError {
    fn from(e: &IdentityError) -> Self {
        let message = e.to_string();
        let code = match e {
            IdentityError::TooManyAttempts { retry_after } => {
                return OciError::new(ErrorCode::TooManyRequests, message)
                    .with_header(http::header::RETRY_AFTER, retry_after.as_secs().max(1));
            }
            IdentityError::BadCredentials
            | IdentityError::Expired { .. }
            | IdentityError::Disabled { .. } => ErrorCode::Unauthorized,
            // Not what a login meets; a caller that gets here asked for something invalid.
            IdentityError::Invalid(_)
            | IdentityError::NotFound { .. }
            | IdentityError::AlreadyExists { .. }
            | IdentityError::ForeignRepository(_) => ErrorCode::BadRequest,
            IdentityError::Backend(_) => {
                tracing::error!(error = %berth_core::error_chain(e), "the identity store failed");
                return backend_failure(e);
            }
        };
        OciError::new(code, message)
    }
}

/// How long a client is asked to wait before retrying while a backend is down.
const RETRY_UNAVAILABLE_SECS: u64 = 5;

/// What a backend failure answers: 503 `UNAVAILABLE` naming the backend when it cannot be
/// reached (the client may retry), else 500 "internal error" (the cause is in the log).
fn backend_failure(e: &(dyn std::error::Error + 'static)) -> OciError {
    berth_core::metrics::note_backend_failure(e);
    match berth_core::unavailable_backend(e) {
        Some(outage) => OciError::new(
            ErrorCode::Unavailable,
            format!("{outage} is unavailable; try again in a moment"),
        )
        .with_header(http::header::RETRY_AFTER, RETRY_UNAVAILABLE_SECS),
        None => OciError::new(ErrorCode::Unknown, "internal error"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_model::{Digest, Name, RepositoryName};
    use http::Method;

    #[test]
    fn every_code_is_a_spec_code_with_its_status() {
        const SPEC: [&str; 15] = [
            "BLOB_UNKNOWN",
            "BLOB_UPLOAD_INVALID",
            "BLOB_UPLOAD_UNKNOWN",
            "DIGEST_INVALID",
            "MANIFEST_BLOB_UNKNOWN",
            "MANIFEST_INVALID",
            "MANIFEST_UNKNOWN",
            "NAME_INVALID",
            "NAME_UNKNOWN",
            "SIZE_INVALID",
            "UNAUTHORIZED",
            "DENIED",
            "UNSUPPORTED",
            "TOOMANYREQUESTS",
            "UNKNOWN",
        ];
        // Not in the spec's table: the reference registry's code for a backend that is down.
        const REFERENCE: [&str; 1] = ["UNAVAILABLE"];
        for code in ErrorCode::ALL {
            let (name, status) = code.describe();
            assert!(SPEC.contains(&name) || REFERENCE.contains(&name), "{name}");
            let server_side = matches!(
                code,
                ErrorCode::Unknown | ErrorCode::UploadAgain | ErrorCode::Unavailable
            );
            assert_eq!(status.is_server_error(), server_side, "{code:?}");
            assert!(status.is_client_error() || server_side, "{code:?}");
        }
    }

    #[test]
    fn engine_errors_map_through_the_table() {
        let digest = Digest::sha256(b"x");
        let repo = RepositoryName::parse("team").unwrap();
        let cases: Vec<(Error, &str, u16)> = vec![
            (Error::BlobUnknown(digest.clone()), "BLOB_UNKNOWN", 404),
            (Error::NameUnknown(repo.clone()), "NAME_UNKNOWN", 404),
            (
                Error::UploadOffset {
                    id: berth_model::UploadId::from_random([0; 16]),
                    current: 5,
                    requested: 0,
                },
                "BLOB_UPLOAD_INVALID",
                416,
            ),
            (
                Error::ManifestBlobUnknown(digest.clone()),
                "MANIFEST_BLOB_UNKNOWN",
                400,
            ),
            (
                Error::ManifestUnknown {
                    name: Name::parse("team/app").unwrap(),
                    reference: "v1".into(),
                },
                "MANIFEST_UNKNOWN",
                404,
            ),
            (
                Error::QuotaExceeded(berth_policy::QuotaExceeded {
                    usage: 0,
                    delta: 2048,
                    limit: 1024,
                }),
                "DENIED",
                403,
            ),
            (
                Error::Denied(Denial::AuthenticationRequired {
                    action: berth_policy::Action::Pull,
                    repository: repo.clone(),
                }),
                "UNAUTHORIZED",
                401,
            ),
            (
                Error::Denied(Denial::Disabled { user: "u".into() }),
                "DENIED",
                403,
            ),
            (Error::RangeNotSatisfiable { size: 3 }, "BLOB_UNKNOWN", 416),
        ];
        for (error, code, status) in cases {
            let oci = OciError::from(&error);
            assert_eq!(
                (oci.code.as_str(), oci.status().as_u16()),
                (code, status),
                "{error}"
            );
            assert_eq!(oci.message, error.to_string());
        }
        let quota = OciError::from(&Error::QuotaExceeded(berth_policy::QuotaExceeded {
            usage: 0,
            delta: 2048,
            limit: 1024,
        }));
        assert_eq!(
            quota.message,
            "adding 2.0 KiB would bring usage to 2.0 KiB, over the limit of 1.0 KiB"
        );
    }

    #[test]
    fn a_backend_that_is_down_is_a_503_naming_it_and_any_other_failure_a_500() {
        let down = Error::Backend {
            what: "metadata",
            source: Box::new(berth_meta::Error::unavailable(
                "postgres",
                "connection refused",
            )),
        };
        let oci = OciError::from(&down);
        assert_eq!(
            (oci.code.as_str(), oci.status().as_u16()),
            ("UNAVAILABLE", 503)
        );
        assert_eq!(
            oci.message,
            "the metadata store (postgres) is unavailable; try again in a moment"
        );
        assert!(
            oci.headers
                .iter()
                .any(|(h, _)| h == http::header::RETRY_AFTER)
        );
        let s3 = Error::Backend {
            what: "storage",
            source: Box::new(berth_storage::Error::unavailable("s3", "connect error")),
        };
        assert!(
            OciError::from(&s3)
                .message
                .starts_with("the blob storage (s3)")
        );
        let login = IdentityError::Backend(berth_meta::Error::unavailable("postgres", "closed"));
        assert_eq!(OciError::from(&login).code, ErrorCode::Unavailable);
        let failed = Error::Backend {
            what: "storage",
            source: Box::new(berth_storage::Error::backend("fs", "Not a directory")),
        };
        let oci = OciError::from(&failed);
        assert_eq!(
            (oci.code, oci.message.as_str()),
            (ErrorCode::Unknown, "internal error")
        );
    }

    #[test]
    fn an_invalid_digest_in_a_path_is_a_400_never_a_500() {
        let route = crate::route::parse(&Method::GET, "/v2/team/app/blobs/sha256:nothex", None)
            .unwrap_err();
        let oci = OciError::from(&route);
        assert_eq!(
            (oci.code, oci.status()),
            (ErrorCode::DigestInvalid, StatusCode::BAD_REQUEST)
        );
    }

    #[test]
    fn the_envelope_is_the_specs() {
        let oci = OciError::new(ErrorCode::NameUnknown, "repository team does not exist");
        let value: serde_json::Value = serde_json::from_str(&oci.envelope()).unwrap();
        assert_eq!(value["errors"][0]["code"], "NAME_UNKNOWN");
        assert_eq!(
            value["errors"][0]["message"],
            "repository team does not exist"
        );
    }
}
