//! The oci-spec view of manifests real clients push, and one test per place where berth keeps its
//! own type instead of oci-spec's (each is a case in ARCHITECTURE.md, berth-model).

use oci_spec::image::{
    Arch, Descriptor as OciDescriptor, Digest as OciDigest, ImageIndex, ImageManifest, MediaType,
    Os, ToDockerV2S2,
};

use super::*;

fn fixture(name: &str) -> Bytes {
    let path = format!("{}/fixtures/manifests/{name}", env!("CARGO_MANIFEST_DIR"));
    Bytes::from(std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}")))
}

fn parse(name: &str) -> Manifest {
    Manifest::parse(fixture(name), None).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn digest_of(s: &str) -> String {
    Digest::sha256(s.as_bytes()).to_string()
}

fn image_manifest() -> serde_json::Value {
    serde_json::json!({
        "schemaVersion": 2,
        "mediaType": media_type::OCI_IMAGE_MANIFEST,
        "config": {"mediaType": media_type::OCI_IMAGE_CONFIG, "digest": digest_of("c"), "size": 10},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": digest_of("l"), "size": 20}]
    })
}

#[test]
fn media_types_are_oci_specs() {
    let oci = [
        (media_type::OCI_IMAGE_MANIFEST, MediaType::ImageManifest),
        (media_type::OCI_IMAGE_INDEX, MediaType::ImageIndex),
        (media_type::OCI_IMAGE_CONFIG, MediaType::ImageConfig),
        (media_type::OCI_EMPTY, MediaType::EmptyJSON),
    ];
    for (text, value) in oci {
        assert_eq!(MediaType::from(text), value);
        assert_eq!(value.as_ref(), text);
    }
    // Docker's types are oci-spec's Docker equivalents, held as `Other`.
    let docker = [
        (MediaType::ImageManifest, media_type::DOCKER_MANIFEST),
        (MediaType::ImageIndex, media_type::DOCKER_MANIFEST_LIST),
        (MediaType::ImageConfig, media_type::DOCKER_CONTAINER_CONFIG),
    ];
    for (oci, text) in docker {
        assert_eq!(oci.to_docker_v2s2(), Ok(text));
        assert_eq!(MediaType::from(text), MediaType::Other(text.to_owned()));
    }
    for kind in ManifestKind::ALL {
        assert_eq!(kind.oci_media_type().as_ref(), kind.media_type());
        assert_eq!(
            ManifestKind::from_oci_media_type(&kind.oci_media_type()),
            Some(kind)
        );
    }
    assert_eq!(
        ManifestKind::from_oci_media_type(&MediaType::ArtifactManifest),
        None,
        "the withdrawn OCI artifact manifest is not a kind berth accepts"
    );
}

#[test]
fn docker_schema2_is_an_image_manifest() {
    let manifest = parse("docker-schema2.json");
    let image = manifest.to_image_manifest().unwrap();
    assert_eq!(
        image.media_type().as_ref(),
        Some(&MediaType::Other(media_type::DOCKER_MANIFEST.into()))
    );
    assert_eq!(
        image.config().media_type().as_ref(),
        media_type::DOCKER_CONTAINER_CONFIG
    );
    assert_eq!(image.layers().len(), 3);
    assert_eq!(image.schema_version(), 2);
    assert!(manifest.to_image_index().is_none());
}

#[test]
fn foreign_layers_keep_their_urls() {
    let manifest = parse("docker-windows-foreign-layers.json");
    let foreign = &manifest.layers()[0];
    assert_eq!(
        foreign.media_type(),
        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
    );
    assert_eq!(foreign.urls().len(), 1);
    assert_eq!(foreign.size(), 1_718_332_879);
    let image = manifest.to_image_manifest().unwrap();
    assert_eq!(image.layers()[0].urls().as_deref(), Some(foreign.urls()));
    assert!(manifest.layers()[1].urls().is_empty());
}

#[test]
fn docker_manifest_list_is_an_image_index() {
    let manifest = parse("docker-manifest-list.json");
    let index = manifest.to_image_index().unwrap();
    assert_eq!(
        index.media_type().as_ref().map(AsRef::as_ref),
        Some(media_type::DOCKER_MANIFEST_LIST)
    );
    let windows = index.manifests()[1].platform().as_ref().unwrap();
    assert_eq!(windows.os(), &Os::Windows);
    assert_eq!(windows.architecture(), &Arch::Amd64);
    assert_eq!(windows.os_version().as_deref(), Some("10.0.17763.5329"));
    assert!(manifest.to_image_manifest().is_none());
}

#[test]
fn buildx_attestations_are_index_entries_for_unknown_platforms() {
    let manifest = parse("buildx-index-with-attestations.json");
    assert_eq!(manifest.manifests().len(), 4);
    let attestation = &manifest.manifests()[2];
    assert_eq!(
        attestation.annotation("vnd.docker.reference.type"),
        Some("attestation-manifest")
    );
    let platform = attestation.platform().unwrap();
    assert_eq!(
        (platform.os.as_str(), platform.architecture.as_str()),
        ("unknown", "unknown")
    );
    let index = manifest.to_image_index().unwrap();
    let oci = index.manifests()[2].platform().as_ref().unwrap();
    assert_eq!(oci.os(), &Os::Other("unknown".into()));
    assert_eq!(oci.architecture(), &Arch::Other("unknown".into()));
    assert_eq!(
        index.manifests()[1]
            .platform()
            .as_ref()
            .unwrap()
            .variant()
            .as_deref(),
        Some("v8")
    );
}

#[test]
fn artifacts_keep_artifact_type_subject_data_and_annotations() {
    let manifest = parse("signature-artifact-with-subject.json");
    let image = manifest.to_image_manifest().unwrap();
    assert_eq!(
        image.artifact_type(),
        &Some(MediaType::Other(
            "application/vnd.cncf.notary.signature".into()
        ))
    );
    assert_eq!(image.config().media_type(), &MediaType::EmptyJSON);
    assert_eq!(image.config().data().as_deref(), Some("e30="));
    let subject = image.subject().as_ref().unwrap();
    assert_eq!(
        subject.digest().as_ref(),
        manifest.subject().unwrap().digest().as_str()
    );
    assert_eq!(
        image
            .annotations()
            .as_ref()
            .unwrap()
            .get("org.opencontainers.image.created")
            .map(String::as_str),
        Some("2026-11-02T08:30:00Z")
    );
    // A descriptor's own artifactType (as an index of artifacts lists it) is kept too.
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": media_type::OCI_IMAGE_INDEX,
        "manifests": [{"mediaType": media_type::OCI_IMAGE_MANIFEST, "digest": digest_of("sbom"), "size": 5, "artifactType": "application/spdx+json"}],
        "subject": {"mediaType": media_type::OCI_IMAGE_MANIFEST, "digest": digest_of("image"), "size": 7}
    });
    let index = Manifest::parse(Bytes::from(index.to_string()), None).unwrap();
    assert_eq!(
        index.manifests()[0].artifact_type(),
        Some("application/spdx+json")
    );
    let oci = index.to_image_index().unwrap();
    assert_eq!(
        oci.manifests()[0].artifact_type(),
        &Some(MediaType::Other("application/spdx+json".into()))
    );
    assert!(oci.subject().is_some());
}

