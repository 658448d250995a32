//! "Sign in with Google" over HTTP: the edge only redirects and keeps the
//! state in a short-lived cookie (so the callback must come back to the same
//! browser); the auth node does the OpenID Connect work.

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{AppendHeaders, IntoResponse, Redirect, Response};
use axum::routing::get;
use bazaar_subjects::ErrorEnvelope;
use bazaar_subjects::auth::{FinishGoogleSignIn, GoogleFinish, GoogleStart, StartGoogleSignIn};

use crate::api::auth::session_cookies;
use crate::extract::{Meta, cookie_value};
use crate::state::EdgeState;

const STATE_COOKIE: &str = "bazaar_oidc_state";

pub fn routes() -> Router<EdgeState> {
    Router::new()
        .route("/auth/google", get(start))
        .route("/auth/google/callback", get(callback))
}

fn callback_url(state: &EdgeState) -> String {
    format!(
        "{}/auth/google/callback",
        state.inner.config.public_url.trim_end_matches('/')
    )
}

async fn start(State(s): State<EdgeState>, Meta(meta): Meta) -> Response {
    match s
        .call::<StartGoogleSignIn>(
            &meta,
            &GoogleStart {
                redirect_uri: callback_url(&s),
            },
        )
        .await
    {
        Ok(r) => {
            let cookie = format!(
                "{STATE_COOKIE}={}; Path=/auth/google; Max-Age=600; HttpOnly; SameSite=Lax{}",
                r.state,
                s.secure_attribute()
            );
            (
                AppendHeaders([(
                    header::SET_COOKIE,
                    HeaderValue::from_str(&cookie).unwrap_or(HeaderValue::from_static("")),
                )]),
                Redirect::to(&r.authorization_url),
            )
                .into_response()
        }
        Err(e) => crate::ui::errors::error_page(e.0),
    }
}

async fn callback(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let clear = AppendHeaders([(
        header::SET_COOKIE,
        HeaderValue::from_static(
            "bazaar_oidc_state=; Path=/auth/google; Max-Age=0; HttpOnly; SameSite=Lax",
        ),
    )]);
    if q.contains_key("error") {
        let e = ErrorEnvelope::bad_request("Google sign-in was cancelled");
        return (clear, crate::ui::errors::error_page(e)).into_response();
    }
    let (Some(code), Some(state)) = (q.get("code"), q.get("state")) else {
        return (
            clear,
            crate::ui::errors::error_page(ErrorEnvelope::bad_request(
                "the sign-in answer is incomplete",
            )),
        )
            .into_response();
    };
    // The state must be the one this browser was given: no login CSRF.
    if cookie_value(&headers, STATE_COOKIE).as_deref() != Some(state.as_str()) {
        let e = ErrorEnvelope::bad_request(
            "this sign-in was started in another browser or has expired; try again",
        );
        return (clear, crate::ui::errors::error_page(e)).into_response();
    }
    let finish = GoogleFinish {
        code: code.clone(),
        state: state.clone(),
    };
    match s.call::<FinishGoogleSignIn>(&meta, &finish).await {
        Ok(session) => (clear, session_cookies(&s, &session), Redirect::to("/")).into_response(),
        Err(e) => (clear, crate::ui::errors::error_page(e.0)).into_response(),
    }
}
