//! Carts and wishlists. A cart is re-priced from the catalog every time it
//! is read: prices, stock and availability are the catalog's now, and the
//! buyer is told what changed since they last looked.

use std::collections::BTreeMap;

use bazaar_outbox::Outgoing;
use bazaar_runtime::{Caller, RequestMeta};
use bazaar_schema::{TransactionError, take_rows};
use bazaar_subjects::catalog::{GetProductsByIds, Product, ProductIds};
use bazaar_subjects::orders::{
    AddToCart, AppliedCoupon, ApplyCoupon, Cart, CartItemAdded, CartLine, CartNotice, CartShop,
    Wishlist, WishlistChange, WishlistItem, WishlistItemAdded,
};
use bazaar_subjects::{ErrorEnvelope, FieldError, Validator};
use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::OrdersError;
use crate::coupons::{self, StoredCoupon};
use crate::store::{OrdersStore, new_id, owner_key};

const MAX_LINES: usize = 100;
const MAX_QUANTITY: i64 = 99;
const MAX_WISHLIST: usize = 200;

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct LineRow {
    pub line_id: String,
    pub product_id: String,
    pub color: String,
    pub size: String,
    pub quantity: i64,
    pub seen_price: Option<i64>,
}

fn now() -> String {
    OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .unwrap_or_default()
}

fn is_live(p: &Product) -> bool {
    p.shown_to_buyers()
}

fn option(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_owned())
}

/// A cart's lines, oldest first, as [`LineRow`]s.
const LINE_ROWS: &str =
    "SELECT record::id(id) AS line_id, product_id, color, size, quantity, seen_price, added_at
    FROM cart_line WHERE owner = $owner ORDER BY added_at";

/// The discount code on a cart, if any.
const CART_COUPON: &str = "SELECT VALUE coupon FROM type::record('cart', $owner)";

/// Adds to a cart in one transaction: to the line of the same product and
/// options, else to a new line unless the cart holds [`MAX_LINES`] already
/// (throws `cart full`); then reads the cart back, its lines and its code.
static ADD_SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    "BEGIN TRANSACTION;
     LET $line = (SELECT VALUE id FROM cart_line
        WHERE owner = $owner AND product_id = $product AND color = $color AND size = $size)[0];
     IF $line {
        UPDATE $line SET quantity = math::min([quantity + $q, $max, $stock]) RETURN NONE;
     } ELSE IF count(SELECT VALUE id FROM cart_line WHERE owner = $owner) >= $max_lines {
        THROW 'cart full';
     } ELSE {
        CREATE type::record('cart_line', $id) SET owner = $owner, product_id = $product,
            color = $color, size = $size, quantity = math::min([$q, $stock]), seen_price = $price RETURN NONE;
     };
     OUTBOX_WRITE
     LINE_ROWS;
     CART_COUPON;
     COMMIT TRANSACTION;"
    .replace("OUTBOX_WRITE", bazaar_outbox::WRITE)
    .replace("LINE_ROWS", LINE_ROWS)
    .replace("CART_COUPON", CART_COUPON)
});

/// The answers of [`LINE_ROWS`] (statement `at`) and [`CART_COUPON`] (the
/// one after it) in a query's results.
fn lines_and_coupon_at(
    res: &mut surrealdb::IndexedResults,
    at: usize,
) -> Result<(Vec<LineRow>, Option<String>), OrdersError> {
    let lines = take_rows(res, at)?;
    let coupon: Vec<Option<String>> = res.take(at + 1)?;
    Ok((lines, coupon.into_iter().next().flatten()))
}

