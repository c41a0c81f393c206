use super::*;

const EMPTY_JSON_DIGEST: &str =
    "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";

fn fixture(name: &str) -> Bytes {
    let path = format!("{}/fixtures/manifests/{name}", env!("CARGO_MANIFEST_DIR"));
    Bytes::from(std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}")))
}

fn digest_of(s: &str) -> String {
    Digest::sha256(s.as_bytes()).to_string()
}

fn parse_json(value: serde_json::Value) -> Result<Manifest, ManifestError> {
    Manifest::parse(Bytes::from(value.to_string()), None)
}

struct Expect {
    file: &'static str,
    kind: ManifestKind,
    artifact_type: Option<&'static str>,
    blobs: usize,
    children: usize,
    subject: bool,
    referenced: u64,
}

#[test]
fn fixtures_parse_to_what_they_describe() {
    let cases = [
        Expect {
            file: "oci-image-manifest.json",
            kind: ManifestKind::OciManifest,
            artifact_type: Some(media_type::OCI_IMAGE_CONFIG),
            blobs: 4,
            children: 0,
            subject: false,
            referenced: 1472 + 3401613 + 28145771 + 512,
        },
        Expect {
            file: "oci-index-multiarch.json",
            kind: ManifestKind::OciIndex,
            artifact_type: None,
            blobs: 0,
            children: 3,
            subject: false,
            referenced: 1024 + 1025 + 839,
        },
        Expect {
            file: "docker-schema2.json",
            kind: ManifestKind::DockerManifest,
            artifact_type: Some(media_type::DOCKER_CONTAINER_CONFIG),
            blobs: 4,
            children: 0,
            subject: false,
            referenced: 7023 + 32654 + 16724 + 73109,
        },
        Expect {
            file: "docker-manifest-list.json",
            kind: ManifestKind::DockerManifestList,
            artifact_type: None,
            blobs: 0,
            children: 2,
            subject: false,
            referenced: 7143 + 7682,
        },
        Expect {
            file: "signature-artifact-with-subject.json",
            kind: ManifestKind::OciManifest,
            artifact_type: Some("application/vnd.cncf.notary.signature"),
            blobs: 2,
            children: 0,
            subject: true,
            referenced: 2 + 2116,
        },
        Expect {
            file: "helm-chart-artifact.json",
            kind: ManifestKind::OciManifest,
            artifact_type: Some("application/vnd.cncf.helm.config.v1+json"),
            blobs: 3,
            children: 0,
            subject: false,
            referenced: 117 + 3788 + 1023,
        },
    ];
    for case in cases {
        let bytes = fixture(case.file);
        let manifest =
            Manifest::parse(bytes.clone(), None).unwrap_or_else(|e| panic!("{}: {e}", case.file));
        assert_eq!(manifest.kind(), case.kind, "{}", case.file);
        assert_eq!(
            manifest.artifact_type(),
            case.artifact_type,
            "{}",
            case.file
        );
        assert_eq!(manifest.blobs().count(), case.blobs, "{}", case.file);
        assert_eq!(manifest.manifests().len(), case.children, "{}", case.file);
        assert_eq!(manifest.subject().is_some(), case.subject, "{}", case.file);
        assert_eq!(
            manifest.total_size(),
            bytes.len() as u64 + case.referenced,
            "{}",
            case.file
        );
        assert_eq!(manifest.bytes(), &bytes, "bytes are kept exactly");
        assert_eq!(manifest.digest(), &Digest::sha256(&bytes));
        // The matching Content-Type is accepted too.
        assert!(
            Manifest::parse(bytes, Some(case.kind.media_type())).is_ok(),
            "{}",
            case.file
        );
    }
}

#[test]
fn index_children_keep_their_platforms() {
    let index = Manifest::parse(fixture("oci-index-multiarch.json"), None).unwrap();
    let platforms: Vec<_> = index
        .manifests()
        .iter()
        .map(|m| m.platform().map(|p| format!("{}/{}", p.os, p.architecture)))
        .collect();
    assert_eq!(platforms[0].as_deref(), Some("linux/amd64"));
    assert_eq!(
        index.manifests()[1].platform().unwrap().variant.as_deref(),
        Some("v8")
    );
    let list = Manifest::parse(fixture("docker-manifest-list.json"), None).unwrap();
    assert_eq!(
        list.manifests()[1]
            .platform()
            .unwrap()
            .os_version
            .as_deref(),
        Some("10.0.17763.5329")
    );
}

