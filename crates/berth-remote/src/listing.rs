//! The listings of [`Client`]: an image's tags, the registry's catalog, a manifest's referrers;
//! each read page by page through `Link: <…>; rel="next"`, within bounds.

use berth_model::manifest::media_type;
use berth_model::{Digest, Reference, Tag};
use reqwest::{Method, StatusCode, header};
use serde::Deserialize;
use url::Url;

use crate::auth::Op;
use crate::client::{PULL, read_limited, scope};
use crate::{Client, Error, Referrer, RemoteName};

/// Entries asked for per page (`n`); the registry may send fewer, or cap it.
const PAGE: usize = 1000;
/// Entries read at most over all the pages of one listing.
const MAX_ENTRIES: usize = 100_000;
/// The largest page body.
const MAX_PAGE_BODY: u64 = 4 << 20;

/// One page: its entries, `None` each where an entry is to be skipped (they still count).
type Entries<T> = Vec<Option<T>>;

impl Client {
    /// `GET /v2/<name>/tags/list?n=1000`, and the pages its `Link` headers name after it: the
    /// image's tags in the registry's order; empty when it has no such image (404). Entries
    /// that are no valid tag are skipped. More than 100,000 entries, or a page over 4 MiB, is
    /// [`Error::TooLarge`].
    pub async fn list_tags(&self, repository: &RemoteName) -> Result<Vec<Tag>, Error> {
        #[derive(Deserialize)]
        struct Page {
            // distribution sends `null` for an image without tags.
            tags: Option<Vec<String>>,
        }
        let mut url = self.inner.url(&format!("v2/{repository}/tags/list"));
        url.query_pairs_mut().append_pair("n", &PAGE.to_string());
        let found = self
            .pages(&url, scope(repository, PULL), None, "tags", |url, body| {
                let page: Page = json(url, body, "a tag list")?;
                let tags = page.tags.unwrap_or_default().into_iter();
                Ok(tags.map(|t| Tag::parse(&t).ok()).collect())
            })
            .await?;
        Ok(found.unwrap_or_default())
    }

    /// `GET /v2/_catalog?n=1000`, and the pages after it, with a token for `registry:catalog:*`:
    /// the repositories the credentials may see. The credentials go with the first request
    /// (a token fetched ahead, after a `GET /v2/` when the registry's scheme is not known yet):
    /// an anonymous catalog answers, but lists nothing. Names that are no valid repository name are
    /// skipped. A registry without the catalog answers 404 ([`Error::Status`]) or 401; more than
    /// 100,000 entries, or a page over 4 MiB, is [`Error::TooLarge`].
    pub async fn catalog(&self) -> Result<Vec<RemoteName>, Error> {
        #[derive(Deserialize)]
        struct Page {
            repositories: Option<Vec<String>>,
        }
        let mut url = self.inner.url("v2/_catalog");
        url.query_pairs_mut().append_pair("n", &PAGE.to_string());
        let scope = Some("registry:catalog:*".to_owned());
        // Anonymous, a registry lists nothing rather than asking for credentials.
        let first = Op::new(Method::GET, &url, scope.clone());
        self.inner.authenticate_ahead(&first).await?;
        let found = self
            .pages(&url, scope, None, "repositories", |url, body| {
                let page: Page = json(url, body, "a catalog")?;
                let names = page.repositories.unwrap_or_default().into_iter();
                Ok(names.map(|n| RemoteName::parse(&n).ok()).collect())
            })
            .await?;
        found.ok_or_else(|| Error::Status {
            url: shown(&url),
            status: StatusCode::NOT_FOUND.as_u16(),
            message: "the registry has no catalog".to_owned(),
        })
    }

    /// The manifests whose `subject` is `digest` in `repository`: `GET
    /// /v2/<name>/referrers/<digest>` (and its pages), the `manifests` of the OCI image index it
    /// answers. A registry without the referrers API (404, as distribution 2.8) is read through
    /// the referrers tag schema instead: the index tagged `<alg>-<hex>` (`sha256-…`) by the
    /// clients that pushed the referrers; no such tag (or something else than an index there)
    /// is no referrer. An entry without a valid digest is [`Error::Invalid`].
    pub async fn referrers(
        &self,
        repository: &RemoteName,
        digest: &Digest,
    ) -> Result<Vec<Referrer>, Error> {
        let url = self
            .inner
            .url(&format!("v2/{repository}/referrers/{digest}"));
        let accept = Some(media_type::OCI_IMAGE_INDEX);
        let parse = |url: &str, body: &[u8]| -> Result<Entries<Referrer>, Error> {
            Ok(index_entries(url, body)?.into_iter().map(Some).collect())
        };
        let answer = self
            .pages(&url, scope(repository, PULL), accept, "referrers", parse)
            .await?;
        if let Some(found) = answer {
            return Ok(found);
        }
        let tag = Reference::from(referrers_tag(url.as_str(), digest)?);
        match self.get_manifest(repository, &tag).await? {
            Some(index) if index.media_type == media_type::OCI_IMAGE_INDEX => {
                let url = self.inner.url(&format!("v2/{repository}/manifests/{tag}"));
                index_entries(url.as_str(), &index.bytes)
            }
            _ => Ok(Vec::new()),
        }
    }

