//! [`V2`] as a [`tower_service::Service`], so a host mounts it like any other service: axum's
//! `nest_service("/v2", v2.nested())`, or hyper through `hyper_util`'s `TowerToHyperService`.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::{Request, Response};

use crate::handlers::{Body, V2};

impl<B> tower_service::Service<Request<B>> for V2
where
    B: berth_core::HttpBody,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // The engine bounds its own work (memory, uploads, in-flight quota) per request.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let v2 = self.clone();
        Box::pin(async move {
            let principal = v2.caller(request.extensions());
            Ok(v2.handle(&principal, request).await)
        })
    }
}
