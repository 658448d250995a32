//! Stock for checkouts: taken all-or-nothing in one transaction that only
//! decrements where enough remains (so concurrent buyers can never oversell),
//! recorded under the caller's reservation id (so a retried checkout takes
//! stock once), and given back exactly once.

use std::collections::BTreeMap;

use bazaar_runtime::Caller;
use bazaar_schema::{
    Retryable, TransactionError, retry_transaction, take_rows, transaction_errors,
};
use bazaar_subjects::catalog::{
    ProductChange, Products, Reservation, ReserveStockRequest, ReservedLine, RestockRequest,
    StockLine,
};
use bazaar_subjects::{ErrorEnvelope, Validator};
use serde::Deserialize;

use crate::CatalogError;
use crate::store::{CatalogStore, StoredProduct, is_id};

/// Lines per reservation, and products per look-up.
const MAX_LINES: usize = 100;
const MAX_IDS: usize = 200;
/// How often a transaction that lost a write race is tried again.
const RETRIES: u32 = 30;

#[derive(Deserialize)]
struct StoredReservation {
    release_hash: String,
    lines: Vec<ReservedLine>,
    released: bool,
}

fn owner_of(caller: &Caller) -> Result<String, CatalogError> {
    caller
        .account_id()
        .map(str::to_owned)
        .ok_or_else(|| CatalogError::Upstream(ErrorEnvelope::unauthorized("sign in to buy")))
}

fn busy() -> CatalogError {
    CatalogError::Upstream(ErrorEnvelope::new(
        bazaar_subjects::ErrorCode::Unavailable,
        "the shop is very busy right now; please try again",
    ))
}

/// A write that still collided after every retry is a 503, not a 500.
fn exhausted(e: CatalogError) -> CatalogError {
    if e.is_retryable() { busy() } else { e }
}

impl CatalogStore {
    pub async fn by_ids(&self, ids: &[String]) -> Result<Products, CatalogError> {
        let mut v = Validator::default();
        v.check(ids.len() <= MAX_IDS, "ids", "at most 200 products at once");
        v.finish().map_err(CatalogError::Invalid)?;
        // Carts priced at the same moment share one read.
        let read = self.lookups.write(ids.to_vec()).await.map_err(|_| busy())?;
        Ok(Products {
            items: read?.into_iter().map(|r| r.product).collect(),
        })
    }

    async fn load_many(&self, ids: &[String]) -> Result<Vec<StoredProduct>, CatalogError> {
        let ids: Vec<&String> = ids.iter().filter(|i| is_id(i)).collect();
        let rows = crate::store::products_by_id(self.db(), &ids).await?;
        Ok(rows.into_iter().map(StoredProduct::now).collect())
    }

    async fn load_reservation(&self, id: &str) -> Result<Option<StoredReservation>, CatalogError> {
        let mut res = self
            .db()
            .query(
                "SELECT release_hash, lines, released FROM type::record('stock_reservation', $id)",
            )
            .bind(("id", id.to_owned()))
            .await?
            .check()?;
        Ok(take_rows(&mut res, 0)?.into_iter().next())
    }