    /// Reads a listing from `first` on, each page's entries by `parse`, following `Link` headers
    /// until a page has none (or no entries, or its URL answers 404): `None` when `first`
    /// answers 404.
    async fn pages<T>(
        &self,
        first: &Url,
        scope: Option<String>,
        accept: Option<&'static str>,
        unit: &'static str,
        parse: impl Fn(&str, &[u8]) -> Result<Entries<T>, Error>,
    ) -> Result<Option<Vec<T>>, Error> {
        let (mut found, mut entries) = (Vec::new(), 0usize);
        let mut next = Some(first.clone());
        let mut pages = 0usize;
        while let Some(url) = next.take() {
            let op = Op {
                accept,
                ..Op::new(Method::GET, &url, scope.clone())
            };
            pages += 1;
            let Some(response) = self.inner.fetch(&op).await? else {
                // The first page is the listing's answer; a later one gone ends it.
                return Ok((pages > 1).then_some(found));
            };
            let link = next_link(&op.shown, response.headers())?.map(str::to_owned);
            let body = read_limited(&op.shown, response, MAX_PAGE_BODY).await?;
            let page = parse(&op.shown, &body)?;
            entries += page.len();
            if entries > MAX_ENTRIES {
                return Err(Error::TooLarge {
                    url: shown(first),
                    limit: MAX_ENTRIES as u64,
                    unit,
                });
            }
            // An empty page ends the listing, whatever it links to: every page read is then
            // one entry nearer the bound.
            if page.is_empty() {
                break;
            }
            found.extend(page.into_iter().flatten());
            next = match link {
                Some(link) => Some(resolve(&url, &op.shown, &link)?),
                None => None,
            };
        }
        Ok(Some(found))
    }
}

/// `url` without its query, for messages.
fn shown(url: &Url) -> String {
    let mut shown = url.clone();
    shown.set_query(None);
    shown.into()
}

fn json<'a, T: Deserialize<'a>>(url: &str, body: &'a [u8], what: &str) -> Result<T, Error> {
    serde_json::from_slice(body).map_err(|e| Error::invalid(url, format!("not {what}: {e}")))
}

/// The `manifests` of an OCI image index.
fn index_entries(url: &str, body: &[u8]) -> Result<Vec<Referrer>, Error> {
    #[derive(Deserialize)]
    struct Index {
        #[serde(default)]
        manifests: Vec<Entry>,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Entry {
        media_type: String,
        digest: String,
        size: u64,
        artifact_type: Option<String>,
    }
    let index: Index = json(url, body, "an image index")?;
    index
        .manifests
        .into_iter()
        .map(|e| {
            let digest = Digest::parse(&e.digest).map_err(|err| {
                Error::invalid(url, format!("referrer digest {:?}: {err}", e.digest))
            })?;
            Ok(Referrer {
                digest,
                media_type: e.media_type,
                artifact_type: e.artifact_type,
                size: e.size,
            })
        })
        .collect()
}

/// The referrers tag schema's tag for `digest`: `<alg>-<hex>`, the algorithm cut to 32
/// characters and the hex to 64, as the distribution spec says.
fn referrers_tag(url: &str, digest: &Digest) -> Result<Tag, Error> {
    let (algorithm, hex) = (digest.algorithm().as_str(), digest.hex());
    let tag = format!(
        "{}-{}",
        &algorithm[..algorithm.len().min(32)],
        &hex[..hex.len().min(64)]
    );
    // Lowercase letters, digits and one dash, at most 97 characters: a tag, always.
    Tag::parse(&tag).map_err(|e| Error::invalid(url, format!("referrers tag {tag:?}: {e}")))
}

/// The target of the `rel="next"` link among `Link` headers, if any.
fn next_link<'h>(url: &str, headers: &'h header::HeaderMap) -> Result<Option<&'h str>, Error> {
    for value in headers.get_all(header::LINK) {
        let value = value
            .to_str()
            .map_err(|_| Error::invalid(url, "Link is not visible ASCII"))?;
        if let Some(target) = next_in(value) {
            return Ok(Some(target));
        }
    }
    Ok(None)
}

