//! Error pages: the friendly page for an error envelope (with the viewer
//! still in the header), and what unknown paths get.

use askama::Template;
use askama_web::WebTemplate;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use bazaar_subjects::ErrorEnvelope;
use bazaar_subjects::auth::Account;

use crate::ui::chrome::Chrome;
use crate::ui::query::urlencode;

#[derive(Template, WebTemplate)]
#[template(path = "error.html")]
struct ErrorPage {
    viewer: Option<Account>,
    chrome: Chrome,
    title: String,
    message: String,
    request_id: Option<String>,
}

/// What an error page says, kept on its response so the page-error layer can
/// render it again inside the site's full chrome.
#[derive(Clone)]
pub(crate) struct RefusedPage {
    status: StatusCode,
    title: String,
    message: String,
    request_id: Option<String>,
}

impl RefusedPage {
    /// The page, with this viewer and chrome.
    pub(crate) fn render(self, viewer: Option<Account>, chrome: Chrome) -> Response {
        (
            self.status,
            ErrorPage {
                viewer,
                chrome,
                title: self.title,
                message: self.message,
                request_id: self.request_id,
            },
        )
            .into_response()
    }

    fn respond(self, viewer: Option<Account>) -> Response {
        let chrome = Chrome::fallback();
        let mut response = self.clone().render(viewer, chrome);
        response.extensions_mut().insert(self);
        response
    }
}

/// An error page that keeps the signed-in viewer in the header.
pub(crate) fn error_view(
    viewer: Option<Account>,
    status: StatusCode,
    title: &str,
    message: &str,
) -> Response {
    RefusedPage {
        status,
        title: title.to_owned(),
        message: message.to_owned(),
        request_id: None,
    }
    .respond(viewer)
}

/// The friendly page for an error envelope, with the status it carries and
/// the viewer in the header.
pub(crate) fn envelope_page(viewer: Option<Account>, e: ErrorEnvelope) -> Response {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let title = match e.status {
        403 => "You can't go there",
        404 => "Page not found",
        503 | 504 => "We'll be right back",
        _ => "Something went wrong",
    };
    RefusedPage {
        status,
        title: title.to_owned(),
        message: e.message,
        request_id: e.request_id,
    }
    .respond(viewer)
}

/// A page handler's error, so page handlers use `?` on node calls.
///
/// The page-error layer renders its page again with the viewer and the
/// site's chrome.
#[derive(Debug)]
pub(crate) enum PageError {
    /// A node's error: the friendly page with the status it carries.
    Failed(ErrorEnvelope),
    /// A signed-out visitor, or a session that no longer holds: sent to
    /// sign in (this is where), and back to the page after.
    SignIn(String),
    /// A page this viewer may not see or find, in the page's own words.
    Refused {
        status: StatusCode,
        title: &'static str,
        message: &'static str,
    },
}

/// What a page says to a viewer it refuses (403).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Refusal {
    pub title: &'static str,
    pub message: &'static str,
}

/// The seller pages' answer to accounts that are not sellers.
pub(crate) const SELLERS_ONLY: Refusal = Refusal {
    title: "The seller dashboard is for sellers",
    message: "Only seller accounts sell on Bazaar. Sign up as a seller (with another email) to open a shop.",
};

/// The admin pages' answer to accounts that are not admins.
pub(crate) const ADMINS_ONLY: Refusal = Refusal {
    title: "Admins only",
    message: "This part of Bazaar is for the people who run the site.",
};

/// How a page for signed-in viewers answers a refused call: a 401 always
/// sends to sign in; a 403 or a 404 may be told in the page's own words
/// instead of the node's.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Refusals {
    pub forbidden: Option<Refusal>,
    pub missing: Option<&'static str>,
}

impl Refusals {
    /// The node's words for everything but a 401.
    pub(crate) const NODES: Refusals = Refusals {
        forbidden: None,
        missing: None,
    };

    /// These words for a 403.
    pub(crate) const fn forbidden(refusal: Refusal) -> Self {
        Refusals {
            forbidden: Some(refusal),
            missing: None,
        }
    }
}

impl PageError {
    /// To sign in, and back to `next` after.
    pub(crate) fn sign_in(next: &str) -> Self {
        Self::SignIn(format!("/login?next={}", urlencode(next)))
    }

    /// A refusal (403) in the page's own words.
    pub(crate) fn refused(refusal: Refusal) -> Self {
        Self::Refused {
            status: StatusCode::FORBIDDEN,
            title: refusal.title,
            message: refusal.message,
        }
    }

    /// A refused call on a page for signed-in viewers (see [`Refusals`]);
    /// `next` is where signing in comes back to.
    pub(crate) fn on_page(self, next: &str, refusals: Refusals) -> Self {
        let Self::Failed(e) = &self else {
            return self;
        };
        match (e.status, refusals) {
            (401, _) => Self::sign_in(next),
            (
                403,
                Refusals {
                    forbidden: Some(r), ..
                },
            ) => Self::refused(r),
            (
                404,
                Refusals {
                    missing: Some(m), ..
                },
            ) => Self::Refused {
                status: StatusCode::NOT_FOUND,
                title: "Page not found",
                message: m,
            },
            _ => self,
        }
    }
}

