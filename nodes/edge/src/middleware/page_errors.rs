//! Error pages wear the same chrome as every page: a page handler answers an
//! error with [`PageError`](crate::ui::errors::PageError) (by `?`) or an
//! error page, and this layer renders that page again with the site's name
//! and the viewer the handler already looked up (or looks them up itself
//! when the handler had not yet).

use axum::extract::{FromRequestParts, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;
use bazaar_subjects::Empty;
use bazaar_subjects::auth::GetMe;

use crate::extract::{Meta, ViewerSlot};
use crate::state::EdgeState;
use crate::ui::chrome::Chrome;
use crate::ui::errors::RefusedPage;

pub async fn middleware(State(state): State<EdgeState>, req: Request, next: Next) -> Response {
    // Only pages answer with a page; the API answers errors in JSON.
    if req.uri().path().starts_with("/api/") {
        return next.run(req).await;
    }
    let slot = ViewerSlot::default();
    let (mut parts, body) = req.into_parts();
    parts.extensions.insert(slot.clone());
    let Ok(Meta(meta)) = Meta::from_request_parts(&mut parts, &state).await;
    let mut response = next.run(Request::from_parts(parts, body)).await;
    let Some(refused) = response.extensions_mut().remove::<RefusedPage>() else {
        return response;
    };
    let viewer = match slot.get() {
        Some(viewer) => viewer.clone(),
        None if meta.authorization.is_some() => state.call::<GetMe>(&meta, &Empty {}).await.ok(),
        None => None,
    };
    let chrome = Chrome::load(&state, &meta).await;
    let (mut parts, _) = response.into_parts();
    let (_, body) = refused.render(viewer, chrome).into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, body)
}
