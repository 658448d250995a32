//! Discount codes: a seller's, for their own shop's items only.

use bazaar_runtime::Request;
use bazaar_schema::{TransactionError, take_rows, transaction_errors};
use bazaar_subjects::orders::{Cart, Coupon, CouponInput, CouponKind, Coupons};
use bazaar_subjects::sellers::GetMyShop;
use bazaar_subjects::{Currency, Empty, Money, Validator};
use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::OrdersError;
use crate::store::{OrdersStore, account};

const FIELDS: &str = "record::id(id) AS id, code, shop_id, kind, amount, min_subtotal, \
    IF expires_at THEN <string>expires_at END AS expires_at, usage_limit, used, \
    <string>created_at AS created_at";

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct StoredCoupon {
    #[serde(flatten)]
    pub coupon: Coupon,
}

impl std::ops::Deref for StoredCoupon {
    type Target = Coupon;
    fn deref(&self) -> &Coupon {
        &self.coupon
    }
}

/// The code `code` of one of `shops` (codes are per shop: two shops may
/// each have a `WELCOME10`). A code of no shop in the cart is not found,
/// the same answer as a code that does not exist, so codes cannot be
/// probed across shops.
pub(crate) async fn find(
    store: &OrdersStore,
    code: &str,
    shops: &[String],
) -> Result<Option<StoredCoupon>, OrdersError> {
    let mut res = store
        .db
        .query(format!(
            "SELECT {FIELDS} FROM coupon WHERE code = $code AND shop_id IN $shops LIMIT 1"
        ))
        .bind(("code", code.trim().to_uppercase()))
        .bind(("shops", shops.to_vec()))
        .await?
        .check()?;
    Ok(take_rows(&mut res, 0)?.into_iter().next())
}

/// The one answer for a code that cannot be found for this cart.
pub(crate) const NOT_FOR_THIS_CART: &str = "this code does not apply to the items in your cart";

/// Why a coupon cannot be used on a shop subtotal now, if it cannot.
pub(crate) fn usable(c: &Coupon, subtotal: i64, now: OffsetDateTime) -> Result<(), String> {
    if let Some(exp) = c
        .expires_at
        .as_deref()
        .and_then(|e| OffsetDateTime::parse(e, &Rfc3339).ok())
        && exp <= now
    {
        return Err("the code has expired".into());
    }
    if c.usage_limit.is_some_and(|limit| c.used >= limit) {
        return Err("the code has been used up".into());
    }
    if let Some(min) = c.min_subtotal
        && subtotal < min
    {
        // Discount codes carry no currency of their own: their amounts are
        // in the platform's.
        return Err(format!(
            "the code needs at least {} of the shop's items",
            Money::new(min, Currency::DEFAULT)
        ));
    }
    Ok(())
}

/// Why the coupon does not apply to this cart, if it does not.
pub(crate) fn refusal(c: &Coupon, cart: &Cart, now: OffsetDateTime) -> Option<String> {
    let Some(shop) = cart.shops.iter().find(|s| s.shop_id == c.shop_id) else {
        return Some(NOT_FOR_THIS_CART.into());
    };
    usable(c, shop.subtotal, now).err()
}

/// The discount on a shop subtotal (never more than it).
pub(crate) fn discount(kind: CouponKind, amount: i64, subtotal: i64) -> i64 {
    let d = match kind {
        CouponKind::Percent => subtotal * amount / 100,
        CouponKind::Fixed => amount,
    };
    d.clamp(0, subtotal)
}

fn validate(
    input: &CouponInput,
    now: OffsetDateTime,
) -> Result<(String, Option<String>), OrdersError> {
    let code = input.code.trim().to_uppercase();
    let expires = input
        .expires_at
        .as_deref()
        .filter(|e| !e.trim().is_empty())
        .map(|e| OffsetDateTime::parse(e.trim(), &Rfc3339));
    let mut v = Validator::default();
    v.check(
        (3..=32).contains(&code.len())
            && code
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "code",
        "use 3 to 32 letters, digits, - or _",
    )
    .check(
        match input.kind {
            CouponKind::Percent => (1..=100).contains(&input.amount),
            CouponKind::Fixed => (1..=100_000_000).contains(&input.amount),
        },
        "amount",
        "a percentage is 1 to 100; a fixed amount is above 0 (minor units)",
    )
    .check(
        input
            .min_subtotal
            .is_none_or(|m| (0..=1_000_000_000).contains(&m)),
        "min_subtotal",
        "the minimum cannot be negative",
    )
    .check(
        input
            .usage_limit
            .is_none_or(|l| (1..=1_000_000).contains(&l)),
        "usage_limit",
        "the usage limit is 1 to 1,000,000",
    )
    .check(
        !matches!(expires, Some(Err(_))),
        "expires_at",
        "give the expiry as a date-time, e.g. 2026-12-31T23:59:00Z",
    )
    .check(
        !matches!(expires, Some(Ok(t)) if t <= now),
        "expires_at",
        "the expiry is already past",
    );
    v.finish().map_err(OrdersError::Invalid)?;
    let expires = match expires {
        Some(Ok(t)) => t.format(&Rfc3339).ok(),
        _ => None,
    };
    Ok((code, expires))
}

