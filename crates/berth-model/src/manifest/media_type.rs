//! Media types berth knows by name, and the RFC 6838 check for the ones it does not.

/// OCI image manifest.
pub const OCI_IMAGE_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index (multi-platform images, and indexes of artifacts).
pub const OCI_IMAGE_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// OCI image configuration.
pub const OCI_IMAGE_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// The OCI empty descriptor's media type: the config of artifacts that have none (`{}`).
pub const OCI_EMPTY: &str = "application/vnd.oci.empty.v1+json";
/// Docker image manifest, schema 2.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker manifest list (multi-platform images).
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// Docker container configuration.
pub const DOCKER_CONTAINER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
/// Docker image manifest, schema 1 (refused: deprecated and unsafe).
pub const DOCKER_MANIFEST_V1: &str = "application/vnd.docker.distribution.manifest.v1+json";
/// Signed Docker image manifest, schema 1 (refused).
pub const DOCKER_MANIFEST_V1_SIGNED: &str =
    "application/vnd.docker.distribution.manifest.v1+prettyjws";

/// Whether `s` is a media type name as RFC 6838 section 4.2 defines it: `type/subtype`, each a
/// restricted name `[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}`, without parameters.
pub fn is_valid(s: &str) -> bool {
    fn restricted_name(s: &str) -> bool {
        let mut bytes = s.bytes();
        matches!(bytes.next(), Some(b) if b.is_ascii_alphanumeric())
            && s.len() <= 127
            && bytes.all(|b| b.is_ascii_alphanumeric() || b"!#$&^_.+-".contains(&b))
    }
    match s.split_once('/') {
        Some((kind, subtype)) => restricted_name(kind) && restricted_name(subtype),
        None => false,
    }
}

/// The media type of a `Content-Type` header value, without parameters and surrounding blanks,
/// in lowercase; `None` when the header says nothing specific (`application/json`,
/// `application/octet-stream`, or empty), which leaves the choice to the document.
pub fn from_content_type(header: &str) -> Option<String> {
    let essence = header
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "" | "application/json" | "application/octet-stream" | "*/*" => None,
        _ => Some(essence),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_6838_names() {
        for ok in [
            OCI_IMAGE_MANIFEST,
            OCI_EMPTY,
            "application/vnd.cncf.helm.chart.content.v1.tar+gzip",
            "text/plain",
        ] {
            assert!(is_valid(ok), "{ok}");
        }
        for bad in [
            "",
            "application",
            "application/",
            "/json",
            "a/b/c",
            "application/json; charset=utf-8",
            "-a/b",
        ] {
            assert!(!is_valid(bad), "{bad:?}");
        }
    }

    #[test]
    fn content_type_essence() {
        assert_eq!(
            from_content_type(" Application/Vnd.OCI.Image.Manifest.v1+json ; x=y"),
            Some(OCI_IMAGE_MANIFEST.into())
        );
        assert_eq!(from_content_type("application/json"), None);
        assert_eq!(from_content_type(""), None);
    }
}
