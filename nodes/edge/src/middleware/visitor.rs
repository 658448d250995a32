//! The visitor cookie: a random first-party id (`bazaar_visitor`) given to
//! a browser the first time it opens a product page, so the analytics node
//! can count unique visitors who are not signed in. It is only ever sent
//! with product views (and counted as a hash in a sketch); a signed-in
//! viewer is counted by their account instead.
//!
//! Only product pages (HTML and JSON) read or set it; the id is handed to
//! the view recorder through a task-local (`views::VISITOR`), so no handler
//! signature carries it.

use axum::extract::Request;
use axum::http::{HeaderValue, Method, header};
use axum::response::Response;

use crate::extract::cookie_value;
use crate::state::EdgeState;

pub(crate) const VISITOR_COOKIE: &str = "bazaar_visitor";
const MAX_AGE_SECS: u64 = 365 * 86_400;

fn is_visitor_id(v: &str) -> bool {
    v.len() == 32 && v.bytes().all(|b| b.is_ascii_hexdigit())
}

fn counted(req: &Request) -> bool {
    let path = req.uri().path();
    req.method() == Method::GET
        && (path.starts_with("/products/") || path.starts_with("/api/products/"))
}

/// The visitor a product page is served to: the cookie's id, or a new one.
pub(crate) struct Visitor {
    pub(crate) id: String,
    new: bool,
}

/// The visitor of a product page (`None` for any other request).
pub(crate) fn of(req: &Request) -> Option<Visitor> {
    if !counted(req) {
        return None;
    }
    Some(
        match cookie_value(req.headers(), VISITOR_COOKIE).filter(|v| is_visitor_id(v)) {
            Some(id) => Visitor { id, new: false },
            None => Visitor {
                id: crate::ids::random_hex(),
                new: true,
            },
        },
    )
}

/// Gives a new visitor their cookie with the page.
pub(crate) fn finish(state: &EdgeState, visitor: Option<Visitor>, response: &mut Response) {
    let Some(Visitor { id, new: true }) = visitor else {
        return;
    };
    let secure = state.secure_attribute();
    let cookie = format!(
        "{VISITOR_COOKIE}={id}; Path=/; Max-Age={MAX_AGE_SECS}; HttpOnly; SameSite=Lax{secure}"
    );
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
}
