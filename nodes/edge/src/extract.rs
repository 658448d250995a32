//! Extractors that turn HTTP into what a NATS call needs.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use bazaar_subjects::catalog::{ListMyProducts, ListMyProductsRequest};
use bazaar_subjects::{ErrorCode, ErrorEnvelope, FieldError};
use serde::de::DeserializeOwned;
use std::sync::{Arc, OnceLock};

use crate::error::ApiError;
use crate::ui::errors::{ADMINS_ONLY, OnPage, PageError, Refusals, SELLERS_ONLY};

pub use crate::meta::Meta;
pub(crate) use crate::meta::{ACCESS_COOKIE, REFRESH_COOKIE, cookie_value};

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
    let mut envelope = ErrorEnvelope::new(code, message);
    envelope.fields.extend(refused_field(&rejection));
    envelope
}

/// The field a well-formed body carried a value the contract refuses in (a
/// malformed currency, a word where a number belongs), so a client can point
/// at it as it does at the nodes' validation errors. `None` for problems of
/// the body as a whole (not JSON, a missing field named at the top).
fn refused_field(rejection: &JsonRejection) -> Option<FieldError> {
    type PathError = serde_path_to_error::Error<serde_json::Error>;
    let JsonRejection::JsonDataError(e) = rejection else {
        return None;
    };
    let mut source = std::error::Error::source(e);
    let refused = loop {
        let current = source?;
        if let Some(refused) = current.downcast_ref::<PathError>() {
            break refused;
        }
        source = current.source();
    };
    let field = refused.path().to_string();
    if field == "." {
        return None;
    }
    // serde_json ends its messages with where in the text it was.
    let inner = refused.inner();
    let message = inner.to_string();
    let at = format!(" at line {} column {}", inner.line(), inner.column());
    Some(FieldError {
        field,
        message: message.strip_suffix(&at).unwrap_or(&message).to_owned(),
    })
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

/// Path parameters whose problems (a number too large, a word where a
/// number belongs) come back as the error envelope, 400.
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(v)| ApiPath(v))
            .map_err(|rejection| ApiError(ErrorEnvelope::bad_request(rejection.body_text())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use bazaar_subjects::orders::MergeCart;

    async fn read<T: DeserializeOwned>(body: &str) -> Result<T, ErrorEnvelope> {
        let req = Request::builder()
            .method("POST")
            .header("content-type", "application/json")
            .body(Body::from(body.to_owned()))
            .unwrap();
        ApiJson::<T>::from_request(req, &())
            .await
            .map(|ApiJson(v)| v)
            .map_err(|ApiError(e)| e)
    }

    #[tokio::test]
    async fn a_refused_value_names_its_field() {
        #[derive(serde::Deserialize)]
        struct Priced {
            #[allow(dead_code)]
            currency: bazaar_subjects::Currency,
        }
        let e = read::<Priced>(r#"{"currency": "dollars"}"#)
            .await
            .err()
            .unwrap();
        assert_eq!(e.code, ErrorCode::Validation);
        assert_eq!(e.status, 422);
        assert_eq!(e.fields.len(), 1);
        assert_eq!(e.fields[0].field, "currency");
        assert_eq!(
            e.fields[0].message,
            "use a three-letter ISO 4217 code such as USD or EUR"
        );
    }

    #[tokio::test]
    async fn a_body_wrong_as_a_whole_names_no_field() {
        let e = read::<MergeCart>("{}").await.err().unwrap();
        assert_eq!(e.status, 422);
        assert!(e.fields.is_empty(), "{:?}", e.fields);
        let e = read::<MergeCart>("{\"guest_id\": ").await.err().unwrap();
        assert_eq!(e.status, 400);
        assert!(e.fields.is_empty(), "{:?}", e.fields);
    }
}