    pub async fn reserve(
        &self,
        caller: &Caller,
        req: &ReserveStockRequest,
    ) -> Result<Reservation, CatalogError> {
        // The same product twice is one line.
        let mut wanted: BTreeMap<String, i64> = BTreeMap::new();
        for StockLine {
            product_id,
            quantity,
        } in &req.lines
        {
            *wanted.entry(product_id.clone()).or_default() += quantity;
        }
        let mut v = Validator::default();
        v.check(
            is_id(&req.reservation_id),
            "reservation_id",
            "use letters and digits, at most 64",
        )
        .check(
            (16..=128).contains(&req.release_token.len()),
            "release_token",
            "a release token of 16 to 128 characters",
        )
        .check(
            !wanted.is_empty() && wanted.len() <= MAX_LINES,
            "lines",
            "reserve 1 to 100 products",
        )
        .check(
            wanted
                .iter()
                .all(|(id, q)| is_id(id) && (1..=999).contains(q)),
            "lines",
            "each line needs a product id and a quantity of 1 to 999",
        );
        v.finish().map_err(CatalogError::Invalid)?;

        let owner = match owner_of(caller) {
            Ok(owner) => owner,
            // Only an account makes a reservation; a payment finishing
            // later takes up the one made at checkout.
            Err(anonymous) => {
                return match self.existing_reservation(req).await? {
                    Some(done) => Ok(done),
                    None => Err(anonymous),
                };
            }
        };
        let ids: Vec<String> = wanted.keys().cloned().collect();
        // The common case first: a new reservation, one transaction. A retry
        // of a reservation already made is told apart by its id, when the
        // stock or the write says something.
        let reserved = retry_transaction(RETRIES, || self.try_reserve(req, &owner, &ids, &wanted));
        reserved.await.map_err(exhausted)
    }

    /// One try at a reservation (see [`RESERVE_SQL`]).
    async fn try_reserve(
        &self,
        req: &ReserveStockRequest,
        owner: &str,
        ids: &[String],
        wanted: &BTreeMap<String, i64>,
    ) -> Result<Reservation, CatalogError> {
        let plan: Vec<serde_json::Value> = wanted
            .iter()
            .map(|(id, quantity)| serde_json::json!({ "product_id": id, "quantity": quantity }))
            .collect();
        let reservation = serde_json::json!({
            "plan": plan,
            "quantities": wanted,
            "rid": req.reservation_id,
            "owner": owner,
            "release_hash": token_hash(&req.release_token),
            "ids": ids,
        });
        let reserved = self
            .reservations
            .write(reservation)
            .await
            .map_err(|_| busy())?;
        match reserved {
            Ok((lines, after)) => {
                self.recache(after).await;
                Ok(Reservation {
                    reservation_id: req.reservation_id.clone(),
                    lines,
                    released: false,
                })
            }
            // A retry of a reservation already made is told apart by its id.
            Err(CatalogError::Write(TransactionError::Exists(_))) => {
                match self.existing_reservation(req).await? {
                    Some(done) => Ok(done),
                    None => Err(CatalogError::Raced),
                }
            }
            // Short: because this very reservation took the stock, because
            // someone bought it first or the seller changed it (a 409 naming
            // every problem), or not any more (try again).
            Err(CatalogError::Write(TransactionError::Thrown(code)))
                if code.starts_with("short:") =>
            {
                if let Some(done) = self.existing_reservation(req).await? {
                    return Ok(done);
                }
                let products = self.load_many(ids).await?;
                shortages(&products, wanted)?;
                Err(CatalogError::Raced)
            }
            Err(e) => Err(e),
        }
    }

    pub async fn release(&self, id: &str, token: &str) -> Result<Reservation, CatalogError> {
        let released = retry_transaction(RETRIES, || self.try_release(id, token));
        released.await.map_err(exhausted)
    }