impl OrdersStore {
    pub(crate) async fn products(
        &self,
        meta: &RequestMeta,
        ids: Vec<String>,
    ) -> Result<Vec<Product>, OrdersError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        Ok(self
            .call::<GetProductsByIds>(meta, &ProductIds { ids })
            .await?
            .items)
    }

    pub(crate) async fn lines(&self, owner: &str) -> Result<Vec<LineRow>, OrdersError> {
        let mut res = self
            .db
            .query(LINE_ROWS)
            .bind(("owner", owner.to_owned()))
            .await?
            .check()?;
        Ok(take_rows(&mut res, 0)?)
    }

    /// A cart's lines and its code, read together (one transaction).
    async fn lines_and_coupon(
        &self,
        owner: &str,
    ) -> Result<(Vec<LineRow>, Option<String>), OrdersError> {
        let mut res = self
            .db
            .query(format!(
                "BEGIN TRANSACTION; {LINE_ROWS}; {CART_COUPON}; COMMIT TRANSACTION;"
            ))
            .bind(("owner", owner.to_owned()))
            .await?
            .check()?;
        // BEGIN answers as statement 0.
        lines_and_coupon_at(&mut res, 1)
    }

    async fn cart_coupon(&self, owner: &str) -> Result<Option<String>, OrdersError> {
        let mut res = self
            .db
            .query(CART_COUPON)
            .bind(("owner", owner.to_owned()))
            .await?
            .check()?;
        let v: Vec<Option<String>> = res.take(0)?;
        Ok(v.into_iter().next().flatten())
    }

    async fn set_coupon(&self, owner: &str, code: Option<String>) -> Result<(), OrdersError> {
        self.db
            .query("UPSERT type::record('cart', $owner) SET coupon = $code, updated_at = time::now() RETURN NONE")
            .bind(("owner", owner.to_owned()))
            .bind(("code", code))
            .await?
            .check()?;
        Ok(())
    }

    /// The cart as it stands now, with what changed; quantities above the
    /// stock are lowered to it, and what the buyer has now seen is recorded.
    pub async fn cart(&self, meta: &RequestMeta, owner: &str) -> Result<Cart, OrdersError> {
        let (rows, coupon) = self.lines_and_coupon(owner).await?;
        let ids: Vec<String> = rows.iter().map(|r| r.product_id.clone()).collect();
        let products = self.products(meta, ids).await?;
        self.cart_of(meta, owner, rows, coupon, &products).await
    }

    /// The cart from its lines and the products they hold, as the catalog
    /// has them now (see [`OrdersStore::cart`]).
    async fn cart_of(
        &self,
        meta: &RequestMeta,
        owner: &str,
        rows: Vec<LineRow>,
        coupon: Option<String>,
        products: &[Product],
    ) -> Result<Cart, OrdersError> {
        let by_id: BTreeMap<&str, &Product> = products.iter().map(|p| (p.id.as_str(), p)).collect();
        let mut notices = Vec::new();
        let mut lines = Vec::new();
        for row in rows {
            let Some(p) = by_id.get(row.product_id.as_str()) else {
                notices.push(CartNotice {
                    line_id: row.line_id.clone(),
                    message: "an item in your cart no longer exists and was removed".into(),
                });
                self.remove_line_row(owner, &row.line_id).await?;
                continue;
            };
            let mut quantity = row.quantity;
            let live = is_live(p);
            if !live {
                notices.push(CartNotice {
                    line_id: row.line_id.clone(),
                    message: format!("“{}” is no longer for sale", p.title),
                });
            } else if p.stock == 0 {
                notices.push(CartNotice {
                    line_id: row.line_id.clone(),
                    message: format!("“{}” is out of stock", p.title),
                });
            } else if quantity > p.stock {
                quantity = p.stock;
                notices.push(CartNotice {
                    line_id: row.line_id.clone(),
                    message: format!(
                        "only {} of “{}” left: your quantity was lowered",
                        p.stock, p.title
                    ),
                });
            }
            if let Some(seen) = row.seen_price
                && seen != p.price
            {
                notices.push(CartNotice {
                    line_id: row.line_id.clone(),
                    message: format!(
                        "the price of “{}” changed from {} to {}",
                        p.title,
                        p.money(seen),
                        p.price()
                    ),
                });
            }
            if quantity != row.quantity || row.seen_price != Some(p.price) {
                self.db
                    .query("UPDATE type::record('cart_line', $id) SET quantity = $q, seen_price = $price RETURN NONE")
                    .bind(("id", row.line_id.clone()))
                    .bind(("q", quantity.max(1)))
                    .bind(("price", p.price))
                    .await?
                    .check()?;
            }
            let available = live && p.stock > 0;
            lines.push(CartLine {
                line_id: row.line_id,
                product_id: p.id.clone(),
                slug: p.slug.clone(),
                title: p.title.clone(),
                image: p.images.first().cloned(),
                shop_id: p.shop_id.clone(),
                shop_name: p.shop_name.clone(),
                color: option(&row.color),
                size: option(&row.size),
                quantity: quantity.max(1),
                unit_price: p.price,
                line_total: if available {
                    p.price * quantity.max(1)
                } else {
                    0
                },
                currency: p.currency,
                available,
                stock: p.stock,
                cash_on_delivery: p.cash_on_delivery,
            });
        }
        let shop_ids: Vec<String> = {
            let mut ids: Vec<String> = lines.iter().map(|l| l.shop_id.clone()).collect();
            ids.sort();
            ids.dedup();
            ids
        };
        let coupon = match coupon {
            Some(code) => match coupons::find(self, &code, &shop_ids).await? {
                Some(c) => Some(c),
                None => {
                    notices.push(CartNotice {
                        line_id: String::new(),
                        message: format!(
                            "the code {code} no longer applies to your cart and was removed"
                        ),
                    });
                    self.set_coupon(owner, None).await?;
                    None
                }
            },
            None => None,
        };
        let mut cart = assemble(lines, notices, coupon.as_ref(), self.config.test_payments);
        if self.config.stripe_enabled() {
            let ids = cart.shops.iter().map(|s| s.shop_id.clone()).collect();
            let card = self.payout_accounts(meta, ids).await?;
            for s in &mut cart.shops {
                s.accepts_card = card.contains_key(&s.shop_id);
            }
        }
        if let (Some(c), None) = (&coupon, &cart.coupon) {
            // It stopped applying (expired, used up, shop no longer in the cart).
            let why = coupons::refusal(c, &cart, OffsetDateTime::now_utc());
            cart.notices.push(CartNotice {
                line_id: String::new(),
                message: format!(
                    "the code {} no longer applies: {}",
                    c.code,
                    why.unwrap_or_default()
                ),
            });
        }
        Ok(cart)
    }

    async fn remove_line_row(&self, owner: &str, line_id: &str) -> Result<(), OrdersError> {
        self.db
            .query("DELETE type::record('cart_line', $id) WHERE owner = $owner RETURN NONE")
            .bind(("id", line_id.to_owned()))
            .bind(("owner", owner.to_owned()))
            .await?
            .check()?;
        Ok(())
    }

    pub async fn add_to_cart(
        &self,
        meta: &RequestMeta,
        caller: &Caller,
        req: &AddToCart,
    ) -> Result<Cart, OrdersError> {
        let owner = owner_key(caller, req.guest_id.as_deref())?;
        let quantity = req.quantity.unwrap_or(1);
        let color = req
            .color
            .as_deref()
            .map(str::trim)
            .unwrap_or("")
            .to_lowercase();
        let size = req.size.as_deref().map(str::trim).unwrap_or("").to_owned();
        // The new product first; the cart's others, which the reply prices,
        // only once the add shows there are any (most adds go to a cart
        // holding nothing else, as every checkout empties it).
        let mut products = self.products(meta, vec![req.product_id.clone()]).await?;
        let product = products
            .iter()
            .find(|p| p.id == req.product_id)
            .filter(|p| is_live(p))
            .cloned()
            .ok_or_else(|| OrdersError::NotFound("there is no such product for sale".into()))?;
        let mut v = Validator::default();
        v.check(
            (1..=MAX_QUANTITY).contains(&quantity),
            "quantity",
            "choose a quantity of 1 to 99",
        )
        .check(
            product.colors.is_empty() || product.colors.contains(&color),
            "color",
            "choose one of the product's colors",
        )
        .check(
            product.sizes.is_empty() || product.sizes.contains(&size),
            "size",
            "choose one of the product's sizes",
        )
        .check(
            product.stock > 0,
            "quantity",
            "this product is out of stock",
        );
        v.finish().map_err(OrdersError::Invalid)?;
        // One line per product and options: adding again adds to it, in one
        // transaction so two adds at once never make two lines.
        let outbox = bazaar_outbox::bind(&[Outgoing::event(
            &CartItemAdded {
                product_id: product.id.clone(),
                account_id: caller.account_id().map(str::to_owned),
                quantity,
                at: now(),
            },
            &format!("cart-add-{}", new_id()),
        )]);
        let added = bazaar_schema::retry_transaction(11, || async {
            let result = self
                .db
                .query(ADD_SQL.as_str())
                .bind(("owner", owner.clone()))
                .bind(("product", product.id.clone()))
                .bind(("color", color.clone()))
                .bind(("size", size.clone()))
                .bind(("q", quantity))
                .bind(("max", MAX_QUANTITY))
                .bind(("max_lines", MAX_LINES as i64))
                .bind(("stock", product.stock))
                .bind(("price", product.price))
                .bind(("id", new_id()))
                .bind(("outbox", outbox.clone()))
                .await;
            // The cart as this transaction left it: its lines, then its code.
            let mut res = match bazaar_schema::committed(result) {
                Err(TransactionError::Thrown(code)) if code == "cart full" => {
                    return Err(OrdersError::Conflict(
                        "your cart is full (100 different items)".into(),
                    ));
                }
                other => other?,
            };
            let last = bazaar_schema::before_commit(&res);
            lines_and_coupon_at(&mut res, last - 1)
        });
        let (rows, coupon) = added.await?;
        self.outbox.written();
        let others: Vec<String> = rows
            .iter()
            .map(|l| l.product_id.clone())
            .filter(|id| *id != product.id)
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        products.extend(self.products(meta, others).await?);
        self.cart_of(meta, &owner, rows, coupon, &products).await
    }

    pub async fn update_line(
        &self,
        meta: &RequestMeta,
        owner: &str,
        line_id: &str,
        quantity: i64,
    ) -> Result<Cart, OrdersError> {
        if quantity == 0 {
            return self.remove_line(meta, owner, line_id).await;
        }
        let mut v = Validator::default();
        v.check(
            (1..=MAX_QUANTITY).contains(&quantity),
            "quantity",
            "choose a quantity of 0 (remove) to 99",
        );
        v.finish().map_err(OrdersError::Invalid)?;
        let mut res = self
            .db
            .query("UPDATE type::record('cart_line', $id) SET quantity = $q WHERE owner = $owner RETURN VALUE id")
            .bind(("id", line_id.to_owned()))
            .bind(("owner", owner.to_owned()))
            .bind(("q", quantity))
            .await?
            .check()?;
        let updated: Vec<serde_json::Value> = res.take(0)?;
        if updated.is_empty() {
            return Err(OrdersError::NotFound(
                "that item is not in your cart".into(),
            ));
        }
        self.cart(meta, owner).await
    }

    pub async fn remove_line(
        &self,
        meta: &RequestMeta,
        owner: &str,
        line_id: &str,
    ) -> Result<Cart, OrdersError> {
        self.remove_line_row(owner, line_id).await?;
        self.cart(meta, owner).await
    }

    pub async fn apply_coupon(
        &self,
        meta: &RequestMeta,
        caller: &Caller,
        req: &ApplyCoupon,
    ) -> Result<Cart, OrdersError> {
        let owner = owner_key(caller, req.guest_id.as_deref())?;
        let code = req.code.trim().to_uppercase();
        if code.is_empty() {
            self.set_coupon(&owner, None).await?;
            return self.cart(meta, &owner).await;
        }
        let cart = self.cart(meta, &owner).await?;
        let shops: Vec<String> = cart.shops.iter().map(|s| s.shop_id.clone()).collect();
        let coupon = coupons::find(self, &code, &shops).await?;
        let refusal = match &coupon {
            None => Some(coupons::NOT_FOR_THIS_CART.to_owned()),
            Some(c) => coupons::refusal(c, &cart, OffsetDateTime::now_utc()),
        };
        if let Some(why) = refusal {
            return Err(OrdersError::Invalid(ErrorEnvelope::validation(vec![
                FieldError {
                    field: "code".into(),
                    message: why,
                },
            ])));
        }
        self.set_coupon(&owner, Some(code)).await?;
        self.cart(meta, &owner).await
    }

    /// Moves a guest's lines into the account's cart (adding quantities).
    pub async fn merge(
        &self,
        meta: &RequestMeta,
        caller: &Caller,
        guest_id: &str,
    ) -> Result<Cart, OrdersError> {
        let owner = owner_key(caller, None)?;
        let guest = owner_key(&Caller::Anonymous, Some(guest_id))?;
        let guest_lines = self.lines(&guest).await?;
        for line in guest_lines {
            self.db
                .query(
                    "LET $line = (SELECT VALUE id FROM cart_line
                        WHERE owner = $owner AND product_id = $product AND color = $color AND size = $size)[0];
                     IF $line {
                        UPDATE $line SET quantity = math::min([quantity + $q, $max]) RETURN NONE;
                        DELETE type::record('cart_line', $guest_line) RETURN NONE;
                     } ELSE {
                        UPDATE type::record('cart_line', $guest_line) SET owner = $owner RETURN NONE;
                     };",
                )
                .bind(("owner", owner.clone()))
                .bind(("product", line.product_id.clone()))
                .bind(("color", line.color.clone()))
                .bind(("size", line.size.clone()))
                .bind(("q", line.quantity))
                .bind(("max", MAX_QUANTITY))
                .bind(("guest_line", line.line_id.clone()))
                .await?
                .check()?;
        }
        if let Some(code) = self.cart_coupon(&guest).await?
            && self.cart_coupon(&owner).await?.is_none()
        {
            self.set_coupon(&owner, Some(code)).await?;
        }
        self.db
            .query("DELETE type::record('cart', $guest) RETURN NONE; UPDATE wishlist SET owner = $owner WHERE owner = $guest RETURN NONE;")
            .bind(("guest", guest.clone()))
            .bind(("owner", owner.clone()))
            .await
            .map(|_| ())
            .unwrap_or_else(|e| tracing::warn!(error = %e, "guest wishlist not merged"));
        self.cart(meta, &owner).await
    }

    pub async fn wishlist(&self, meta: &RequestMeta, owner: &str) -> Result<Wishlist, OrdersError> {
        #[derive(Deserialize)]
        struct Row {
            product_id: String,
            added_at: String,
        }
        let mut res = self
            .db
            .query("SELECT product_id, <string>added_at AS added_at FROM wishlist WHERE owner = $owner ORDER BY added_at DESC")
            .bind(("owner", owner.to_owned()))
            .await?
            .check()?;
        let rows: Vec<Row> = take_rows(&mut res, 0)?;
        let products = self
            .products(meta, rows.iter().map(|r| r.product_id.clone()).collect())
            .await?;
        let items = rows
            .into_iter()
            .filter_map(|r| {
                let p = products.iter().find(|p| p.id == r.product_id)?;
                Some(WishlistItem {
                    product_id: p.id.clone(),
                    slug: p.slug.clone(),
                    title: p.title.clone(),
                    image: p.images.first().cloned(),
                    price: p.price,
                    currency: p.currency,
                    available: is_live(p) && p.stock > 0,
                    added_at: r.added_at,
                })
            })
            .collect();
        Ok(Wishlist { items })
    }

    pub async fn wish(
        &self,
        meta: &RequestMeta,
        caller: &Caller,
        req: &WishlistChange,
        add: bool,
    ) -> Result<Wishlist, OrdersError> {
        let owner = owner_key(caller, req.guest_id.as_deref())?;
        if add {
            let exists = self
                .products(meta, vec![req.product_id.clone()])
                .await?
                .into_iter()
                .any(|p| is_live(&p));
            if !exists {
                return Err(OrdersError::NotFound(
                    "there is no such product for sale".into(),
                ));
            }
            let count = self.wishlist(meta, &owner).await?.items.len();
            if count >= MAX_WISHLIST {
                return Err(OrdersError::Conflict(
                    "your wishlist is full (200 items)".into(),
                ));
            }
            // Announced only when it was not on the list already.
            let outbox = bazaar_outbox::bind(&[Outgoing::event(
                &WishlistItemAdded {
                    product_id: req.product_id.clone(),
                    account_id: caller.account_id().map(str::to_owned),
                    at: now(),
                },
                &format!("wish-{owner}-{}", req.product_id),
            )]);
            let result = self
                .db
                .query(format!(
                    "BEGIN TRANSACTION;
                     IF !(SELECT VALUE id FROM wishlist WHERE owner = $owner AND product_id = $product)[0] {{
                        CREATE wishlist SET owner = $owner, product_id = $product RETURN NONE;
                        {}
                     }};
                     COMMIT TRANSACTION;",
                    bazaar_outbox::WRITE
                ))
                .bind(("owner", owner.clone()))
                .bind(("product", req.product_id.clone()))
                .bind(("outbox", outbox))
                .await;
            bazaar_schema::transaction_errors(result)?;
            self.outbox.written();
        } else {
            self.db
                .query("DELETE wishlist WHERE owner = $owner AND product_id = $product RETURN NONE")
                .bind(("owner", owner.clone()))
                .bind(("product", req.product_id.clone()))
                .await?
                .check()?;
        }
        self.wishlist(meta, &owner).await
    }
}