/// oci-spec refuses none of the documents real clients push that berth has fixtures for, and its
/// reading agrees with berth's on what they reference.
#[test]
fn oci_spec_reads_every_fixture() {
    let dir = format!("{}/fixtures/manifests", env!("CARGO_MANIFEST_DIR"));
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let bytes = Bytes::from(std::fs::read(&path).unwrap());
        let manifest = Manifest::parse(bytes.clone(), None).unwrap();
        let name = path.display();
        if manifest.kind().is_index() {
            let read: ImageIndex =
                serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
            let built = manifest.to_image_index().unwrap();
            assert_eq!(read.manifests().len(), built.manifests().len(), "{name}");
            for (read, built) in read.manifests().iter().zip(built.manifests()) {
                assert_eq!(read.digest(), built.digest(), "{name}");
                assert_eq!(read.media_type(), built.media_type(), "{name}");
            }
        } else {
            let read: ImageManifest =
                serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
            let built = manifest.to_image_manifest().unwrap();
            assert_eq!(read.config(), built.config(), "{name}");
            assert_eq!(read.layers(), built.layers(), "{name}");
            assert_eq!(read.subject(), built.subject(), "{name}");
            assert_eq!(read.artifact_type(), built.artifact_type(), "{name}");
        }
        seen += 1;
    }
    assert!(seen >= 8, "{seen} fixtures");
}