/// [`PageError::on_page`] on a node call's result.
pub(crate) trait OnPage<T> {
    fn on_page(self, next: &str, refusals: Refusals) -> Result<T, PageError>;
}

impl<T, E> OnPage<T> for Result<T, E>
where
    PageError: From<E>,
{
    fn on_page(self, next: &str, refusals: Refusals) -> Result<T, PageError> {
        self.map_err(|e| PageError::from(e).on_page(next, refusals))
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self {
            Self::Failed(e) => envelope_page(None, e),
            Self::SignIn(to) => Redirect::to(&to).into_response(),
            Self::Refused {
                status,
                title,
                message,
            } => error_view(None, status, title, message),
        }
    }
}

impl From<ErrorEnvelope> for PageError {
    fn from(e: ErrorEnvelope) -> Self {
        Self::Failed(e)
    }
}

impl From<crate::error::ApiError> for PageError {
    fn from(e: crate::error::ApiError) -> Self {
        Self::Failed(e.0)
    }
}

/// The friendly page for an error, for a request whose viewer is not known.
pub(crate) fn error_page(e: ErrorEnvelope) -> Response {
    envelope_page(None, e)
}

/// Unknown API paths get the JSON envelope; unknown pages get a page.
pub async fn not_found(uri: Uri) -> Response {
    let envelope = ErrorEnvelope::not_found(format!("nothing lives at {}", uri.path()));
    if uri.path().starts_with("/api/") {
        crate::error::ApiError(envelope).into_response()
    } else {
        error_page(envelope)
    }
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::body::Body;
    use axum::http::{Request, header};
    use axum::routing::get;
    use tower::ServiceExt;

    use super::*;
    use crate::test_support::body_text;

    async fn get_page(app: Router, path: &str) -> Response {
        app.oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_page_error_is_the_friendly_page_with_the_envelopes_status() {
        let app = Router::new().route(
            "/shops/gone",
            get(|| async {
                Err::<(), PageError>(
                    crate::error::ApiError(ErrorEnvelope::not_found("no such shop")).into(),
                )
            }),
        );
        let response = get_page(app, "/shops/gone").await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert!(
            response.headers()[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        let html = body_text(response).await;
        assert!(html.contains("Page not found"), "{html}");
        assert!(html.contains("no such shop"), "{html}");
    }

    #[tokio::test]
    async fn a_node_that_does_not_answer_is_a_page_saying_we_will_be_back() {
        let app = Router::new().route(
            "/",
            get(|| async {
                Err::<(), PageError>(PageError::Failed(
                    ErrorEnvelope::new(bazaar_subjects::ErrorCode::Unavailable, "no catalog")
                        .with_request_id(Some("req-1".into())),
                ))
            }),
        );
        let response = get_page(app, "/").await;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        let html = body_text(response).await;
        assert!(
            html.contains("We&#39;ll be right back") || html.contains("We'll be right back"),
            "{html}"
        );
        assert!(html.contains("req-1"), "{html}");
    }

    #[tokio::test]
    async fn a_refused_call_signs_in_or_speaks_in_the_pages_own_words() {
        const WORDS: Refusals = Refusals {
            forbidden: Some(Refusal {
                title: "Sellers only",
                message: "Open a seller account to sell.",
            }),
            missing: Some("There is no such thing."),
        };
        let refused = |status: u16| {
            let code = match status {
                401 => bazaar_subjects::ErrorCode::Unauthorized,
                403 => bazaar_subjects::ErrorCode::Forbidden,
                _ => bazaar_subjects::ErrorCode::NotFound,
            };
            Err::<(), _>(ErrorEnvelope::new(code, "the node's words"))
        };

        let signed_out = refused(401).on_page("/seller/x", WORDS).unwrap_err();
        let response = signed_out.into_response();
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(
            response.headers()[header::LOCATION],
            "/login?next=%2Fseller%2Fx"
        );

        let response = refused(403)
            .on_page("/x", WORDS)
            .unwrap_err()
            .into_response();
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        let html = body_text(response).await;
        assert!(
            html.contains("Sellers only") && html.contains("Open a seller"),
            "{html}"
        );

        let response = refused(404)
            .on_page("/x", WORDS)
            .unwrap_err()
            .into_response();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert!(
            body_text(response)
                .await
                .contains("There is no such thing.")
        );

        // Without words of its own, the page says what the node said.
        let response = refused(403)
            .on_page("/x", Refusals::NODES)
            .unwrap_err()
            .into_response();
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert!(body_text(response).await.contains("the node&#39;s words"));
    }

    #[tokio::test]
    async fn unknown_api_paths_get_the_envelope_and_unknown_pages_a_page() {
        let app = Router::new().fallback(not_found);
        let api = get_page(app.clone(), "/api/nothing").await;
        assert_eq!(api.status(), StatusCode::NOT_FOUND);
        assert_eq!(api.headers()[header::CONTENT_TYPE], "application/json");
        let body: ErrorEnvelope = serde_json::from_str(&body_text(api).await).unwrap();
        assert_eq!(body.code, bazaar_subjects::ErrorCode::NotFound);

        let page = get_page(app, "/nothing").await;
        assert_eq!(page.status(), StatusCode::NOT_FOUND);
        assert!(body_text(page).await.contains("Page not found"));
    }
}