#[test]
fn whitespace_and_key_order_change_the_digest_not_the_meaning() {
    let compact = fixture("helm-chart-artifact.json");
    let value: serde_json::Value = serde_json::from_slice(&compact).unwrap();
    let pretty = Bytes::from(serde_json::to_vec_pretty(&value).unwrap());
    let a = Manifest::parse(compact, None).unwrap();
    let b = Manifest::parse(pretty, None).unwrap();
    assert_ne!(a.digest(), b.digest());
    assert_eq!(a.layers(), b.layers());
}

fn oci_manifest() -> serde_json::Value {
    serde_json::json!({
        "schemaVersion": 2,
        "mediaType": media_type::OCI_IMAGE_MANIFEST,
        "config": {"mediaType": media_type::OCI_IMAGE_CONFIG, "digest": digest_of("c"), "size": 10},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": digest_of("l"), "size": 20}]
    })
}

fn with(mut value: serde_json::Value, pointer: &str, new: serde_json::Value) -> serde_json::Value {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    let target = value.pointer_mut(parent).unwrap();
    match new {
        serde_json::Value::Null => {
            target.as_object_mut().unwrap().remove(key);
        }
        new => {
            target[key] = new;
        }
    }
    value
}

#[test]
fn invalid_manifests_name_the_rule() {
    use serde_json::json;
    let base = oci_manifest;
    let descriptor = |at: &str, rule| ManifestError::InvalidDescriptor {
        at: at.into(),
        rule,
    };
    let oci = ManifestKind::OciManifest;
    let cases: Vec<(serde_json::Value, ManifestError)> = vec![
        (
            with(base(), "/schemaVersion", json!(1)),
            ManifestError::SchemaVersion(Some(1)),
        ),
        (
            with(base(), "/schemaVersion", json!(null)),
            ManifestError::SchemaVersion(None),
        ),
        (
            with(
                base(),
                "/mediaType",
                json!("application/vnd.docker.distribution.manifest.v1+prettyjws"),
            ),
            ManifestError::UnsupportedMediaType(media_type::DOCKER_MANIFEST_V1_SIGNED.into()),
        ),
        (
            with(base(), "/mediaType", json!("text/plain")),
            ManifestError::UnsupportedMediaType("text/plain".into()),
        ),
        (
            with(base(), "/config", json!(null)),
            ManifestError::MissingField {
                kind: oci,
                field: "config",
            },
        ),
        (
            with(base(), "/layers", json!(null)),
            ManifestError::MissingField {
                kind: oci,
                field: "layers",
            },
        ),
        (
            with(base(), "/manifests", json!([])),
            ManifestError::UnexpectedField {
                kind: oci,
                field: "manifests",
            },
        ),
        (
            with(base(), "/config/digest", json!("sha256:abc")),
            descriptor(
                "config",
                DescriptorError::InvalidDigest(crate::DigestError::InvalidLength {
                    algorithm: Algorithm::Sha256,
                    expected: 64,
                    found: 3,
                }),
            ),
        ),
        (
            with(base(), "/layers/0/digest", json!(null)),
            descriptor("layers[0]", DescriptorError::MissingDigest),
        ),
        (
            with(base(), "/layers/0/size", json!(-1)),
            descriptor("layers[0]", DescriptorError::NegativeSize(-1)),
        ),
        (
            with(base(), "/layers/0/size", json!(null)),
            descriptor("layers[0]", DescriptorError::MissingSize),
        ),
        (
            with(base(), "/layers/0/mediaType", json!("tar")),
            descriptor("layers[0]", DescriptorError::InvalidMediaType("tar".into())),
        ),
        (
            with(base(), "/layers/0/mediaType", json!(null)),
            descriptor("layers[0]", DescriptorError::MissingMediaType),
        ),
        (
            with(base(), "/config/data", json!("!!!")),
            descriptor("config", DescriptorError::InvalidData),
        ),
        (
            with(base(), "/config/data", json!("e30=")),
            descriptor(
                "config",
                DescriptorError::DataSizeMismatch {
                    declared: 10,
                    actual: 2,
                },
            ),
        ),
        (
            with(
                with(base(), "/config/data", json!("e30=")),
                "/config/size",
                json!(2),
            ),
            descriptor("config", DescriptorError::DataDigestMismatch),
        ),
        (
            with(base(), "/config/mediaType", json!(media_type::OCI_EMPTY)),
            ManifestError::MissingArtifactType,
        ),
        (
            with(base(), "/artifactType", json!("not a type")),
            ManifestError::InvalidArtifactType("not a type".into()),
        ),
        (
            with(
                base(),
                "/subject",
                json!({"mediaType": media_type::OCI_IMAGE_MANIFEST, "size": 3}),
            ),
            descriptor("subject", DescriptorError::MissingDigest),
        ),
        (
            json!({"schemaVersion": 2, "annotations": {}}),
            ManifestError::MissingMediaType,
        ),
        (
            json!({"schemaVersion": 2, "mediaType": media_type::OCI_IMAGE_INDEX, "manifests": [], "layers": []}),
            ManifestError::UnexpectedField {
                kind: ManifestKind::OciIndex,
                field: "layers",
            },
        ),
        (
            json!({"schemaVersion": 2, "mediaType": media_type::OCI_IMAGE_INDEX}),
            ManifestError::MissingField {
                kind: ManifestKind::OciIndex,
                field: "manifests",
            },
        ),
        (
            json!({"schemaVersion": 2, "mediaType": media_type::OCI_IMAGE_INDEX, "manifests": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest_of("x"), "size": 1}]}),
            ManifestError::ChildNotManifest {
                at: "manifests[0]".into(),
                media_type: "application/vnd.oci.image.layer.v1.tar".into(),
            },
        ),
        (
            with(base(), "/mediaType", json!(media_type::DOCKER_MANIFEST))
                .as_object()
                .map(|o| {
                    let mut o = o.clone();
                    o.insert("subject".into(), base()["config"].clone());
                    serde_json::Value::Object(o)
                })
                .unwrap(),
            ManifestError::UnexpectedField {
                kind: ManifestKind::DockerManifest,
                field: "subject",
            },
        ),
    ];
    for (value, expected) in cases {
        let text = value.to_string();
        assert_eq!(parse_json(value), Err(expected), "{text}");
    }
}