/// RFC 8288: `<target>; rel="next"`, maybe among other links separated by commas, and `rel`
/// maybe a space-separated list, quoted or not.
fn next_in(value: &str) -> Option<&str> {
    let mut rest = value;
    while let Some(open) = rest.find('<') {
        let after = &rest[open + 1..];
        let close = after.find('>')?;
        let target = &after[..close];
        let params = &after[close + 1..];
        let end = params.find('<').unwrap_or(params.len());
        let is_next = params[..end].split(';').any(|param| {
            let Some((key, value)) = param.split_once('=') else {
                return false;
            };
            key.trim().eq_ignore_ascii_case("rel")
                && value
                    .trim()
                    .trim_end_matches(',')
                    .trim()
                    .trim_matches('"')
                    .split_ascii_whitespace()
                    .any(|rel| rel.eq_ignore_ascii_case("next"))
        });
        if is_next {
            return Some(target.trim());
        }
        rest = &params[end..];
    }
    None
}

/// A `Link` target resolved against the page that named it.
fn resolve(page: &Url, shown: &str, link: &str) -> Result<Url, Error> {
    let url = page
        .join(link)
        .map_err(|e| Error::invalid(shown, format!("the Link {link:?} is not a URL: {e}")))?;
    match url.scheme() {
        "http" | "https" => Ok(url),
        _ => Err(Error::invalid(
            shown,
            format!("the Link {link:?} is not http(s)"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_links() {
        let cases: &[(&str, Option<&str>)] = &[
            (
                r#"</v2/a/tags/list?n=1000&last=v9>; rel="next""#,
                Some("/v2/a/tags/list?n=1000&last=v9"),
            ),
            (
                "<https://h/v2/_catalog?last=b&n=2>; rel=next",
                Some("https://h/v2/_catalog?last=b&n=2"),
            ),
            (r#"</p>; rel="prev", </n>; rel="next""#, Some("/n")),
            (r#"</n>; title="a"; REL="prev next""#, Some("/n")),
            (r#"</p>; rel="prev""#, None),
            (r#"</x>; rel="nextpage""#, None),
            ("garbage", None),
            ("<unclosed; rel=next", None),
        ];
        for (value, expected) in cases {
            assert_eq!(next_in(value), *expected, "{value}");
        }
    }

    #[test]
    fn links_resolve_against_the_page() {
        let page = Url::parse("https://h/mirror/v2/a/tags/list?n=1000").unwrap();
        for (link, expected) in [
            (
                "/v2/a/tags/list?n=1000&last=b",
                "https://h/v2/a/tags/list?n=1000&last=b",
            ),
            ("list?last=b", "https://h/mirror/v2/a/tags/list?last=b"),
            ("https://other/x", "https://other/x"),
        ] {
            assert_eq!(resolve(&page, "", link).unwrap().as_str(), expected);
        }
        assert!(resolve(&page, "", "file:///etc/passwd").is_err());
    }

    #[test]
    fn referrers_tags() {
        let digest = Digest::sha256(b"subject");
        assert_eq!(
            referrers_tag("", &digest).unwrap().as_str(),
            format!("sha256-{}", digest.hex())
        );
        let digest = Digest::compute(berth_model::Algorithm::Sha512, b"subject");
        assert_eq!(
            referrers_tag("", &digest).unwrap().as_str(),
            format!("sha512-{}", &digest.hex()[..64])
        );
    }

    #[test]
    fn index_entries_are_referrers() {
        let digest = Digest::sha256(b"sbom");
        let body = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [
                {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest, "size": 7, "artifactType": "application/spdx+json", "annotations": {"a": "b"}},
                {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest, "size": 8},
            ],
        });
        let found = index_entries("u", body.to_string().as_bytes()).unwrap();
        assert_eq!(
            found,
            vec![
                Referrer {
                    digest: digest.clone(),
                    media_type: "application/vnd.oci.image.manifest.v1+json".into(),
                    artifact_type: Some("application/spdx+json".into()),
                    size: 7,
                },
                Referrer {
                    digest: digest.clone(),
                    media_type: "application/vnd.oci.image.manifest.v1+json".into(),
                    artifact_type: None,
                    size: 8,
                },
            ]
        );
        let bad = r#"{"manifests":[{"mediaType":"m","digest":"sha256:short","size":1}]}"#;
        assert!(matches!(
            index_entries("u", bad.as_bytes()),
            Err(Error::Invalid { .. })
        ));
        assert!(index_entries("u", b"{}").unwrap().is_empty());
    }
}
