//! The one table from failures to HTTP statuses and OCI error codes, and the OCI error envelope.
//!
//! Every failure a handler can meet (a route that does not parse, an engine error) becomes an
//! [`OciError`] here and nowhere else, so a client always sees the same code and status for the
//! same condition.

use berth_core::Error;
use berth_policy::Denial;
use http::StatusCode;

use crate::route::RouteError;

/// The error codes of the OCI Distribution Spec v1.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// Blob unknown to registry.
    BlobUnknown,
    /// Blob upload invalid (a chunk out of order, a bad `Content-Range`).
    BlobUploadInvalid,
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
    /// Authentication required.
    Unauthorized,
    /// Requested access to the resource is denied.
    Denied,
    /// The operation is unsupported.
    Unsupported,
    /// Too many requests.
    TooManyRequests,
    /// The server failed (the reference registry's `UNKNOWN`, answered with 500); the details go
    /// to the log, not to the client.
    Unknown,
}

impl ErrorCode {
    /// Every code.
    pub const ALL: [ErrorCode; 14] = [
        ErrorCode::BlobUnknown,
        ErrorCode::BlobUploadInvalid,
        ErrorCode::BlobUploadUnknown,
        ErrorCode::DigestInvalid,
        ErrorCode::ManifestBlobUnknown,
        ErrorCode::ManifestInvalid,
        ErrorCode::ManifestUnknown,
        ErrorCode::NameInvalid,
        ErrorCode::NameUnknown,
        ErrorCode::SizeInvalid,
        ErrorCode::Unauthorized,
        ErrorCode::Denied,
        ErrorCode::Unsupported,
        ErrorCode::TooManyRequests,
    ];

    /// The code as it appears in the envelope, and its usual HTTP status: the table.
    pub const fn describe(self) -> (&'static str, StatusCode) {
        match self {
            ErrorCode::BlobUnknown => ("BLOB_UNKNOWN", StatusCode::NOT_FOUND),
            ErrorCode::BlobUploadInvalid => ("BLOB_UPLOAD_INVALID", StatusCode::BAD_REQUEST),
            ErrorCode::BlobUploadUnknown => ("BLOB_UPLOAD_UNKNOWN", StatusCode::NOT_FOUND),
            ErrorCode::DigestInvalid => ("DIGEST_INVALID", StatusCode::BAD_REQUEST),
            ErrorCode::ManifestBlobUnknown => ("MANIFEST_BLOB_UNKNOWN", StatusCode::BAD_REQUEST),
            ErrorCode::ManifestInvalid => ("MANIFEST_INVALID", StatusCode::BAD_REQUEST),
            ErrorCode::ManifestUnknown => ("MANIFEST_UNKNOWN", StatusCode::NOT_FOUND),
            ErrorCode::NameInvalid => ("NAME_INVALID", StatusCode::BAD_REQUEST),
            ErrorCode::NameUnknown => ("NAME_UNKNOWN", StatusCode::NOT_FOUND),
            ErrorCode::SizeInvalid => ("SIZE_INVALID", StatusCode::BAD_REQUEST),
            ErrorCode::Unauthorized => ("UNAUTHORIZED", StatusCode::UNAUTHORIZED),
            ErrorCode::Denied => ("DENIED", StatusCode::FORBIDDEN),
            ErrorCode::Unsupported => ("UNSUPPORTED", StatusCode::METHOD_NOT_ALLOWED),
            ErrorCode::TooManyRequests => ("TOOMANYREQUESTS", StatusCode::TOO_MANY_REQUESTS),
            ErrorCode::Unknown => ("UNKNOWN", StatusCode::INTERNAL_SERVER_ERROR),
        }
    }

    /// The code as it appears in the envelope.
    pub const fn as_str(self) -> &'static str {
        self.describe().0
    }
}

/// One failure as a client sees it: status, code and a readable message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OciError {
    /// The HTTP status (the code's usual one unless a case needs another, such as 416).
    pub status: StatusCode,
    /// The OCI code.
    pub code: ErrorCode,
    /// What went wrong, for a person.
    pub message: String,
    /// Headers the answer carries (`Retry-After` of a 429, `Content-Range` of a 416).
    pub headers: Vec<(http::HeaderName, String)>,
}

