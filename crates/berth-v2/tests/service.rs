//! `V2` as a `tower_service::Service`: the caller is the `Principal` in the request's extensions,
//! else the service's own (anonymous unless set), and a nested service reads paths without `/v2`.

use berth_model::RepositoryName;
use berth_v2::{Principal, V2};
use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::Empty;
use tower_service::Service as _;

async fn call(v2: &mut V2, method: Method, path: &str, principal: Option<Principal>) -> StatusCode {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .body(Empty::<Bytes>::new())
        .unwrap();
    if let Some(principal) = principal {
        request.extensions_mut().insert(principal);
    }
    let Ok(response) = v2.call(request).await;
    response.status()
}

async fn registry() -> V2 {
    let name = RepositoryName::parse("demo").unwrap();
    V2::new(berth_core::Registry::in_memory(&[name]).await.unwrap())
}

#[tokio::test]
async fn the_caller_is_the_extensions_principal_else_anonymous() {
    let mut v2 = registry().await;
    let upload = "/v2/demo/app/blobs/uploads/";
    assert_eq!(
        call(&mut v2, Method::POST, upload, None).await,
        StatusCode::UNAUTHORIZED,
        "no principal: anonymous, who may only pull a public repository"
    );
    assert_eq!(
        call(&mut v2, Method::GET, "/v2/demo/app/tags/list", None).await,
        StatusCode::NOT_FOUND,
        "anonymous reads the public repository (no such image yet)"
    );
    assert_eq!(
        call(&mut v2, Method::POST, upload, Some(Principal::SystemAdmin)).await,
        StatusCode::ACCEPTED
    );
    let mut everyone = registry().await.with_principal(Principal::SystemAdmin);
    assert_eq!(
        call(&mut everyone, Method::POST, upload, None).await,
        StatusCode::ACCEPTED,
        "the service's own principal when the extensions carry none"
    );
    assert_eq!(
        call(
            &mut everyone,
            Method::POST,
            upload,
            Some(Principal::Anonymous)
        )
        .await,
        StatusCode::UNAUTHORIZED,
        "the extensions' principal wins"
    );
}

#[tokio::test]
async fn a_nested_service_reads_paths_without_the_prefix() {
    let mut nested = registry().await.nested();
    let admin = || Some(Principal::SystemAdmin);
    assert_eq!(
        call(&mut nested, Method::GET, "/", admin()).await,
        StatusCode::OK
    );
    assert_eq!(
        call(
            &mut nested,
            Method::POST,
            "/demo/app/blobs/uploads/",
            admin()
        )
        .await,
        StatusCode::ACCEPTED
    );
    let mut plain = registry().await;
    assert_eq!(
        call(
            &mut plain,
            Method::POST,
            "/demo/app/blobs/uploads/",
            admin()
        )
        .await,
        StatusCode::NOT_FOUND,
        "not nested: a path must begin with /v2"
    );
}
