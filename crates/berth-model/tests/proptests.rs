//! Property tests for every parser of berth-model: valid input round-trips, arbitrary input
//! never panics and is either accepted (satisfying the `check` invariants) or rejected with the
//! parser's typed error.

use berth_model::range::upload_progress;
use berth_model::{
    AccountId, Algorithm, ByteRange, Digest, DigestVerifier, Hasher, HasherState, Manifest,
    ManifestError, ManifestKind, Name, NameError, Reference, RepositoryName, RepositoryUserName,
    Tag, UploadRange,
};
use bytes::Bytes;
use proptest::prelude::*;
use serde_json::json;

const COMPONENT: &str = "[a-z0-9]{1,6}((\\.|_|__|-{1,3})[a-z0-9]{1,6}){0,2}";

fn component() -> impl Strategy<Value = String> {
    proptest::string::string_regex(COMPONENT).unwrap()
}

fn image_path() -> impl Strategy<Value = String> {
    proptest::collection::vec(component(), 1..5).prop_map(|parts| parts.join("/"))
}

fn tag() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}").unwrap()
}

fn digest() -> impl Strategy<Value = Digest> {
    (any::<bool>(), proptest::collection::vec(any::<u8>(), 0..64)).prop_map(|(sha512, data)| {
        Digest::compute(
            if sha512 {
                Algorithm::Sha512
            } else {
                Algorithm::Sha256
            },
            &data,
        )
    })
}

fn descriptor(media_type: &'static str) -> impl Strategy<Value = serde_json::Value> {
    (digest(), 0u64..(1 << 40))
        .prop_map(move |(d, size)| json!({"mediaType": media_type, "digest": d, "size": size}))
}

