//! Moderation: an admin hides a shop from buyers or shows it again, and
//! looks up the shop an account owns.
//!
//! A hidden shop's page answers 404 to buyers, it leaves the rankings, and
//! its products are not live: the change goes out as an ordinary
//! `events.sellers.shop.changed` (with `hidden` set), which the catalog
//! follows the way it follows a renamed shop. The change, its event and its
//! audit row are written in one transaction.

use bazaar_runtime::Request;
use bazaar_schema::audit::{self, Audit};
use bazaar_schema::{committed, take_rows};
use bazaar_subjects::console::{AccountId, ModerateRequest};
use bazaar_subjects::sellers::{OwnedShop, Shop, ShopChanged};

use crate::store::{SHOP_FIELDS, SellersError, SellersStore, ShopRow};

/// What the audit row keeps of a shop, before and after.
fn snapshot(var: &str) -> String {
    format!(
        "LET {var} = (SELECT record::id(id) AS id, slug, name, owner, hidden_at, hidden_reason \
         FROM type::record('shop', $id))[0];"
    )
}

impl SellersStore {
    /// Hides (or restores) a shop for an admin.
    #[tracing::instrument(skip(self, req), fields(shop = %req.body.id, hide))]
    pub async fn moderate(
        &self,
        req: &Request<ModerateRequest>,
        hide: bool,
    ) -> Result<Shop, SellersError> {
        let id = req.body.id.trim().to_owned();
        if id.is_empty() || id.len() > 200 {
            return Err(SellersError::NoSuchShop);
        }
        let why = req.body.reason().map_err(SellersError::Invalid)?;
        let admin = req.caller.account_id().unwrap_or_default().to_owned();
        let action = if hide { "shop.hide" } else { "shop.restore" };
        let record = Audit::new(admin, action, "shop", &id, &req.request_id).with_reason(&why);
        let change = if hide {
            "IF $before.hidden_at != NONE { THROW 'unchanged'; };
             UPDATE type::record('shop', $id) SET hidden_at = time::now(), hidden_reason = $reason,
                 updated_at = time::now() RETURN NONE;"
        } else {
            "IF $before.hidden_at = NONE { THROW 'unchanged'; };
             UPDATE type::record('shop', $id) SET hidden_at = NONE, hidden_reason = NONE,
                 updated_at = time::now() RETURN NONE;"
        };
        let result = self
            .db
            .query(format!(
                "BEGIN TRANSACTION;
                 {before}
                 IF $before = NONE {{ THROW 'no_such_shop'; }};
                 {change}
                 {after}
                 {record}
                 -- `ShopChanged`, written with the change (see the outbox).
                 LET $event = {{ shop_id: $id, slug: $after.slug, name: $after.name,
                     owner_id: $after.owner, hidden: $after.hidden_at != NONE }};
                 {write_one}
                 COMMIT TRANSACTION;",
                before = snapshot("$before"),
                after = snapshot("$after"),
                record = audit::RECORD,
                write_one = bazaar_outbox::WRITE_ONE,
            ))
            .bind(("id", id.clone()))
            .bind(("reason", why))
            .bind(record.bind())
            .bind((
                "event_id",
                format!("shop-{}", uuid::Uuid::now_v7().simple()),
            ))
            .bind(("subject", <ShopChanged as bazaar_subjects::Event>::SUBJECT))
            .await;
        if let Err(e) = committed(result) {
            return Err(match e.thrown() {
                Some("no_such_shop") => SellersError::NoSuchShop,
                Some("unchanged") if hide => {
                    SellersError::Conflict("the shop is hidden already".into())
                }
                Some("unchanged") => SellersError::Conflict("the shop is not hidden".into()),
                _ => SellersError::Transaction(e),
            });
        }
        self.outbox.sent().await;
        let mut res = self
            .db
            .query(format!(
                "SELECT {SHOP_FIELDS} FROM type::record('shop', $id)"
            ))
            .bind(("id", id))
            .await?
            .check()?;
        let row = take_rows::<ShopRow>(&mut res, 0)?
            .into_iter()
            .next()
            .ok_or(SellersError::NoSuchShop)?;
        tracing::info!(hidden = hide, "shop moderated");
        Ok(row.shop)
    }

    /// The shop an account owns, if any, hidden or not.
    pub async fn of_owner(&self, req: &AccountId) -> Result<OwnedShop, SellersError> {
        let owner = req.account_id.trim();
        if owner.is_empty() || owner.len() > 200 {
            return Ok(OwnedShop { shop: None });
        }
        Ok(OwnedShop {
            shop: self.row_by_owner(owner).await?.map(|r| r.shop),
        })
    }
}
