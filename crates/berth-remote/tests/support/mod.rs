//! What the tests that serve a berth upstream share: an image pushed through the engine.

use berth_core::{Registry, RequestBody};
use berth_model::{Digest, Name, Reference};
use berth_policy::Principal;
use bytes::Bytes;

/// An image pushed upstream: a config, one layer of pseudo-random bytes, a manifest tagged `v1`.
pub(crate) struct Image {
    pub(crate) manifest: Bytes,
    pub(crate) digest: Digest,
    pub(crate) layer: Bytes,
    pub(crate) layer_digest: Digest,
}

/// Pushes an image with a layer of `layer_size` pseudo-random bytes (the same bytes each time).
pub(crate) async fn push_image(registry: &Registry, image: &str, layer_size: usize) -> Image {
    let who = Principal::SystemAdmin;
    let name = Name::parse(image).unwrap();
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let layer: Bytes = (0..layer_size)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect::<Vec<u8>>()
        .into();
    let config = Bytes::from_static(br#"{"architecture":"amd64","os":"linux"}"#);
    let (config_digest, layer_digest) = (Digest::sha256(&config), Digest::sha256(&layer));
    for (digest, bytes) in [(&config_digest, &config), (&layer_digest, &layer)] {
        registry
            .put_blob(&who, &name, digest, RequestBody::from_bytes(bytes.clone()))
            .await
            .unwrap();
    }
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer_digest, "size": layer.len()}],
    });
    let manifest = Bytes::from(serde_json::to_vec_pretty(&manifest).unwrap());
    registry
        .put_manifest(
            &who,
            &name,
            &Reference::parse("v1").unwrap(),
            RequestBody::from_bytes(manifest.clone()),
            Some("application/vnd.oci.image.manifest.v1+json"),
        )
        .await
        .unwrap();
    Image {
        digest: Digest::sha256(&manifest),
        manifest,
        layer,
        layer_digest,
    }
}