impl OrdersStore {
    pub async fn create_coupon(&self, req: &Request<CouponInput>) -> Result<Coupon, OrdersError> {
        let seller = account(&req.caller)?;
        let shop = self
            .call::<GetMyShop>(&req.onward(), &Empty {})
            .await
            .map_err(|e| match e {
                OrdersError::Upstream(env) if env.status == 404 => {
                    OrdersError::Conflict("open your shop first".into())
                }
                other => other,
            })?;
        let (code, expires) = validate(&req.body, OffsetDateTime::now_utc())?;
        if find(self, &code, std::slice::from_ref(&shop.id))
            .await?
            .is_some()
        {
            return Err(OrdersError::Invalid(
                bazaar_subjects::ErrorEnvelope::validation(vec![bazaar_subjects::FieldError {
                    field: "code".into(),
                    message: "that code is taken; choose another".into(),
                }]),
            ));
        }
        let id = crate::store::new_id();
        let created = self
            .db
            .query(
                "CREATE type::record('coupon', $id) SET code = $code, shop_id = $shop, seller = $seller,
                    kind = $kind, amount = $amount, min_subtotal = $min, usage_limit = $limit,
                    expires_at = IF $expires THEN <datetime>$expires END RETURN NONE",
            )
            .bind(("id", id.clone()))
            .bind(("code", code.clone()))
            .bind(("shop", shop.id.clone()))
            .bind(("seller", seller))
            .bind(("kind", match req.body.kind {
                CouponKind::Percent => "percent",
                CouponKind::Fixed => "fixed",
            }))
            .bind(("amount", req.body.amount))
            .bind(("min", req.body.min_subtotal))
            .bind(("limit", req.body.usage_limit))
            .bind(("expires", expires))
            .await;
        match transaction_errors(created) {
            Ok(()) => {}
            Err(TransactionError::Unique { .. }) => {
                return Err(OrdersError::Conflict(
                    "that code is taken; choose another".into(),
                ));
            }
            Err(e) => return Err(e.into()),
        }
        find(self, &code, std::slice::from_ref(&shop.id))
            .await?
            .map(|c| c.coupon)
            .ok_or_else(|| OrdersError::Internal("coupon vanished".into()))
    }

    pub async fn my_coupons(&self, req: &Request<Empty>) -> Result<Coupons, OrdersError> {
        let seller = account(&req.caller)?;
        let mut res = self
            .db
            .query(format!(
                "SELECT {FIELDS} FROM coupon WHERE seller = $seller ORDER BY created_at DESC"
            ))
            .bind(("seller", seller))
            .await?
            .check()?;
        let rows: Vec<StoredCoupon> = take_rows(&mut res, 0)?;
        Ok(Coupons {
            coupons: rows.into_iter().map(|c| c.coupon).collect(),
        })
    }

    pub async fn delete_coupon(
        &self,
        req: &Request<bazaar_subjects::orders::CouponId>,
    ) -> Result<Empty, OrdersError> {
        let seller = account(&req.caller)?;
        let mut res = self
            .db
            .query("DELETE type::record('coupon', $id) WHERE seller = $seller RETURN BEFORE")
            .bind(("id", req.body.id.clone()))
            .bind(("seller", seller))
            .await?
            .check()?;
        let gone: Vec<serde_json::Value> = res.take(0)?;
        if gone.is_empty() {
            return Err(OrdersError::NotFound(
                "there is no such code of yours".into(),
            ));
        }
        Ok(Empty {})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn coupon(kind: CouponKind, amount: i64) -> Coupon {
        Coupon {
            id: "c".into(),
            code: "SAVE".into(),
            shop_id: "s".into(),
            kind,
            amount,
            min_subtotal: Some(1_000),
            expires_at: None,
            usage_limit: Some(2),
            used: 0,
            created_at: String::new(),
        }
    }

    #[test]
    fn discounts_never_exceed_the_subtotal() {
        assert_eq!(discount(CouponKind::Percent, 15, 10_000), 1_500);
        assert_eq!(discount(CouponKind::Fixed, 5_000, 3_000), 3_000);
        assert_eq!(discount(CouponKind::Percent, 100, 999), 999);
    }

    #[test]
    fn limits_minimums_and_expiry_are_explained() {
        let now = OffsetDateTime::now_utc();
        let mut c = coupon(CouponKind::Percent, 10);
        assert!(usable(&c, 500, now).unwrap_err().contains("at least"));
        c.used = 2;
        assert!(usable(&c, 5_000, now).unwrap_err().contains("used up"));
        c.used = 0;
        c.expires_at = Some("2020-01-01T00:00:00Z".into());
        assert!(usable(&c, 5_000, now).unwrap_err().contains("expired"));
    }
}
