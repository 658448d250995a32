//! Error pages wear the same chrome as every page: a page handler answers an
//! error with [`PageError`](crate::ui::errors::PageError) (by `?`) or an
//! error page, and this layer renders that page again with the site's name
//! and the viewer the handler already looked up (or looks them up itself
//! when the handler had not yet).

use axum::extract::{FromRequestParts, Request};
use axum::http::header;
use axum::response::Response;
use bazaar_runtime::RequestMeta;
use bazaar_subjects::Empty;
use bazaar_subjects::auth::GetMe;

use crate::extract::{Meta, ViewerSlot};
use crate::state::EdgeState;
use crate::ui::chrome::Chrome;
use crate::ui::errors::RefusedPage;

/// What a page's error page will need: the viewer slot its handler fills,
/// and who asked.
pub(crate) struct PageContext {
    slot: ViewerSlot,
    meta: RequestMeta,
}

/// Gives a page's handler a slot for the viewer it looks up (the API is
/// left alone: it answers errors in JSON).
pub(crate) async fn prepare(state: &EdgeState, req: Request) -> (Request, Option<PageContext>) {
    if req.uri().path().starts_with("/api/") {
        return (req, None);
    }
    let slot = ViewerSlot::default();
    let (mut parts, body) = req.into_parts();
    parts.extensions.insert(slot.clone());
    let Ok(Meta(meta)) = Meta::from_request_parts(&mut parts, state).await;
    (
        Request::from_parts(parts, body),
        Some(PageContext { slot, meta }),
    )
}

/// Renders a refused page again with the site's chrome and the viewer.
pub(crate) async fn finish(
    state: &EdgeState,
    page: Option<PageContext>,
    mut response: Response,
) -> Response {
    let Some(PageContext { slot, meta }) = page else {
        return response;
    };
    let Some(refused) = response.extensions_mut().remove::<RefusedPage>() else {
        return response;
    };
    let viewer = match slot.get() {
        Some(viewer) => viewer.clone(),
        None if meta.authorization.is_some() => state.call::<GetMe>(&meta, &Empty {}).await.ok(),
        None => None,
    };
    let chrome = Chrome::load(state, &meta).await;
    let (mut parts, _) = response.into_parts();
    let (_, body) = refused.render(viewer, chrome).into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, body)
}