// Where oci-spec is not used, and why (ARCHITECTURE.md, berth-model). Each test shows the input.

/// oci-spec's deserialisation is not strict where berth must be: it reads a `schemaVersion` of 1,
/// ignores the fields of the other kind (the type confusion the spec warns about) and answers a
/// missing field with serde's text, not a rule. So documents are read by berth's own `Raw*`
/// structs and the oci-spec values are built from what passed.
#[test]
fn oci_spec_parsing_is_not_strict() {
    let mut confused = image_manifest();
    confused["schemaVersion"] = 1.into();
    confused["manifests"] = serde_json::json!([]);
    assert!(serde_json::from_value::<ImageManifest>(confused.clone()).is_ok());
    assert_eq!(
        Manifest::parse(Bytes::from(confused.to_string()), None),
        Err(ManifestError::SchemaVersion(Some(1)))
    );
    confused["schemaVersion"] = 2.into();
    assert_eq!(
        Manifest::parse(Bytes::from(confused.to_string()), None),
        Err(ManifestError::UnexpectedField {
            kind: ManifestKind::OciManifest,
            field: "manifests"
        })
    );
    let index_with_layers = serde_json::json!({"schemaVersion": 2, "mediaType": media_type::OCI_IMAGE_INDEX, "manifests": [], "layers": []});
    assert!(serde_json::from_value::<ImageIndex>(index_with_layers).is_ok());

    let mut missing = image_manifest();
    missing["layers"][0]
        .as_object_mut()
        .unwrap()
        .remove("digest");
    let oci = serde_json::from_value::<ImageManifest>(missing.clone()).unwrap_err();
    assert!(oci.to_string().contains("missing field `digest`"), "{oci}");
    assert_eq!(
        Manifest::parse(Bytes::from(missing.to_string()), None),
        Err(ManifestError::InvalidDescriptor {
            at: "layers[0]".into(),
            rule: DescriptorError::MissingDigest
        })
    );
}

/// oci-spec's `Digest` takes any registered-looking algorithm (`sha384`, `foo+bar`), and its
/// error is text; berth stores blobs only under sha256 and sha512 and names the rule. So a
/// descriptor keeps berth's `Digest`, and its oci-spec digest is made from the same text.
#[test]
fn oci_spec_digest_accepts_what_berth_cannot_store() {
    let sha384 = format!("sha384:{}", "a".repeat(96));
    assert!(OciDigest::try_from(sha384.as_str()).is_ok());
    assert!(OciDigest::try_from("foo+bar:xyz").is_ok());
    let mut value = image_manifest();
    value["config"]["digest"] = sha384.into();
    assert!(serde_json::from_value::<ImageManifest>(value.clone()).is_ok());
    assert_eq!(
        Manifest::parse(Bytes::from(value.to_string()), None),
        Err(ManifestError::InvalidDescriptor {
            at: "config".into(),
            rule: DescriptorError::InvalidDigest(crate::DigestError::UnsupportedAlgorithm(
                "sha384".into()
            )),
        })
    );
}

