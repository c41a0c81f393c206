//! The route parser: `(method, path, query)` to a closed [`Route`], a pure function.
//!
//! OCI names may hold any number of slashes, and a name component may itself be `manifests`,
//! `blobs`, `tags` or `uploads`, so the path is read **from the right**: the fixed suffix
//! (`manifests/<reference>`, `blobs/<digest>`, `blobs/uploads/[<id>]`, `tags/list`,
//! `referrers/<digest>`) is matched first and everything between `/v2/` and it is the name.
//!
//! | path | method: route |
//! | --- | --- |
//! | `/v2/` | GET, HEAD: [`Route::Base`] |
//! | `/v2/_catalog` | GET: [`Route::Catalog`] |
//! | `/v2/<name>/tags/list` | GET: [`Route::ListTags`] |
//! | `/v2/<name>/manifests/<reference>` | GET: [`Route::GetManifest`], HEAD: [`Route::HeadManifest`], PUT: [`Route::PutManifest`], DELETE: [`Route::DeleteManifest`] |
//! | `/v2/<name>/blobs/<digest>` | GET: [`Route::GetBlob`], HEAD: [`Route::HeadBlob`], DELETE: [`Route::DeleteBlob`] |
//! | `/v2/<name>/blobs/uploads/` | POST: [`Route::StartUpload`] |
//! | `/v2/<name>/blobs/uploads/<id>` | GET: [`Route::UploadStatus`], PATCH: [`Route::PatchUpload`], PUT: [`Route::CommitUpload`], DELETE: [`Route::CancelUpload`] |
//! | `/v2/<name>/referrers/<digest>` | GET: [`Route::Referrers`] |

use berth_model::http_text::{Plus, percent_decode};
use berth_model::{
    Algorithm, Digest, DigestError, Name, NameError, Reference, ReferenceError, Tag, TagError,
    UploadId, UploadIdError,
};
use http::Method;

/// Paging of tag lists and the catalog (`n`, `last`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paging<T> {
    /// At most this many entries (`n`).
    pub n: Option<usize>,
    /// Entries after this one (`last`).
    pub last: Option<T>,
}

impl<T> Default for Paging<T> {
    fn default() -> Self {
        Paging {
            n: None,
            last: None,
        }
    }
}

/// What a `POST …/blobs/uploads/` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartUpload {
    /// A session for chunked or monolithic upload, hashing with `digest-algorithm` (default
    /// `sha256`).
    Session(Algorithm),
    /// A monolithic upload in this request, verified against `digest`.
    Monolithic(Digest),
    /// Mount `digest` from `from` (when given) instead of uploading.
    Mount {
        /// The blob.
        digest: Digest,
        /// The repository to mount from.
        from: Option<Name>,
    },
}

/// A parsed request: one variant per operation, the method included, so a handler never
/// looks at the method again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `GET` or `HEAD /v2/`: version check and authentication challenge.
    Base,
    /// `GET /v2/_catalog`.
    Catalog(Paging<Name>),
    /// `GET /v2/<name>/tags/list`.
    ListTags {
        /// The image.
        name: Name,
        /// Paging.
        paging: Paging<Tag>,
    },
    /// `GET /v2/<name>/manifests/<reference>`.
    GetManifest {
        /// The image.
        name: Name,
        /// Tag or digest.
        reference: Reference,
    },
    /// `HEAD /v2/<name>/manifests/<reference>`.
    HeadManifest {
        /// The image.
        name: Name,
        /// Tag or digest.
        reference: Reference,
    },
    /// `PUT /v2/<name>/manifests/<reference>`.
    PutManifest {
        /// The image.
        name: Name,
        /// Tag or digest.
        reference: Reference,
    },
    /// `DELETE /v2/<name>/manifests/<reference>`.
    DeleteManifest {
        /// The image.
        name: Name,
        /// Tag or digest.
        reference: Reference,
    },
    /// `GET /v2/<name>/blobs/<digest>`.
    GetBlob {
        /// The image.
        name: Name,
        /// The blob.
        digest: Digest,
    },
    /// `HEAD /v2/<name>/blobs/<digest>`.
    HeadBlob {
        /// The image.
        name: Name,
        /// The blob.
        digest: Digest,
    },
    /// `DELETE /v2/<name>/blobs/<digest>`.
    DeleteBlob {
        /// The image.
        name: Name,
        /// The blob.
        digest: Digest,
    },
    /// `POST /v2/<name>/blobs/uploads/`.
    StartUpload {
        /// The image.
        name: Name,
        /// What kind of start.
        start: StartUpload,
    },
    /// `GET /v2/<name>/blobs/uploads/<id>`: where the upload stands.
    UploadStatus {
        /// The image.
        name: Name,
        /// The session.
        id: UploadId,
    },
    /// `PATCH /v2/<name>/blobs/uploads/<id>`: a chunk.
    PatchUpload {
        /// The image.
        name: Name,
        /// The session.
        id: UploadId,
    },
    /// `PUT /v2/<name>/blobs/uploads/<id>?digest=…`: the last chunk, if any, and the digest.
    CommitUpload {
        /// The image.
        name: Name,
        /// The session.
        id: UploadId,
        /// The `digest` query parameter, required.
        digest: Digest,
    },
    /// `DELETE /v2/<name>/blobs/uploads/<id>`.
    CancelUpload {
        /// The image.
        name: Name,
        /// The session.
        id: UploadId,
    },
    /// `GET /v2/<name>/referrers/<digest>`.
    Referrers {
        /// The image.
        name: Name,
        /// The subject.
        digest: Digest,
        /// The `artifactType` filter.
        artifact_type: Option<String>,
    },
}