#[test]
fn docker_kinds_require_the_media_type_field() {
    let value = with(oci_manifest(), "/mediaType", serde_json::Value::Null);
    let err = Manifest::parse(
        Bytes::from(value.to_string()),
        Some(media_type::DOCKER_MANIFEST),
    )
    .unwrap_err();
    assert_eq!(
        err,
        ManifestError::MissingField {
            kind: ManifestKind::DockerManifest,
            field: "mediaType"
        }
    );
}

#[test]
fn content_type_must_agree_with_the_document() {
    let bytes = fixture("oci-image-manifest.json");
    let err = Manifest::parse(bytes.clone(), Some(media_type::DOCKER_MANIFEST)).unwrap_err();
    assert!(
        matches!(err, ManifestError::MediaTypeMismatch { .. }),
        "{err}"
    );
    // Generic and parameterised types do not conflict.
    assert!(Manifest::parse(bytes.clone(), Some("application/json")).is_ok());
    assert!(
        Manifest::parse(
            bytes,
            Some("application/vnd.oci.image.manifest.v1+json; charset=utf-8")
        )
        .is_ok()
    );
}

#[test]
fn not_json_is_invalid_json() {
    for bytes in [
        &b""[..],
        b"[]",
        b"{",
        b"\"x\"",
        b"{\"schemaVersion\": \"2\"}",
        b"{\"schemaVersion\":2,\"schemaVersion\":2}",
    ] {
        assert!(
            matches!(
                Manifest::parse(Bytes::copy_from_slice(bytes), None),
                Err(ManifestError::InvalidJson(_))
            ),
            "{:?}",
            String::from_utf8_lossy(bytes)
        );
    }
}

#[test]
fn empty_config_with_artifact_type_is_an_artifact() {
    let value = with(
        with(
            oci_manifest(),
            "/config/mediaType",
            serde_json::json!(media_type::OCI_EMPTY),
        ),
        "/artifactType",
        serde_json::json!("application/vnd.example.sbom"),
    );
    let value = with(
        value,
        "/config/digest",
        serde_json::json!(EMPTY_JSON_DIGEST),
    );
    let manifest = parse_json(value).unwrap();
    assert_eq!(
        manifest.artifact_type(),
        Some("application/vnd.example.sbom")
    );
}

#[test]
fn sha512_digest_on_request() {
    let manifest = Manifest::parse(fixture("docker-schema2.json"), None).unwrap();
    let d = manifest.digest_with(Algorithm::Sha512);
    assert_eq!(d, Digest::compute(Algorithm::Sha512, manifest.bytes()));
}
