//! The layout's chrome: what every page's header and footer show — the
//! site's name as the admins set it, and the cart, wishlist, orders and
//! notifications links (with counts where the page knows them).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use bazaar_runtime::RequestMeta;
use bazaar_subjects::admin::SiteConfig;
use bazaar_subjects::auth::Account;
use bazaar_subjects::orders as o;
use bazaar_subjects::{Empty, ErrorEnvelope};

use crate::meta::Meta;
use crate::state::EdgeState;

/// The name the layout shows while the admin node does not answer.
const FALLBACK_NAME: &str = "Bazaar";

/// What the layout around a page shows besides the viewer's own links: one
/// site-settings call per page render.
pub(crate) struct Chrome {
    pub site_name: String,
    /// The site settings, for the pages that show more of them (the home
    /// page's banner, the admin's form); the node's error when it did not
    /// answer.
    pub site: Result<SiteConfig, ErrorEnvelope>,
    pub nav: Nav,
}

impl Chrome {
    /// The chrome from what is known without asking a node.
    pub(crate) fn fallback() -> Self {
        Self::from_site(Err(ErrorEnvelope::new(
            bazaar_subjects::ErrorCode::Unavailable,
            "the site settings were not loaded",
        )))
    }

    /// The chrome with the site settings from the admin node.
    pub(crate) async fn load(s: &EdgeState, meta: &RequestMeta) -> Self {
        Self::from_site(s.site(meta).await.map_err(|e| e.0))
    }

    fn from_site(site: Result<SiteConfig, ErrorEnvelope>) -> Self {
        Self {
            site_name: site
                .as_ref()
                .map_or_else(|_| FALLBACK_NAME.to_owned(), |c| c.name.clone()),
            site,
            nav: Nav::default(),
        }
    }
}

impl FromRequestParts<EdgeState> for Chrome {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &EdgeState,
    ) -> Result<Self, Self::Rejection> {
        let Ok(Meta(meta)) = Meta::from_request_parts(parts, state).await;
        Ok(Self::load(state, &meta).await)
    }
}

/// The counts the header shows beside its links, where the page knows them.
#[derive(Default)]
pub(crate) struct Nav {
    pub cart_count: Option<i64>,
    pub unread: i64,
}

impl Nav {
    /// One notifications call for signed-in viewers; the cart count only
    /// when the page has the cart already (reading it records what was seen).
    pub(crate) async fn load(
        s: &EdgeState,
        meta: &RequestMeta,
        viewer: &Option<Account>,
        cart_count: Option<i64>,
    ) -> Self {
        let unread = if viewer.is_some() {
            s.call::<o::ListNotifications>(meta, &Empty {})
                .await
                .map(|n| n.unread)
                .unwrap_or(0)
        } else {
            0
        };
        Self { cart_count, unread }
    }
}
