//! Product page views. Whoever serves a page (an edge, often from its own
//! memory) sends the views in batches; each becomes one
//! `events.catalog.product.viewed`, deduplicated by the page request's id.
//! Who viewed is decided here, from the viewer's own token: a token that no
//! longer verifies makes the view a guest's, since the page was served.

use bazaar_runtime::jetstream::publish_event;
use bazaar_runtime::{Caller, TokenVerifier};
use bazaar_subjects::Validator;
use bazaar_subjects::catalog::{
    MAX_VIEWS_PER_BATCH, ProductViewNotice, ProductViewed, ProductViews,
};

use crate::CatalogError;
use crate::store::CatalogStore;

/// The longest id or timestamp a notice may carry.
const MAX_FIELD: usize = 128;

fn plain(s: &str) -> bool {
    !s.is_empty() && s.len() <= MAX_FIELD && s.bytes().all(|b| b.is_ascii_graphic())
}

fn validate(batch: &ProductViews) -> Result<(), CatalogError> {
    let mut v = Validator::default();
    v.check(
        batch.views.len() <= MAX_VIEWS_PER_BATCH,
        "views",
        "send at most 500 views at a time",
    );
    for notice in &batch.views {
        v.check(
            plain(&notice.product_id) && plain(&notice.shop_id),
            "views.product_id",
            "a view names a product and its shop",
        )
        .check(
            plain(&notice.request_id),
            "views.request_id",
            "a view carries its request's id",
        )
        .check(plain(&notice.at), "views.at", "a view carries its time");
    }
    v.finish().map_err(CatalogError::Invalid)
}

fn viewed(verifier: &TokenVerifier, notice: &ProductViewNotice) -> ProductViewed {
    let account_id = match Caller::holding(verifier, notice.authorization.as_deref()) {
        Ok(caller) => caller.account_id().map(str::to_owned),
        Err(_) => None,
    };
    ProductViewed {
        product_id: notice.product_id.clone(),
        shop_id: notice.shop_id.clone(),
        account_id,
        at: notice.at.clone(),
        visitor_id: notice.visitor_id.clone(),
    }
}

impl CatalogStore {
    /// Publishes one view event per notice, all at once, and answers once
    /// JetStream has them.
    pub async fn record_views(&self, batch: &ProductViews) -> Result<(), CatalogError> {
        validate(batch)?;
        let js = self.jetstream();
        let published = batch.views.iter().map(|notice| {
            let event = viewed(self.verifier(), notice);
            let dedupe = format!("view-{}", notice.request_id);
            async move { publish_event(js, &event, &dedupe).await }
        });
        let failed = futures::future::join_all(published)
            .await
            .into_iter()
            .filter(Result::is_err)
            .count();
        if failed > 0 {
            // Analytics: a lost view is logged, never worth failing a page.
            tracing::warn!(failed, of = batch.views.len(), "view events not published");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notice(request_id: &str) -> ProductViewNotice {
        ProductViewNotice {
            product_id: "p1".into(),
            shop_id: "s1".into(),
            request_id: request_id.into(),
            authorization: None,
            at: "2026-12-06T16:00:00Z".into(),
            visitor_id: None,
        }
    }

    #[test]
    fn a_batch_is_bounded_and_its_ids_are_header_safe() {
        let ok = ProductViews {
            views: vec![notice("r-1")],
        };
        assert!(validate(&ok).is_ok());
        let newline = ProductViews {
            views: vec![notice("r-1\r\nNats-Msg-Id: x")],
        };
        assert!(validate(&newline).is_err());
        let too_many = ProductViews {
            views: vec![notice("r"); MAX_VIEWS_PER_BATCH + 1],
        };
        assert!(validate(&too_many).is_err());
    }
}