proptest! {
    #[test]
    fn valid_names_round_trip(repository in component(), image in image_path()) {
        let text = format!("{repository}/{image}");
        prop_assume!(text.len() <= Name::MAX_LEN);
        let name = Name::parse(&text).unwrap();
        prop_assert_eq!(name.repository().as_str(), repository.as_str());
        prop_assert_eq!(name.image().as_str(), image.as_str());
        prop_assert_eq!(name.to_string(), text);
        let parsed = RepositoryName::parse(&repository).unwrap();
        prop_assert_eq!(parsed.as_str(), repository.as_str());
    }

    #[test]
    fn arbitrary_names_are_accepted_or_typed_errors(s in "\\PC{0,40}|[a-z0-9./_-]{0,40}") {
        berth_model::check::name(s.as_bytes());
        match Name::parse(&s) {
            Ok(name) => prop_assert_eq!(name.to_string(), s),
            Err(NameError::Empty | NameError::TooLong { .. } | NameError::EmptyComponent | NameError::InvalidComponent(_) | NameError::MissingImage(_)) => {}
            Err(other) => prop_assert!(false, "unexpected {other:?}"),
        }
    }

    #[test]
    fn overlong_names_are_refused(repository in component(), parts in proptest::collection::vec(component(), 40..60)) {
        let text = format!("{repository}/{}", parts.join("/"));
        prop_assume!(text.len() > Name::MAX_LEN);
        let refused = matches!(Name::parse(&text), Err(NameError::TooLong { .. }));
        prop_assert!(refused);
    }

    #[test]
    fn repository_user_names_round_trip(account in 1i64..=i64::MAX, local in "[a-z0-9]([a-z0-9._-]{0,40}[a-z0-9])?") {
        let Ok(name) = RepositoryUserName::new(AccountId(account), &local) else {
            // Only the length can refuse a local part of this shape.
            let full = format!("{account}-{local}");
            prop_assert!(full.len() > RepositoryUserName::MAX_LEN);
            return Ok(());
        };
        let displayed = name.to_string();
        prop_assert_eq!(&displayed, &format!("{account}-{local}"));
        prop_assert_eq!(RepositoryUserName::parse(&displayed), Ok(name.clone()));
        prop_assert_eq!(name.account(), AccountId(account));
        prop_assert_eq!(name.local(), local.as_str());
        prop_assert_eq!(RepositoryUserName::for_account(AccountId(account), name.as_str()), Ok(name.clone()));
    }

    #[test]
    fn arbitrary_repository_user_names_never_panic(s in "\\PC{0,80}|[0-9]{0,6}-?[a-zA-Z0-9._ -]{0,70}", account in 1i64..20_000) {
        if let Ok(name) = RepositoryUserName::parse(&s) {
            prop_assert_eq!(name.as_str(), s.as_str());
            prop_assert!(name.as_str().len() <= RepositoryUserName::MAX_LEN);
        }
        if let Ok(name) = RepositoryUserName::for_account(AccountId(account), &s) {
            prop_assert_eq!(name.account(), AccountId(account));
            prop_assert_eq!(RepositoryUserName::parse(name.as_str()), Ok(name.clone()));
        }
    }

    #[test]
    fn valid_tags_round_trip(t in tag()) {
        let parsed = Tag::parse(&t).unwrap();
        prop_assert_eq!(parsed.as_str(), t.as_str());
        prop_assert_eq!(Reference::parse(&t).unwrap(), Reference::Tag(parsed));
    }

    #[test]
    fn valid_digests_round_trip(d in digest()) {
        prop_assert_eq!(Digest::parse(d.as_str()).unwrap(), d.clone());
        prop_assert_eq!(Reference::parse(d.as_str()).unwrap(), Reference::Digest(d));
    }

    #[test]
    fn arbitrary_references_never_panic(s in "\\PC{0,140}|(sha256|sha512|md5)?:[0-9a-fA-F]{0,130}") {
        berth_model::check::name(s.as_bytes());
        if let Ok(reference) = Reference::parse(&s) {
            prop_assert_eq!(reference.as_str(), s.as_str());
        }
    }

    #[test]
    fn byte_ranges_round_trip(first in any::<u64>(), len in any::<u64>(), kind in 0..3u8) {
        let range = match kind {
            0 => ByteRange::Bounded { first, last: first.saturating_add(len) },
            1 => ByteRange::From { first },
            _ => ByteRange::Suffix { len },
        };
        prop_assert_eq!(ByteRange::parse(&range.to_string()), Ok(range));
        berth_model::check::range(range.to_string().as_bytes());
    }

    #[test]
    fn resolved_ranges_stay_inside_the_blob(range in "bytes=[0-9]{0,4}-[0-9]{0,4}", total in 0u64..20_000) {
        if let Ok(parsed) = ByteRange::parse(&range)
            && let Ok(r) = parsed.resolve(total)
        {
            prop_assert!(r.start < r.end && r.end <= total);
        }
    }

    #[test]
    fn upload_ranges_round_trip(start in any::<u64>(), len in any::<u64>()) {
        let chunk = UploadRange { start, end: start.saturating_add(len) };
        prop_assert_eq!(UploadRange::parse(&chunk.to_string()), Ok(chunk));
        prop_assert_eq!(UploadRange::parse(&format!("bytes {chunk}/*")), Ok(chunk));
        prop_assert!(upload_progress(chunk.end).starts_with("0-"));
    }

    #[test]
    fn arbitrary_range_headers_never_panic(s in "\\PC{0,30}|(bytes[ =])?[0-9-]{0,12}(/[0-9*]{0,5})?") {
        berth_model::check::range(s.as_bytes());
    }

    #[test]
    fn hashing_in_pieces_with_saved_state_matches_one_shot(data in proptest::collection::vec(any::<u8>(), 0..2000), cuts in proptest::collection::vec(any::<usize>(), 0..6), sha512 in any::<bool>()) {
        let algorithm = if sha512 { Algorithm::Sha512 } else { Algorithm::Sha256 };
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (data.len() + 1)).collect();
        cuts.sort_unstable();
        let mut hasher = Hasher::new(algorithm);
        let mut at = 0;
        for cut in cuts.into_iter().chain([data.len()]) {
            hasher.update(&data[at..cut]);
            at = cut;
            hasher = Hasher::resume(HasherState::from_bytes(&hasher.state().to_bytes()).unwrap());
        }
        let digest = Digest::compute(algorithm, &data);
        prop_assert_eq!(hasher.finish(), digest.clone());
        let mut verifier = DigestVerifier::new(digest);
        verifier.update(&data);
        prop_assert!(verifier.verify().is_ok());
    }

    #[test]
    fn arbitrary_hasher_states_are_refused_or_usable(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(state) = HasherState::from_bytes(&bytes) {
            let _ = Hasher::resume(state).finish();
        }
    }

    #[test]
    fn generated_image_manifests_parse_with_their_references(
        config in descriptor("application/vnd.oci.image.config.v1+json"),
        layers in proptest::collection::vec(descriptor("application/vnd.oci.image.layer.v1.tar+gzip"), 0..8),
        docker in any::<bool>(),
        pretty in any::<bool>(),
    ) {
        let media_type = if docker { ManifestKind::DockerManifest } else { ManifestKind::OciManifest }.media_type();
        let doc = json!({"schemaVersion": 2, "mediaType": media_type, "config": config, "layers": layers});
        let bytes = if pretty { serde_json::to_vec_pretty(&doc).unwrap() } else { serde_json::to_vec(&doc).unwrap() };
        let manifest = Manifest::parse(Bytes::from(bytes.clone()), Some(media_type)).unwrap();
        prop_assert_eq!(manifest.layers().len(), layers.len());
        let digests: Vec<String> = manifest.blobs().map(|d| d.digest().to_string()).collect();
        let expected: Vec<String> = std::iter::once(&config).chain(&layers).map(|d| d["digest"].as_str().unwrap().to_owned()).collect();
        prop_assert_eq!(digests, expected);
        prop_assert_eq!(manifest.digest(), &Digest::sha256(&bytes));
        berth_model::check::manifest(&bytes);
    }

    #[test]
    fn generated_indexes_parse_with_their_children(children in proptest::collection::vec(descriptor("application/vnd.oci.image.manifest.v1+json"), 0..8)) {
        let doc = json!({"schemaVersion": 2, "mediaType": ManifestKind::OciIndex.media_type(), "manifests": children});
        let manifest = Manifest::parse(Bytes::from(doc.to_string()), None).unwrap();
        prop_assert_eq!(manifest.manifests().len(), children.len());
        prop_assert!(manifest.blobs().next().is_none());
    }

    #[test]
    fn arbitrary_bytes_are_never_a_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        berth_model::check::manifest(&bytes);
        let _ = Manifest::parse(Bytes::from(bytes), None);
    }

    #[test]
    fn mutated_fixtures_are_accepted_or_typed_errors(index in 0usize..8, at in any::<usize>(), byte in any::<u8>()) {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/manifests");
        let mut files: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
        files.sort();
        let mut bytes = std::fs::read(&files[index % files.len()]).unwrap();
        let at = at % bytes.len();
        bytes[at] = byte;
        berth_model::check::manifest(&bytes);
        if let Err(e) = Manifest::parse(Bytes::from(bytes), None) {
            // A typed rule, with a message a user can read.
            prop_assert!(!e.to_string().is_empty());
            let _: &ManifestError = &e;
        }
    }
}
