//! The layout's chrome: what the header shows on every page.

use bazaar_runtime::RequestMeta;
use bazaar_subjects::Empty;
use bazaar_subjects::auth::Account;
use bazaar_subjects::orders as o;

use crate::EdgeState;

/// What the header shows beside the account links on these pages.
pub(crate) struct Nav {
    pub signed_in: bool,
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
        Self {
            signed_in: viewer.is_some(),
            cart_count,
            unread,
        }
    }
}