    async fn try_release(&self, id: &str, token: &str) -> Result<Reservation, CatalogError> {
        let Some(existing) = self.load_reservation(id).await? else {
            return Err(CatalogError::NoSuchProduct(id.to_owned()));
        };
        if existing.release_hash != token_hash(token) {
            return Err(CatalogError::NoSuchProduct(id.to_owned()));
        }
        if existing.released {
            return Ok(Reservation {
                reservation_id: id.to_owned(),
                lines: existing.lines,
                released: true,
            });
        }
        let result = self
            .db()
            .query(
                "BEGIN TRANSACTION;
                 LET $r = (SELECT released, lines FROM ONLY type::record('stock_reservation', $rid));
                 IF $r.released = true { THROW 'already released'; };
                 FOR $l IN $r.lines {
                    UPDATE type::record('product', $l.product_id)
                        SET stock += $l.quantity, revision += 1, updated_at = time::now() RETURN NONE;
                 };
                 UPDATE type::record('stock_reservation', $rid) SET released = true, released_at = time::now() RETURN NONE;
                 COMMIT TRANSACTION;",
            )
            .bind(("rid", id.to_owned()))
            .await;
        match transaction_errors(result) {
            Ok(()) => {
                let ids: Vec<String> = existing
                    .lines
                    .iter()
                    .map(|l| l.product_id.clone())
                    .collect();
                self.refresh(&ids).await?;
                Ok(Reservation {
                    reservation_id: id.to_owned(),
                    lines: existing.lines,
                    released: true,
                })
            }
            // Released by a concurrent call: the next try reads that.
            Err(TransactionError::Thrown(code)) if code == "already released" => {
                Err(CatalogError::Raced)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Returns some reserved lines to stock, once per restock id, never more
    /// than was reserved, and not at all once the whole reservation went back.
    pub async fn restock(&self, req: &RestockRequest) -> Result<(), CatalogError> {
        let Some(existing) = self.load_reservation(&req.reservation_id).await? else {
            return Err(CatalogError::NoSuchProduct(req.reservation_id.clone()));
        };
        if existing.release_hash != token_hash(&req.release_token) {
            return Err(CatalogError::NoSuchProduct(req.reservation_id.clone()));
        }
        let within = req.lines.iter().all(|l| {
            l.quantity >= 1
                && existing
                    .lines
                    .iter()
                    .any(|r| r.product_id == l.product_id && l.quantity <= r.quantity)
        });
        let mut v = Validator::default();
        v.check(
            within,
            "lines",
            "only reserved lines, up to their quantities",
        )
        .check(
            is_id(&req.restock_id.replace('-', "")),
            "restock_id",
            "letters, digits and dashes",
        );
        v.finish().map_err(CatalogError::Invalid)?;
        let lines = serde_json::to_value(&req.lines)?;
        let restocked = retry_transaction(RETRIES, || async {
            let result = self
                .db()
                .query(
                    "BEGIN TRANSACTION;
                     LET $r = (SELECT released, restocked FROM ONLY type::record('stock_reservation', $rid));
                     IF $r.released = true OR $restock IN $r.restocked { THROW 'already restocked'; };
                     FOR $l IN $lines {
                        UPDATE type::record('product', $l.product_id)
                            SET stock += $l.quantity, revision += 1, updated_at = time::now() RETURN NONE;
                     };
                     UPDATE type::record('stock_reservation', $rid) SET restocked += $restock RETURN NONE;
                     COMMIT TRANSACTION;",
                )
                .bind(("rid", req.reservation_id.clone()))
                .bind(("restock", req.restock_id.clone()))
                .bind(("lines", lines.clone()))
                .await;
            match transaction_errors(result) {
                Ok(()) => {
                    let ids: Vec<String> = req.lines.iter().map(|l| l.product_id.clone()).collect();
                    self.refresh(&ids).await
                }
                Err(TransactionError::Thrown(code)) if code == "already restocked" => Ok(()),
                Err(e) => Err(e.into()),
            }
        });
        restocked.await.map_err(exhausted)
    }

    /// Re-caches products whose stock moved and invalidates searches.
    async fn refresh(&self, ids: &[String]) -> Result<(), CatalogError> {
        let rows = self.load_many(ids).await?;
        self.recache(rows).await;
        Ok(())
    }

    /// Caches products as they are after a stock change (read inside the
    /// change's transaction) and announces the change, so the search index
    /// sees stock (and sold-out products) move.
    async fn recache(&self, rows: Vec<StoredProduct>) {
        for p in rows.into_iter().map(StoredProduct::now) {
            self.after_change(&p, ProductChange::Updated).await;
        }
    }

    /// The reservation made earlier under this id, for whoever holds its
    /// release token (a retried checkout gets the same answer).
    async fn existing_reservation(
        &self,
        req: &ReserveStockRequest,
    ) -> Result<Option<Reservation>, CatalogError> {
        let Some(existing) = self.load_reservation(&req.reservation_id).await? else {
            return Ok(None);
        };
        if existing.release_hash != token_hash(&req.release_token) {
            return Err(CatalogError::Conflict(
                "that reservation id is taken".into(),
            ));
        }
        Ok(Some(Reservation {
            reservation_id: req.reservation_id.clone(),
            lines: existing.lines,
            released: existing.released,
        }))
    }
}

fn token_hash(token: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Whether the lines can be sold now: a 409 naming every problem if not.
fn shortages(
    products: &[StoredProduct],
    wanted: &BTreeMap<String, i64>,
) -> Result<(), CatalogError> {
    let mut problems = Vec::new();
    for (id, quantity) in wanted {
        let Some(stored) = products.iter().find(|p| &p.product.id == id) else {
            problems.push(format!("a product in your cart ({id}) no longer exists"));
            continue;
        };
        let p = &stored.product;
        if !p.shown_to_buyers() {
            problems.push(format!("“{}” is no longer for sale", p.title));
        } else if p.stock == 0 {
            problems.push(format!("“{}” is out of stock", p.title));
        } else if p.stock < *quantity {
            problems.push(format!("only {} of “{}” left", p.stock, p.title));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(CatalogError::OutOfStock(problems.join("; ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::RESERVE_SQL;
    use bazaar_schema::committed;
    use serde_json::json;

    #[tokio::test]
    async fn the_reservation_transaction_takes_stock_only_while_it_lasts() {
        let db = crate::test_support::db_with_product(100, 5).await;
        let attempt = |i: usize| {
            let db = db.clone();
            async move {
                for _ in 0..RETRIES {
                    let r = db
                        .query(RESERVE_SQL.as_str())
                        .bind(("plan", json!([{ "product_id": "p1", "quantity": 1 }])))
                        .bind(("quantities", json!({ "p1": 1 })))
                        .bind(("rid", format!("r{i}")))
                        .bind(("owner", "o"))
                        .bind(("release_hash", token_hash("t")))
                        .bind(("ids", json!(["p1"])))
                        .await;
                    match committed(r) {
                        Ok(mut res) => {
                            // The reservation's lines are the product as sold;
                            // the last statement reads it back as the
                            // reservation left it, for the cache.
                            let last = bazaar_schema::before_commit(&res);
                            let lines: Vec<Vec<ReservedLine>> =
                                take_rows(&mut res, last - 1).unwrap();
                            let after: Vec<StoredProduct> = take_rows(&mut res, last).unwrap();
                            let line = &lines[0][0];
                            assert_eq!(
                                (line.product_id.as_str(), line.quantity, line.unit_price),
                                ("p1", 1, 100)
                            );
                            assert_eq!(
                                (line.seller.as_str(), line.category.as_deref()),
                                ("s", Some("c"))
                            );
                            assert_eq!(after.len(), 1);
                            assert!((0..5).contains(&after[0].product.stock));
                            return Ok(());
                        }
                        Err(e) if e.is_retryable() => continue,
                        Err(e) => return Err(e),
                    }
                }
                Err(TransactionError::Other("gave up".to_owned()))
            }
        };
        let results = futures::future::join_all((0..20).map(attempt)).await;
        let ok = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(
            ok,
            5,
            "{:?}",
            results.iter().filter_map(|r| r.as_ref().err()).next()
        );
        for r in results.iter().filter_map(|r| r.as_ref().err()) {
            assert_eq!(r.thrown(), Some("short:p1"), "{r:?}");
        }
        // What was stored is what was answered.
        let mut res = db
            .query("SELECT VALUE lines FROM stock_reservation")
            .await
            .unwrap();
        let stored: Vec<Vec<ReservedLine>> = take_rows(&mut res, 0).unwrap();
        assert_eq!(stored.len(), 5);
        assert!(stored.iter().all(|l| l.len() == 1 && l[0].title == "P"));
    }
}