impl OciError {
    /// An error with its code's usual status.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        OciError {
            status: code.describe().1,
            code,
            message: message.into(),
            headers: Vec::new(),
        }
    }

    /// The same error answered with another status (416, 413, 503, …).
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
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
        match e {
            RouteError::NotFound => {
                OciError::new(ErrorCode::NameUnknown, message).with_status(StatusCode::NOT_FOUND)
            }
            RouteError::MethodNotAllowed { .. } => OciError::new(ErrorCode::Unsupported, message),
            RouteError::Name(_) => OciError::new(ErrorCode::NameInvalid, message),
            RouteError::Digest(_) => OciError::new(ErrorCode::DigestInvalid, message),
            RouteError::Reference(_) => OciError::new(ErrorCode::ManifestInvalid, message),
            RouteError::ManifestUnknown { .. } => {
                OciError::new(ErrorCode::ManifestUnknown, message)
            }
            RouteError::UploadId(_) => OciError::new(ErrorCode::BlobUploadUnknown, message),
            _ => {
                OciError::new(ErrorCode::Unsupported, message).with_status(StatusCode::BAD_REQUEST)
            }
        }
    }
}

impl From<&Error> for OciError {
    fn from(e: &Error) -> Self {
        let message = e.to_string();
        match e {
            Error::Denied(
                Denial::AuthenticationRequired { .. } | Denial::InsufficientScope { .. },
            ) => OciError::new(ErrorCode::Unauthorized, message),
            Error::Denied(_) => OciError::new(ErrorCode::Denied, message),
            Error::NameUnknown(_) | Error::ImageUnknown(_) => {
                OciError::new(ErrorCode::NameUnknown, message)
            }
            Error::BlobUnknown(_) => OciError::new(ErrorCode::BlobUnknown, message),
            Error::UploadUnknown(_) => OciError::new(ErrorCode::BlobUploadUnknown, message),
            // The spec answers a chunk that does not continue the upload with 416.
            Error::UploadOffset { .. } => OciError::new(ErrorCode::BlobUploadInvalid, message)
                .with_status(StatusCode::RANGE_NOT_SATISFIABLE),
            Error::DigestMismatch(_) => OciError::new(ErrorCode::DigestInvalid, message),
            Error::ManifestInvalid(_) => OciError::new(ErrorCode::ManifestInvalid, message),
            Error::ManifestTooLarge { .. } => OciError::new(ErrorCode::SizeInvalid, message)
                .with_status(StatusCode::PAYLOAD_TOO_LARGE),
            Error::ManifestBlobUnknown(_) => OciError::new(ErrorCode::ManifestBlobUnknown, message),
            Error::ManifestBlobSize { .. } => OciError::new(ErrorCode::ManifestInvalid, message),
            Error::TooManyUploads { .. } => OciError::new(ErrorCode::TooManyRequests, message),
            Error::ChunkTooSmall { .. } => OciError::new(ErrorCode::BlobUploadInvalid, message)
                .with_status(StatusCode::RANGE_NOT_SATISFIABLE),
            Error::Busy => OciError::new(ErrorCode::TooManyRequests, message)
                .with_header(http::header::RETRY_AFTER, 1),
            Error::ManifestUnknown { .. } => OciError::new(ErrorCode::ManifestUnknown, message),
            // docker shows "denied: <message>": the quota message reads as a sentence.
            Error::QuotaExceeded(_) => OciError::new(ErrorCode::Denied, message),
            Error::RangeNotSatisfiable { size } => OciError::new(ErrorCode::BlobUnknown, message)
                .with_status(StatusCode::RANGE_NOT_SATISFIABLE)
                .with_header(http::header::CONTENT_RANGE, format!("bytes */{size}")),
            // Retryable: the client uploads again.
            Error::BlobBeingCollected(_) => OciError::new(ErrorCode::BlobUploadInvalid, message)
                .with_status(StatusCode::SERVICE_UNAVAILABLE),
            Error::Body(_) => OciError::new(ErrorCode::BlobUploadInvalid, message),
            _ => OciError::new(ErrorCode::Unknown, "internal error"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_model::{Digest, Name, RepositoryName};
    use http::Method;

    #[test]
    fn every_spec_code_has_its_name_and_a_client_error_status() {
        for code in ErrorCode::ALL {
            let (name, status) = code.describe();
            assert_eq!(name, name.to_ascii_uppercase());
            assert!(status.is_client_error(), "{name}");
        }
        assert!(ErrorCode::Unknown.describe().1.is_server_error());
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
                (oci.code.as_str(), oci.status.as_u16()),
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
    fn an_invalid_digest_in_a_path_is_a_400_never_a_500() {
        let route = crate::route::parse(&Method::GET, "/v2/team/app/blobs/sha256:nothex", None)
            .unwrap_err();
        let oci = OciError::from(&route);
        assert_eq!(
            (oci.code, oci.status),
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