/// Groups lines by shop, applies the coupon where it applies, adds it up.
pub(crate) fn assemble(
    lines: Vec<CartLine>,
    notices: Vec<CartNotice>,
    coupon: Option<&StoredCoupon>,
    test_payments: bool,
) -> Cart {
    let currency = lines.first().map(|l| l.currency).unwrap_or_default();
    let mut shops: Vec<CartShop> = Vec::new();
    for line in lines.iter().filter(|l| l.available) {
        match shops.iter_mut().find(|s| s.shop_id == line.shop_id) {
            Some(s) => s.subtotal += line.line_total,
            None => shops.push(CartShop {
                shop_id: line.shop_id.clone(),
                shop_name: line.shop_name.clone(),
                subtotal: line.line_total,
                discount: 0,
                total: 0,
                accepts_card: test_payments,
            }),
        }
    }
    let now = OffsetDateTime::now_utc();
    let mut applied = None;
    if let Some(c) = coupon
        && let Some(shop) = shops.iter_mut().find(|s| s.shop_id == c.shop_id)
        && coupons::usable(c, shop.subtotal, now).is_ok()
    {
        shop.discount = coupons::discount(c.kind, c.amount, shop.subtotal);
        applied = Some(AppliedCoupon {
            code: c.code.clone(),
            shop_id: c.shop_id.clone(),
            discount: shop.discount,
        });
    }
    for s in &mut shops {
        s.total = s.subtotal - s.discount;
    }
    let subtotal = shops.iter().map(|s| s.subtotal).sum();
    let discount = shops.iter().map(|s| s.discount).sum();
    Cart {
        item_count: lines
            .iter()
            .filter(|l| l.available)
            .map(|l| l.quantity)
            .sum(),
        lines,
        shops,
        coupon: applied,
        subtotal,
        discount,
        total: subtotal - discount,
        currency,
        notices,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Adds one of `product` to `owner`'s cart as [`ADD_SQL`] does: the
    /// cart's lines after it.
    async fn add(
        db: &bazaar_schema::Db,
        owner: &str,
        product: &str,
    ) -> Result<Vec<LineRow>, TransactionError> {
        let result = db
            .query(ADD_SQL.as_str())
            .bind(("owner", owner.to_owned()))
            .bind(("product", product.to_owned()))
            .bind(("color", String::new()))
            .bind(("size", String::new()))
            .bind(("q", 1))
            .bind(("max", MAX_QUANTITY))
            .bind(("max_lines", MAX_LINES as i64))
            .bind(("stock", 5))
            .bind(("price", 100))
            .bind(("id", new_id()))
            .bind(("outbox", bazaar_outbox::bind(&[])))
            .await;
        let mut res = bazaar_schema::committed(result)?;
        let last = bazaar_schema::before_commit(&res);
        Ok(lines_and_coupon_at(&mut res, last - 1).unwrap().0)
    }

    #[tokio::test]
    async fn a_full_cart_takes_more_of_what_it_holds_but_nothing_new() {
        let db = bazaar_schema::connect("mem://", None).await.unwrap();
        bazaar_schema::migrate(&db).await.unwrap();
        for i in 0..MAX_LINES {
            add(&db, "account:ann", &format!("p{i}")).await.unwrap();
        }
        let more = add(&db, "account:ann", "p0").await.unwrap();
        assert_eq!(more.len(), MAX_LINES);
        assert!(more.iter().any(|l| l.product_id == "p0" && l.quantity == 2));

        let refused = add(&db, "account:ann", "p-new").await.unwrap_err();
        assert!(
            matches!(&refused, TransactionError::Thrown(code) if code == "cart full"),
            "{refused:?}"
        );
        // Nothing of the refused add stays, and other carts are not full.
        let lines = add(&db, "account:ann", "p1").await.unwrap();
        assert!(lines.iter().all(|l| l.product_id != "p-new"));
        assert_eq!(add(&db, "account:bob", "p-new").await.unwrap().len(), 1);
    }
}
