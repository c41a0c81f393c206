//! Property tests of the route parser: generated valid requests parse to the route they were
//! built from, whatever the name's depth or components; arbitrary input never panics.

use berth_model::{Digest, Name, Reference};
use berth_v2::route::{Route, parse};
use http::Method;
use proptest::prelude::*;

fn component() -> impl Strategy<Value = String> {
    // Suffix words are valid components too: the parser must not be fooled by them.
    prop_oneof![
        proptest::string::string_regex("[a-z0-9]{1,5}((\\.|_|__|-{1,2})[a-z0-9]{1,4}){0,1}")
            .unwrap(),
        Just("manifests".to_owned()),
        Just("blobs".to_owned()),
        Just("uploads".to_owned()),
        Just("tags".to_owned()),
        Just("list".to_owned()),
        Just("referrers".to_owned()),
    ]
}

fn name() -> impl Strategy<Value = Name> {
    proptest::collection::vec(component(), 2..7)
        .prop_filter_map("too long", |parts| Name::parse(&parts.join("/")).ok())
}

proptest! {
    #[test]
    fn manifests_and_blobs_round_trip(name in name(), tag in "[a-zA-Z0-9_][a-zA-Z0-9._-]{0,20}", data in any::<Vec<u8>>()) {
        let digest = Digest::sha256(&data);
        let reference = Reference::parse(&tag).unwrap();
        let path = format!("/v2/{name}/manifests/{tag}");
        prop_assert_eq!(parse(&Method::GET, &path, None), Ok(Route::GetManifest { name: name.clone(), reference }));
        let path = format!("/v2/{name}/blobs/{digest}");
        prop_assert_eq!(parse(&Method::HEAD, &path, None), Ok(Route::HeadBlob { name: name.clone(), digest }));
        let path = format!("/v2/{name}/tags/list");
        let tags = matches!(parse(&Method::GET, &path, None), Ok(Route::ListTags { name: n, .. }) if n == name);
        prop_assert!(tags);
    }

    #[test]
    fn arbitrary_requests_never_panic(method in "GET|HEAD|PUT|POST|PATCH|DELETE|BREW", path in "/v2(/[a-z0-9:._-]{0,12}){0,8}/?|\\PC{0,60}", query in proptest::option::of("\\PC{0,40}")) {
        let request = match &query { Some(q) => format!("{method} {path}?{q}"), None => format!("{method} {path}") };
        berth_v2::route::check(request.as_bytes());
    }
}

#[test]
fn seed_corpus() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/routes");
    let mut count = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        berth_v2::route::check(&std::fs::read(entry.unwrap().path()).unwrap());
        count += 1;
    }
    assert!(count >= 5);
}
