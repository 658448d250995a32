//! The edge's own rules for every request, in order, as one layer: the
//! security headers on every answer, the cross-site check, the rate limit,
//! keeping page sessions alive, error pages in the site's chrome, and the
//! visitor cookie of product pages.
//!
//! One service rather than one layer per rule: a layer clones the whole
//! stack beneath it for every request, so six of them cost more than the
//! rules themselves on a page the edge keeps; and a service of its own
//! rather than a `from_fn` middleware, which boxes the rest of the stack
//! again for every request.

use std::convert::Infallible;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::response::Response;
use futures::future::BoxFuture;
use tower::{Layer, Service};

use crate::middleware::{csrf, headers, page_errors, ratelimit, session, visitor};
use crate::state::EdgeState;

#[derive(Clone)]
pub(crate) struct PolicyLayer {
    pub(crate) state: EdgeState,
}

impl<S> Layer<S> for PolicyLayer {
    type Service = Policy<S>;

    fn layer(&self, inner: S) -> Policy<S> {
        Policy {
            state: self.state.clone(),
            inner,
        }
    }
}

#[derive(Clone)]
pub(crate) struct Policy<S> {
    state: EdgeState,
    inner: S,
}

impl<S> Service<Request> for Policy<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        // The ready service answers this request; its clone waits for the
        // next one.
        let ready = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, ready);
        let state = self.state.clone();
        Box::pin(async move { Ok(answer(&state, req, inner).await) })
    }
}

async fn answer<S>(state: &EdgeState, req: Request, inner: S) -> Response
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    let docs = headers::for_docs(&req);
    let mut response = guarded(state, req, inner).await;
    headers::apply(&mut response, docs);
    response
}

/// Everything but the headers, which every answer gets, refusals included.
async fn guarded<S>(state: &EdgeState, mut req: Request, mut inner: S) -> Response
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    if let Err(refused) = csrf::check(state, &req) {
        return refused;
    }
    if let Err(refused) = ratelimit::check(state, &req).await {
        return refused;
    }
    let renewed = session::renew(state, &mut req).await;
    let (req, page) = page_errors::prepare(state, req).await;
    let visitor = visitor::of(&req);
    // Called inside the visitor's scope, in case the handler reads it as
    // soon as it is called.
    let answered = async move { inner.call(req).await };
    let answered = match &visitor {
        Some(v) => crate::views::VISITOR.scope(v.id.clone(), answered).await,
        None => answered.await,
    };
    let response = match answered {
        Ok(response) => response,
        Err(never) => match never {},
    };
    let mut response = page_errors::finish(state, page, response).await;
    visitor::finish(state, visitor, &mut response);
    session::finish(renewed, &mut response);
    response
}