impl Route {
    /// The image the operation is on (`None` for the base endpoint and the catalog).
    pub fn name(&self) -> Option<&Name> {
        match self {
            Route::Base | Route::Catalog(_) => None,
            Route::ListTags { name, .. }
            | Route::GetManifest { name, .. }
            | Route::HeadManifest { name, .. }
            | Route::PutManifest { name, .. }
            | Route::DeleteManifest { name, .. }
            | Route::GetBlob { name, .. }
            | Route::HeadBlob { name, .. }
            | Route::DeleteBlob { name, .. }
            | Route::StartUpload { name, .. }
            | Route::UploadStatus { name, .. }
            | Route::PatchUpload { name, .. }
            | Route::CommitUpload { name, .. }
            | Route::CancelUpload { name, .. }
            | Route::Referrers { name, .. } => Some(name),
        }
    }
}

/// Why a request has no route. Each maps to one answer: 404, 405, or an OCI error code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RouteError {
    /// Not an OCI distribution path.
    #[error("no such endpoint")]
    NotFound,
    /// The path exists but not for this method.
    #[error("method not allowed; allowed: {}", .allowed.iter().map(Method::as_str).collect::<Vec<_>>().join(", "))]
    MethodNotAllowed {
        /// The methods the path takes.
        allowed: Vec<Method>,
    },
    /// The name is invalid (`NAME_INVALID`).
    #[error("invalid repository name: {0}")]
    Name(#[from] NameError),
    /// A digest in the path or query is invalid (`DIGEST_INVALID`).
    #[error("invalid digest: {0}")]
    Digest(#[from] DigestError),
    /// The manifest reference is invalid (`MANIFEST_INVALID` / `TAG_INVALID`).
    #[error("invalid reference: {0}")]
    Reference(#[from] ReferenceError),
    /// A manifest read or delete names a reference that is neither a tag nor a digest: no such
    /// manifest can exist (`MANIFEST_UNKNOWN`, as registries and clients expect).
    #[error("manifest {reference:?} is unknown: {reason}")]
    ManifestUnknown {
        /// The reference as given.
        reference: String,
        /// Why it is no reference.
        reason: ReferenceError,
    },
    /// Completing an upload needs its `digest` query parameter (`DIGEST_INVALID`).
    #[error("the digest query parameter is required")]
    DigestRequired,
    /// The upload id is invalid (`BLOB_UPLOAD_UNKNOWN`).
    #[error("invalid upload id: {0}")]
    UploadId(#[from] UploadIdError),
    /// A query parameter is invalid.
    #[error("invalid query parameter {name}: {reason}")]
    Query {
        /// The parameter.
        name: &'static str,
        /// What is wrong.
        reason: String,
    },
}

impl From<TagError> for RouteError {
    fn from(e: TagError) -> Self {
        RouteError::Query {
            name: "last",
            reason: e.to_string(),
        }
    }
}

/// The query's parameters, decoded; the first value of each name wins.
struct Query(Vec<(String, String)>);

impl Query {
    fn parse(query: Option<&str>) -> Result<Self, RouteError> {
        let mut pairs = Vec::new();
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let malformed = || RouteError::Query {
                name: "query",
                reason: format!("malformed escape in {pair:?}"),
            };
            pairs.push((
                percent_decode(key, Plus::Space).ok_or_else(malformed)?,
                percent_decode(value, Plus::Space).ok_or_else(malformed)?,
            ));
        }
        Ok(Query(pairs))
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn n(&self) -> Result<Option<usize>, RouteError> {
        self.get("n")
            .map(|n| {
                n.parse().map_err(|_| RouteError::Query {
                    name: "n",
                    reason: format!("{n:?} is not a count"),
                })
            })
            .transpose()
    }
}

fn allow(
    method: &Method,
    allowed: &[Method],
    route: impl FnOnce() -> Result<Route, RouteError>,
) -> Result<Route, RouteError> {
    if allowed.contains(method) {
        route()
    } else {
        Err(RouteError::MethodNotAllowed {
            allowed: allowed.to_vec(),
        })
    }
}

/// Parses a request's method, path and query into a [`Route`].
pub fn parse(method: &Method, path: &str, query: Option<&str>) -> Result<Route, RouteError> {
    let rest = path.strip_prefix("/v2").ok_or(RouteError::NotFound)?;
    if rest.is_empty() || rest == "/" {
        return allow(method, &[Method::GET, Method::HEAD], || Ok(Route::Base));
    }
    let rest = rest.strip_prefix('/').ok_or(RouteError::NotFound)?;
    let query = Query::parse(query)?;
    if rest == "_catalog" {
        return allow(method, &[Method::GET], || {
            let last = query.get("last").map(Name::parse).transpose()?;
            Ok(Route::Catalog(Paging {
                n: query.n()?,
                last,
            }))
        });
    }
    if let Some(name) = rest.strip_suffix("/tags/list") {
        return allow(method, &[Method::GET], || {
            let last = query.get("last").map(Tag::parse).transpose()?;
            Ok(Route::ListTags {
                name: Name::parse(name)?,
                paging: Paging {
                    n: query.n()?,
                    last,
                },
            })
        });
    }
    if let Some(name) = rest
        .strip_suffix("/blobs/uploads/")
        .or_else(|| rest.strip_suffix("/blobs/uploads"))
    {
        return allow(method, &[Method::POST], || {
            let name = Name::parse(name)?;
            let start = match (query.get("mount"), query.get("digest")) {
                (Some(mount), _) => StartUpload::Mount {
                    digest: Digest::parse(mount)?,
                    from: query.get("from").map(Name::parse).transpose()?,
                },
                (None, Some(digest)) => StartUpload::Monolithic(Digest::parse(digest)?),
                (None, None) => StartUpload::Session(match query.get("digest-algorithm") {
                    None => Algorithm::Sha256,
                    Some(name) => Algorithm::from_name(name).ok_or_else(|| {
                        RouteError::Digest(DigestError::UnsupportedAlgorithm(
                            name.chars().take(40).collect(),
                        ))
                    })?,
                }),
            };
            Ok(Route::StartUpload { name, start })
        });
    }
    let (head, last) = rest.rsplit_once('/').ok_or(RouteError::NotFound)?;
    if let Some(name) = head.strip_suffix("/blobs/uploads") {
        return allow(
            method,
            &[Method::GET, Method::PATCH, Method::PUT, Method::DELETE],
            || {
                let (name, id) = (Name::parse(name)?, UploadId::parse(last)?);
                Ok(match *method {
                    Method::GET => Route::UploadStatus { name, id },
                    Method::PATCH => Route::PatchUpload { name, id },
                    Method::PUT => {
                        let digest = query.get("digest").ok_or(RouteError::DigestRequired)?;
                        let digest = Digest::parse(digest)?;
                        Route::CommitUpload { name, id, digest }
                    }
                    _ => Route::CancelUpload { name, id },
                })
            },
        );
    }
    let (name, kind) = head.rsplit_once('/').ok_or(RouteError::NotFound)?;
    match kind {
        "manifests" => allow(
            method,
            &[Method::GET, Method::HEAD, Method::PUT, Method::DELETE],
            || {
                let name = Name::parse(name)?;
                let reference = Reference::parse(last).map_err(|reason| {
                    if *method == Method::PUT {
                        RouteError::Reference(reason)
                    } else {
                        RouteError::ManifestUnknown {
                            reference: last.chars().take(200).collect(),
                            reason,
                        }
                    }
                })?;
                Ok(match *method {
                    Method::GET => Route::GetManifest { name, reference },
                    Method::HEAD => Route::HeadManifest { name, reference },
                    Method::PUT => Route::PutManifest { name, reference },
                    _ => Route::DeleteManifest { name, reference },
                })
            },
        ),
        "blobs" => allow(method, &[Method::GET, Method::HEAD, Method::DELETE], || {
            let (name, digest) = (Name::parse(name)?, Digest::parse(last)?);
            Ok(match *method {
                Method::GET => Route::GetBlob { name, digest },
                Method::HEAD => Route::HeadBlob { name, digest },
                _ => Route::DeleteBlob { name, digest },
            })
        }),
        "referrers" => allow(method, &[Method::GET], || {
            Ok(Route::Referrers {
                name: Name::parse(name)?,
                digest: Digest::parse(last)?,
                artifact_type: query.get("artifactType").map(str::to_owned),
            })
        }),
        _ => Err(RouteError::NotFound),
    }
}

/// Fuzz and seed-corpus body: any method, path and query parse to a route or a typed error,
/// never a panic; a route error answers a 4xx, never a 500; a parsed name is the exact text of
/// the path between `/v2/` and the suffix.
pub fn check(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (method, target) = text.split_once(' ').unwrap_or(("GET", text));
    let Ok(method) = Method::from_bytes(method.as_bytes()) else {
        return;
    };
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (target, None),
    };
    let parsed = parse(&method, path, query);
    if let Err(e) = &parsed {
        // Whatever the input, a route error is the client's: never a 500.
        let answer = crate::errors::OciError::from(e);
        assert!(
            answer.status().is_client_error(),
            "{text:?} answers {answer:?}"
        );
    }
    if let Some(name) = parsed.as_ref().ok().and_then(Route::name) {
        assert!(
            path.starts_with(&format!("/v2/{name}/")),
            "{path} parsed to name {name}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d() -> Digest {
        Digest::sha256(b"x")
    }

    #[test]
    fn routes_parse_from_the_right() {
        let id = UploadId::from_random([3; 16]);
        let n = |s: &str| Name::parse(s).unwrap();
        let cases: Vec<(Method, String, Option<String>, Route)> = vec![
            (Method::GET, "/v2/".into(), None, Route::Base),
            (Method::HEAD, "/v2".into(), None, Route::Base),
            (
                Method::GET,
                "/v2/_catalog".into(),
                Some("n=10&last=a%2Fb".into()),
                Route::Catalog(Paging {
                    n: Some(10),
                    last: Some(n("a/b")),
                }),
            ),
            (
                Method::GET,
                "/v2/team/a/b/c/tags/list".into(),
                None,
                Route::ListTags {
                    name: n("team/a/b/c"),
                    paging: Paging::default(),
                },
            ),
            (
                Method::GET,
                "/v2/team/manifests/manifests/latest".into(),
                None,
                Route::GetManifest {
                    name: n("team/manifests"),
                    reference: Reference::parse("latest").unwrap(),
                },
            ),
            (
                Method::PUT,
                format!("/v2/team/app/manifests/{}", d()),
                None,
                Route::PutManifest {
                    name: n("team/app"),
                    reference: Reference::Digest(d()),
                },
            ),
            (
                Method::DELETE,
                format!("/v2/team/blobs/blobs/{}", d()),
                None,
                Route::DeleteBlob {
                    name: n("team/blobs"),
                    digest: d(),
                },
            ),
            (
                Method::POST,
                "/v2/team/blobs/blobs/uploads/".into(),
                None,
                Route::StartUpload {
                    name: n("team/blobs"),
                    start: StartUpload::Session(Algorithm::Sha256),
                },
            ),
            (
                Method::POST,
                "/v2/team/app/blobs/uploads/".into(),
                Some("digest-algorithm=sha512".into()),
                Route::StartUpload {
                    name: n("team/app"),
                    start: StartUpload::Session(Algorithm::Sha512),
                },
            ),
            (
                Method::POST,
                "/v2/team/app/blobs/uploads/".into(),
                Some(format!("digest={}", d())),
                Route::StartUpload {
                    name: n("team/app"),
                    start: StartUpload::Monolithic(d()),
                },
            ),
            (
                Method::POST,
                "/v2/team/app/blobs/uploads/".into(),
                Some(format!("mount={}&from=other%2Fimg", d())),
                Route::StartUpload {
                    name: n("team/app"),
                    start: StartUpload::Mount {
                        digest: d(),
                        from: Some(n("other/img")),
                    },
                },
            ),
            (
                Method::PATCH,
                format!("/v2/team/uploads/blobs/uploads/{id}"),
                None,
                Route::PatchUpload {
                    name: n("team/uploads"),
                    id,
                },
            ),
            (
                Method::PUT,
                format!("/v2/team/app/blobs/uploads/{id}"),
                Some(format!("digest={}", d().as_str().replace(':', "%3A"))),
                Route::CommitUpload {
                    name: n("team/app"),
                    id,
                    digest: d(),
                },
            ),
            (
                Method::GET,
                format!("/v2/team/app/referrers/{}", d()),
                Some("artifactType=application%2Fvnd.example%2Bjson".into()),
                Route::Referrers {
                    name: n("team/app"),
                    digest: d(),
                    artifact_type: Some("application/vnd.example+json".into()),
                },
            ),
        ];
        for (method, path, query, expected) in cases {
            assert_eq!(
                parse(&method, &path, query.as_deref()),
                Ok(expected),
                "{method} {path}"
            );
        }
    }

    #[test]
    fn each_method_on_a_path_is_its_own_operation() {
        let id = UploadId::from_random([3; 16]);
        let manifest = "/v2/team/app/manifests/latest".to_owned();
        let blob = format!("/v2/team/app/blobs/{}", d());
        let upload = format!("/v2/team/app/blobs/uploads/{id}");
        let digest = format!("digest={}", d());
        let cases: [(Method, &str, Option<&str>, &str); 10] = [
            (Method::GET, &manifest, None, "GetManifest"),
            (Method::HEAD, &manifest, None, "HeadManifest"),
            (Method::PUT, &manifest, None, "PutManifest"),
            (Method::DELETE, &manifest, None, "DeleteManifest"),
            (Method::GET, &blob, None, "GetBlob"),
            (Method::HEAD, &blob, None, "HeadBlob"),
            (Method::DELETE, &blob, None, "DeleteBlob"),
            (Method::GET, &upload, None, "UploadStatus"),
            (Method::PATCH, &upload, None, "PatchUpload"),
            (Method::PUT, &upload, Some(&digest), "CommitUpload"),
        ];
        for (method, path, query, operation) in cases {
            let route = parse(&method, path, query).unwrap();
            assert!(
                format!("{route:?}").starts_with(operation),
                "{method} {path}: {route:?}"
            );
        }
        assert!(matches!(
            parse(&Method::DELETE, &upload, None),
            Ok(Route::CancelUpload { .. })
        ));
    }

    #[test]
    fn errors_name_what_is_wrong() {
        assert_eq!(parse(&Method::GET, "/v1/", None), Err(RouteError::NotFound));
        assert_eq!(
            parse(&Method::GET, "/v2/team/app/unknown/x", None),
            Err(RouteError::NotFound)
        );
        assert!(matches!(
            parse(&Method::POST, "/v2/team/app/manifests/latest", None),
            Err(RouteError::MethodNotAllowed { .. })
        ));
        assert!(
            matches!(
                parse(&Method::GET, "/v2/team/app/blobs/sha256:abc", None),
                Err(RouteError::Digest(_))
            ),
            "an invalid digest is a client error, never a 500"
        );
        assert!(matches!(
            parse(&Method::GET, "/v2/Team/app/manifests/latest", None),
            Err(RouteError::Name(_))
        ));
        assert!(matches!(
            parse(&Method::GET, "/v2/team/manifests/latest", None),
            Err(RouteError::Name(NameError::MissingImage(_)))
        ));
        // A reference that is no tag nor digest names no manifest when read or deleted, and is
        // an invalid one when pushed.
        for method in [Method::GET, Method::HEAD, Method::DELETE] {
            assert!(matches!(
                parse(
                    &method,
                    "/v2/team/app/manifests/.INVALID_MANIFEST_NAME",
                    None
                ),
                Err(RouteError::ManifestUnknown { .. })
            ));
        }
        assert!(matches!(
            parse(&Method::PUT, "/v2/team/app/manifests/-bad", None),
            Err(RouteError::Reference(_))
        ));
        let id = UploadId::from_random([3; 16]);
        assert_eq!(
            parse(
                &Method::PUT,
                &format!("/v2/team/app/blobs/uploads/{id}"),
                None
            ),
            Err(RouteError::DigestRequired),
            "completing an upload names its digest"
        );
        assert!(matches!(
            parse(&Method::PATCH, "/v2/team/app/blobs/uploads/xyz", None),
            Err(RouteError::UploadId(_))
        ));
        assert!(matches!(
            parse(&Method::GET, "/v2/team/app/tags/list", Some("n=many")),
            Err(RouteError::Query { name: "n", .. })
        ));
        assert!(matches!(
            parse(&Method::GET, "/v2/team/app/tags/list", Some("n=%zz")),
            Err(RouteError::Query { .. })
        ));
    }
}
