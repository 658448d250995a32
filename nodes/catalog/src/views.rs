//! Product page views. Whoever serves a page (an edge, often from its own
//! memory) sends the views in batches; each batch becomes one
//! `events.catalog.products.viewed`, deduplicated by its first page
//! request's id (a request id is in one batch only, so a batch sent again
//! lands once). Who viewed is decided here, from the viewer's own token: a
//! token that no longer verifies makes the view a guest's, since the page
//! was served.

use bazaar_runtime::jetstream::publish_event;
use bazaar_runtime::{Caller, TokenVerifier};
use bazaar_subjects::Validator;
use bazaar_subjects::catalog::{
    MAX_VIEWS_PER_BATCH, ProductViewNotice, ProductViewed, ProductViews, ProductsViewed,
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
        "send at most 2,000 views at a time",
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

/// The id JetStream deduplicates a batch by.
fn dedupe_id(batch: &ProductViews) -> Option<String> {
    let first = batch.views.first()?;
    Some(format!("views-{}-{}", first.request_id, batch.views.len()))
}

impl CatalogStore {
    /// Announces the batch as one event and answers once JetStream has it.
    pub async fn record_views(&self, batch: &ProductViews) -> Result<(), CatalogError> {
        validate(batch)?;
        let Some(dedupe) = dedupe_id(batch) else {
            return Ok(());
        };
        let event = ProductsViewed {
            views: batch
                .views
                .iter()
                .map(|notice| viewed(self.verifier(), notice))
                .collect(),
        };
        if let Err(e) = publish_event(self.jetstream(), &event, &dedupe).await {
            // Analytics: lost views are logged, never worth failing a page.
            tracing::warn!(error = %e, views = batch.views.len(), "view events not published");
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

    #[test]
    fn a_batch_sent_again_is_the_same_event_and_another_batch_is_not() {
        let batch = |ids: &[&str]| ProductViews {
            views: ids.iter().map(|id| notice(id)).collect(),
        };
        assert_eq!(
            dedupe_id(&batch(&["r-1", "r-2"])),
            dedupe_id(&batch(&["r-1", "r-2"]))
        );
        assert_ne!(
            dedupe_id(&batch(&["r-1", "r-2"])),
            dedupe_id(&batch(&["r-3"]))
        );
        assert_eq!(dedupe_id(&batch(&[])), None);
    }
}
