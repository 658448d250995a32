//! Extractors that turn HTTP into what a NATS call needs.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use bazaar_runtime::RequestMeta;
use bazaar_subjects::catalog::{ListMyProducts, ListMyProductsRequest};
use bazaar_subjects::{ErrorCode, ErrorEnvelope};
use serde::de::DeserializeOwned;
use std::sync::{Arc, OnceLock};

use crate::error::ApiError;
use crate::ui::errors::{ADMINS_ONLY, OnPage, PageError, Refusals, SELLERS_ONLY};

/// The access-token cookie set by sign-in.
pub(crate) const ACCESS_COOKIE: &str = "bazaar_access";
/// The refresh-token cookie set by sign-in.
pub(crate) const REFRESH_COOKIE: &str = "bazaar_refresh";

/// The request id and the caller's token, from the request's headers: an
/// `Authorization: Bearer` header for API clients, else the access cookie.
/// The edge does not judge the token; the node that serves the call does.
pub struct Meta(pub RequestMeta);

impl<S: Send + Sync> FromRequestParts<S> for Meta {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let request_id = parts
            .headers
            .get(crate::state::REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
        let bearer = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::to_owned);
        let authorization = bearer.or_else(|| cookie_value(&parts.headers, ACCESS_COOKIE));
        Ok(Meta(RequestMeta {
            request_id,
            authorization,
        }))
    }
}

/// One cookie's value from the request's `Cookie` headers.
pub(crate) fn cookie_value(headers: &axum::http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// A JSON body whose problems come back as the error envelope.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(rejection) => Err(ApiError(json_rejection(rejection))),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> ErrorEnvelope {
    let status = rejection.status().as_u16();
    let code = match status {
        413 => ErrorCode::PayloadTooLarge,
        415 => ErrorCode::BadRequest,
        422 => ErrorCode::Validation,
        _ => ErrorCode::BadRequest,
    };
    let message = match code {
        ErrorCode::PayloadTooLarge => "the request body is too large".to_owned(),
        _ => rejection.body_text(),
    };
    ErrorEnvelope::new(code, message)
}

/// The request's viewer once the [`Viewer`] extractor looked them up, put in
/// the request by the page-error layer: an error page then needs no second
/// lookup, and a second extraction none either.
#[derive(Clone, Default)]
pub(crate) struct ViewerSlot(Arc<OnceLock<Option<bazaar_subjects::auth::Account>>>);

impl ViewerSlot {
    pub(crate) fn get(&self) -> Option<&Option<bazaar_subjects::auth::Account>> {
        self.0.get()
    }

    pub(crate) fn set(&self, viewer: Option<bazaar_subjects::auth::Account>) {
        let _ = self.0.set(viewer);
    }
}

/// The signed-in account for pages (the header shows it), or `None`.
pub struct Viewer(pub Option<bazaar_subjects::auth::Account>);

impl FromRequestParts<crate::state::EdgeState> for Viewer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &crate::state::EdgeState,
    ) -> Result<Self, Self::Rejection> {
        let slot = parts.extensions.get::<ViewerSlot>().cloned();
        if let Some(viewer) = slot.as_ref().and_then(ViewerSlot::get) {
            return Ok(Viewer(viewer.clone()));
        }
        let Ok(Meta(meta)) = Meta::from_request_parts(parts, state).await;
        let me = if meta.authorization.is_none() {
            None
        } else {
            state
                .call::<bazaar_subjects::auth::GetMe>(&meta, &bazaar_subjects::Empty {})
                .await
                .ok()
        };
        if let Some(slot) = slot {
            slot.set(me.clone());
        }
        Ok(Viewer(me))
    }
}

/// A signed-in account, for pages only they may see; anyone else is sent to
/// sign in and come back to this page.
pub(crate) struct SignedIn(pub bazaar_subjects::auth::Account);

impl FromRequestParts<crate::state::EdgeState> for SignedIn {
    type Rejection = PageError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &crate::state::EdgeState,
    ) -> Result<Self, Self::Rejection> {
        let Ok(Viewer(viewer)) = Viewer::from_request_parts(parts, state).await;
        viewer
            .map(SignedIn)
            .ok_or_else(|| PageError::sign_in(parts.uri.path()))
    }
}

/// A seller (or an admin), for the seller pages: the signed-out are sent to
/// sign in and come back to this page, other accounts get the friendly 403
/// page. Who sells is the catalog's decision: it is asked for one of the
/// caller's products.
pub(crate) struct Seller;

impl FromRequestParts<crate::state::EdgeState> for Seller {
    type Rejection = PageError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &crate::state::EdgeState,
    ) -> Result<Self, Self::Rejection> {
        let Ok(Meta(meta)) = Meta::from_request_parts(parts, state).await;
        let here = parts.uri.path();
        if meta.authorization.is_none() {
            return Err(PageError::sign_in(here));
        }
        let probe = ListMyProductsRequest {
            page_size: Some(1),
            ..Default::default()
        };
        state
            .call::<ListMyProducts>(&meta, &probe)
            .await
            .on_page(here, Refusals::forbidden(SELLERS_ONLY))?;
        Ok(Seller)
    }
}

/// An admin, for the admin page and its forms: the signed-out are sent to
/// sign in and come back to the admin page, other accounts get the
/// friendly 403 page.
pub(crate) struct Admin(pub bazaar_subjects::auth::Account);

impl FromRequestParts<crate::state::EdgeState> for Admin {
    type Rejection = PageError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &crate::state::EdgeState,
    ) -> Result<Self, Self::Rejection> {
        let Ok(Viewer(viewer)) = Viewer::from_request_parts(parts, state).await;
        match viewer {
            Some(v) if v.role == bazaar_subjects::Role::Admin => Ok(Admin(v)),
            Some(_) => Err(PageError::refused(ADMINS_ONLY)),
            // Signed out, or a session that no longer holds.
            None => Err(PageError::sign_in("/admin")),
        }
    }
}

/// A query string in the shape HTML forms send: repeated keys become lists
/// (`colors=red&colors=blue`) and empty fields read as absent.
pub struct FormQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for FormQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        serde_html_form::from_str(query)
            .map(FormQuery)
            .map_err(|e| {
                ApiError(ErrorEnvelope::bad_request(format!(
                    "the query string is not valid: {e}"
                )))
            })
    }
}
