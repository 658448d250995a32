//! Moderation: an admin hides a product from buyers or shows it again.
//!
//! A hidden product is not live: it leaves the storefront, the listings,
//! carts and search. The change goes out as an ordinary
//! `events.catalog.product.changed`, so every read model (the search index,
//! the edges' kept pages) follows it the way it follows a seller's edit.
//! Each change is written with its event (see the outbox) and its audit row
//! in one transaction.

use bazaar_runtime::Request;
use bazaar_schema::audit::{self, Audit};
use bazaar_schema::committed;
use bazaar_subjects::catalog::{Product, ProductChange, ProductChanged};
use bazaar_subjects::console::ModerateRequest;

use crate::CatalogError;
use crate::store::{CatalogStore, PRODUCT_CHANGED, changed};

/// What the audit row keeps of a product, before and after.
fn snapshot(var: &str) -> String {
    format!(
        "LET {var} = (SELECT record::id(id) AS id, slug, title, shop_id, status, live, \
         hidden_at, hidden_reason FROM type::record('product', $id))[0];"
    )
}

async fn moderate(
    s: &CatalogStore,
    req: Request<ModerateRequest>,
    hide: bool,
) -> Result<Product, CatalogError> {
    let id = req.body.id.trim().to_owned();
    let why = req.body.reason().map_err(CatalogError::Invalid)?;
    let admin = req.caller.account_id().unwrap_or_default().to_owned();
    let action = if hide {
        "product.hide"
    } else {
        "product.restore"
    };
    let record = Audit::new(admin, action, "product", &id, &req.request_id).with_reason(&why);
    let change = if hide {
        "IF $before.hidden_at != NONE { THROW 'unchanged'; };
         UPDATE type::record('product', $id) SET hidden_at = time::now(), hidden_reason = $reason,
             live = false, revision += 1, updated_at = time::now() RETURN NONE;"
    } else {
        "IF $before.hidden_at = NONE { THROW 'unchanged'; };
         UPDATE type::record('product', $id) SET hidden_at = NONE, hidden_reason = NONE,
             live = status = 'active' AND deleted_at = NONE AND !shop_hidden, revision += 1, updated_at = time::now()
             RETURN NONE;"
    };
    let result = s
        .db()
        .query(format!(
            "BEGIN TRANSACTION;
             {before}
             IF $before = NONE {{ THROW 'no_such_product'; }};
             {change}
             {after}
             {record}
             {PRODUCT_CHANGED}
             COMMIT TRANSACTION;",
            before = snapshot("$before"),
            after = snapshot("$after"),
            record = audit::RECORD,
        ))
        .bind(("id", id.clone()))
        .bind(("reason", why))
        .bind(record.bind())
        .bind(changed(ProductChange::Updated))
        .bind((
            "subject",
            <ProductChanged as bazaar_subjects::Event>::SUBJECT,
        ))
        .await;
    if let Err(e) = committed(result) {
        return Err(match e.thrown() {
            Some("no_such_product") => CatalogError::NoSuchProduct(id),
            Some("unchanged") if hide => {
                CatalogError::Conflict("the product is hidden already".into())
            }
            Some("unchanged") => CatalogError::Conflict("the product is not hidden".into()),
            _ => CatalogError::Write(e),
        });
    }
    let stored = s
        .load_by_id(&id)
        .await?
        .ok_or_else(|| CatalogError::NoSuchProduct(id.clone()))?;
    s.after_write(&stored).await;
    tracing::info!(product = %id, hidden = hide, "product moderated");
    Ok(stored.product)
}

pub(crate) async fn hide(
    s: &CatalogStore,
    req: Request<ModerateRequest>,
) -> Result<Product, CatalogError> {
    moderate(s, req, true).await
}

pub(crate) async fn restore(
    s: &CatalogStore,
    req: Request<ModerateRequest>,
) -> Result<Product, CatalogError> {
    moderate(s, req, false).await
}
