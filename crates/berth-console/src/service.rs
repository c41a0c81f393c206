//! [`Console`] as a [`tower_service::Service`]. Its page and API live at fixed root paths (`/`,
//! `/assets/`, `/api/v1/`), so a host mounts it at the root (axum's `fallback_service`).

use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};

use http::{Request, Response};

use crate::{Body, Console};

impl<B> tower_service::Service<Request<B>> for Console
where
    B: berth_core::HttpBody,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    /// The caller's address, for slowing down failed logins per source, is the `SocketAddr` or
    /// `IpAddr` in the request's extensions; without one, failures count per user name only.
    fn call(&mut self, request: Request<B>) -> Self::Future {
        let console = self.clone();
        let extensions = request.extensions();
        let source = extensions
            .get::<SocketAddr>()
            .map(SocketAddr::ip)
            .or_else(|| extensions.get::<IpAddr>().copied());
        Box::pin(async move { Ok(console.handle(source, request).await) })
    }
}