/// oci-spec's `MediaType` takes any text (`tar` becomes `Other("tar")`); berth checks RFC 6838
/// with its own `media_type::is_valid`.
#[test]
fn oci_spec_media_type_takes_any_text() {
    assert_eq!(MediaType::from("tar"), MediaType::Other("tar".into()));
    let mut value = image_manifest();
    value["layers"][0]["mediaType"] = "tar".into();
    assert!(serde_json::from_value::<ImageManifest>(value.clone()).is_ok());
    assert_eq!(
        Manifest::parse(Bytes::from(value.to_string()), None),
        Err(ManifestError::InvalidDescriptor {
            at: "layers[0]".into(),
            rule: DescriptorError::InvalidMediaType("tar".into())
        })
    );
}

/// oci-spec keeps `data` as unchecked text; berth checks it is base64 of `size` bytes hashing to
/// `digest`.
#[test]
fn oci_spec_does_not_check_embedded_data() {
    let descriptor = serde_json::json!({"mediaType": media_type::OCI_EMPTY, "digest": digest_of("{}"), "size": 2, "data": "!!!"});
    assert!(serde_json::from_value::<OciDescriptor>(descriptor.clone()).is_ok());
    let mut value = image_manifest();
    value["artifactType"] = "application/vnd.example".into();
    value["config"] = descriptor;
    assert_eq!(
        Manifest::parse(Bytes::from(value.to_string()), None),
        Err(ManifestError::InvalidDescriptor {
            at: "config".into(),
            rule: DescriptorError::InvalidData
        })
    );
}

/// oci-spec's `Platform` names its JSON keys `os_version` and `os_features`, not the spec's
/// `os.version` and `os.features`: a Windows manifest list read through it loses its OS version
/// without an error, and one written through it has keys no client reads. Its `Arch` reads
/// `armbe` as `arm64be`. So the platform is berth's own; `Platform::to_oci` keeps the exact text.
#[test]
fn oci_spec_platform_loses_the_windows_os_version() {
    let bytes = fixture("docker-manifest-list.json");
    let through_oci: ImageIndex = serde_json::from_slice(&bytes).unwrap();
    let windows = through_oci.manifests()[1].platform().as_ref().unwrap();
    assert_eq!(windows.os(), &Os::Windows);
    assert_eq!(windows.os_version(), &None, "os.version is dropped");

    let manifest = Manifest::parse(bytes, None).unwrap();
    let platform = manifest.manifests()[1].platform().unwrap();
    assert_eq!(platform.os_version.as_deref(), Some("10.0.17763.5329"));
    let written = serde_json::to_value(platform.to_oci()).unwrap();
    assert_eq!(written["os_version"], "10.0.17763.5329");
    assert!(written.get("os.version").is_none());
    assert_eq!(
        serde_json::to_value(platform).unwrap()["os.version"],
        "10.0.17763.5329"
    );

    assert_eq!(Arch::from("armbe").to_string(), "arm64be");
    let armbe = Platform {
        architecture: "armbe".into(),
        os: "linux".into(),
        variant: None,
        os_version: None,
        os_features: Vec::new(),
    };
    assert_eq!(armbe.to_oci().architecture().to_string(), "armbe");
}

/// Serialising oci-spec's value does not give the bytes received, so their digest changes: the
/// manifest is served from `bytes()`, never from its oci-spec view.
#[test]
fn oci_spec_values_are_not_the_bytes() {
    for name in ["docker-schema2.json", "oci-image-manifest.json"] {
        let manifest = parse(name);
        let written = serde_json::to_vec(&manifest.to_image_manifest().unwrap()).unwrap();
        assert_ne!(&written[..], &manifest.bytes()[..], "{name}");
        assert_ne!(Digest::sha256(&written), *manifest.digest(), "{name}");
    }
}
