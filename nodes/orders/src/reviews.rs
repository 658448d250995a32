//! Reviews of products and shops, by buyers whose order of them was
//! delivered: one per author and target (writing again replaces it).
//!
//! Every write recomputes the target's average and count in the same
//! transaction and bumps the target's review revision, then publishes
//! `events.orders.review.changed` with that revision, so the catalog and the
//! sellers node keep their copies of the rating and apply only newer news.
//!
//! Admins may hide a review (and restore it): a hidden review leaves the
//! target's page and its rating, recomputed and announced the same way.

use bazaar_runtime::{Request, RequestMeta};
use bazaar_schema::audit::{self, Audit};
use bazaar_schema::{TransactionError, retry_transaction, take_rows, transaction_errors};
use bazaar_subjects::auth::GetMe;
use bazaar_subjects::catalog::{GetProductsByIds, ProductIds};
use bazaar_subjects::console::{AuthorReviews, ModerateRequest};
use bazaar_subjects::orders::{
    AuthoredReviews, ListReviews, Review, ReviewChanged, ReviewInput, ReviewTarget, Reviews,
};
use bazaar_subjects::sellers::{GetShopCard, ShopId};
use bazaar_subjects::{Empty, ErrorCode, Validator, is_image_id};
use serde::Deserialize;

use crate::OrdersError;
use crate::store::{OrdersStore, account, new_id};

/// Reviews on one page of a listing.
pub const PAGE_SIZE: u32 = 10;
pub const MAX_TITLE: usize = 120;
pub const MAX_BODY: usize = 4000;
pub const MAX_IMAGES: usize = 6;
/// How often a write that collided with another on the same target is tried.
const ATTEMPTS: u32 = 10;

const REVIEW_FIELDS: &str = "record::id(id) AS id, target, target_id, author_name, rating, \
    title, body, images, <string>created_at AS created_at, <string>updated_at AS updated_at, \
    IF hidden_at THEN <string>hidden_at END AS hidden_at, hidden_reason";

/// Recomputes the average and count of `$target`/`$tid` over its shown
/// reviews, bumps its revision and writes the `ReviewChanged` event into the
/// outbox, inside the caller's transaction. `$author` and `$stars` are the
/// write's author and stars, or `NONE` for a recount (a moderation), which
/// announces no new review.
const RETOTAL: &str = concat!(
    "LET $stats = (SELECT math::mean(rating) AS average, count() AS count FROM review
         WHERE target = $target AND target_id = $tid AND hidden_at = NONE GROUP ALL)[0];
     UPSERT type::record('review_total', [$target, $tid])
         SET average = <float>($stats.average OR 0), count = $stats.count OR 0,
             revision = (revision OR 0) + 1 RETURN NONE;
     LET $t = (SELECT average, count, revision FROM ONLY type::record('review_total', [$target, $tid]));
     LET $event_id = 'review-' + $target + '-' + $tid + '-' + <string>$t.revision;
     LET $event = { target: $target, target_id: $tid, average: $t.average, count: $t.count,
         revision: $t.revision, author_id: $author, stars: $stars };",
    bazaar_outbox::write_one!()
);

/// Writes the caller's review (a new one, or over their old one).
const WRITE_REVIEW: &str = "BEGIN TRANSACTION;
             LET $old = (SELECT VALUE id FROM review WHERE author = $me AND target = $target AND target_id = $tid)[0];
             IF $old != NONE {
                 UPDATE $old SET rating = $rating, title = $title, body = $body, images = $images,
                     author_name = $name, updated_at = time::now() RETURN NONE;
             } ELSE {
                 CREATE type::record('review', $new) SET author = $me, author_name = $name,
                     target = $target, target_id = $tid, rating = $rating, title = $title,
                     body = $body, images = $images RETURN NONE;
             };";

fn target_str(t: ReviewTarget) -> &'static str {
    match t {
        ReviewTarget::Product => "product",
        ReviewTarget::Shop => "shop",
    }
}

/// Ids of products and shops are short and plain; anything else is not one.
fn plausible_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The review as written, trimmed; 422 with every bad field otherwise.
fn validate(input: &ReviewInput) -> Result<ReviewInput, OrdersError> {
    let title = input.title.trim().to_owned();
    let body = input.body.trim().to_owned();
    let mut v = Validator::default();
    v.check(
        plausible_id(&input.target_id),
        "target_id",
        "say which product or shop you are reviewing",
    )
    .check(
        (1..=5).contains(&input.rating),
        "rating",
        "give 1 to 5 stars",
    )
    .check(!title.is_empty(), "title", "give your review a title")
    .check(
        title.chars().count() <= MAX_TITLE,
        "title",
        "keep the title to 120 characters",
    )
    .check(
        body.chars().count() <= MAX_BODY,
        "body",
        "keep the review to 4000 characters",
    )
    .check(
        input.images.len() <= MAX_IMAGES,
        "images",
        "add at most 6 images",
    )
    .check(
        input.images.iter().all(|i| is_image_id(i)),
        "images",
        "images must be ones uploaded with POST /api/images",
    );
    v.finish().map_err(OrdersError::Invalid)?;
    let mut images = input.images.clone();
    images.dedup();
    Ok(ReviewInput {
        target: input.target,
        target_id: input.target_id.clone(),
        rating: input.rating,
        title,
        body,
        images,
    })
}

/// How a reviewer is shown: first name and the initial of the last, e.g.
/// "Ada L." (the full name is the buyer's own business).
pub fn display_name(name: &str) -> String {
    let mut words = name.split_whitespace();
    let Some(first) = words.next() else {
        return "A buyer".to_owned();
    };
    match words.last().and_then(|w| w.chars().next()) {
        Some(initial) => format!("{first} {}.", initial.to_uppercase()),
        None => first.to_owned(),
    }
}

/// Where the caller stands with a target: what their orders of it say.
#[derive(Debug, Default, Deserialize)]
struct Eligibility {
    delivered: i64,
    ordered: i64,
}

#[derive(Debug, Deserialize)]
struct Total {
    average: f64,
    count: i64,
}

impl OrdersStore {
    /// Writes (or replaces) the caller's review of a product or shop.
    #[tracing::instrument(skip(self, req), fields(target = ?req.body.target, target_id = %req.body.target_id))]
    pub async fn upsert_review(&self, req: &Request<ReviewInput>) -> Result<Review, OrdersError> {
        let me = account(&req.caller)?;
        let input = validate(&req.body)?;
        let target = target_str(input.target);
        self.may_review(&req.onward(), &me, &input).await?;
        let me_account = self.call::<GetMe>(&req.onward(), &Empty {}).await?;
        let author_name = display_name(&me_account.name);
        let sql = format!("{WRITE_REVIEW}\n{RETOTAL}\nCOMMIT TRANSACTION;");
        let written = retry_transaction(ATTEMPTS, || async {
            let result = self
                .db
                .query(sql.as_str())
                .bind(("me", me.clone()))
                .bind(("author", me.clone()))
                .bind(("target", target))
                .bind(("tid", input.target_id.clone()))
                .bind(("new", new_id()))
                .bind(("name", author_name.clone()))
                .bind(("rating", input.rating))
                .bind(("stars", input.rating))
                .bind(("title", input.title.clone()))
                .bind(("body", input.body.clone()))
                .bind(("images", input.images.clone()))
                .bind((
                    "subject",
                    <ReviewChanged as bazaar_subjects::Event>::SUBJECT,
                ))
                .await;
            match transaction_errors(result) {
                // Two writes to one target (or one author's double submit)
                // collided: the next attempt finds the other's work.
                Err(TransactionError::Unique { index, message }) if index == "review_once" => {
                    Err(TransactionError::Conflict(message))
                }
                other => other,
            }
        });
        written.await?;
        let mut res = self
            .db
            .query(format!(
                "SELECT {REVIEW_FIELDS} FROM review WHERE author = $me AND target = $target AND target_id = $tid;"
            ))
            .bind(("me", me.clone()))
            .bind(("target", target))
            .bind(("tid", input.target_id.clone()))
            .await?
            .check()?;
        let review: Review = take_rows(&mut res, 0)?
            .into_iter()
            .next()
            .ok_or_else(|| OrdersError::Internal("review vanished".into()))?;
        self.outbox.written();
        Ok(review)
    }

    /// 403 unless one of the caller's orders of the target was delivered
    /// (404 when the product or shop does not exist at all).
    async fn may_review(
        &self,
        meta: &RequestMeta,
        me: &str,
        input: &ReviewInput,
    ) -> Result<(), OrdersError> {
        let cond = match input.target {
            ReviewTarget::Product => "$tid IN items.product_id",
            ReviewTarget::Shop => "shop_id = $tid",
        };
        let mut res = self
            .db
            .query(format!(
                "SELECT count(status = 'delivered') AS delivered, count() AS ordered FROM shop_order
                   WHERE buyer = $me AND {cond} GROUP ALL"
            ))
            .bind(("me", me.to_owned()))
            .bind(("tid", input.target_id.clone()))
            .await?
            .check()?;
        let seen: Eligibility = take_rows(&mut res, 0)?
            .into_iter()
            .next()
            .unwrap_or_default();
        let what = target_str(input.target);
        if seen.delivered > 0 {
            return Ok(());
        }
        if seen.ordered > 0 {
            return Err(OrdersError::Forbidden(format!(
                "you can review this {what} once your order from it has been delivered"
            )));
        }
        if !self.target_exists(meta, input).await? {
            return Err(OrdersError::NotFound(format!("there is no such {what}")));
        }
        Err(OrdersError::Forbidden(format!(
            "only buyers who received an order from this {what} can review it"
        )))
    }

    async fn target_exists(
        &self,
        meta: &RequestMeta,
        input: &ReviewInput,
    ) -> Result<bool, OrdersError> {
        match input.target {
            ReviewTarget::Product => {
                let found = self
                    .call::<GetProductsByIds>(
                        meta,
                        &ProductIds {
                            ids: vec![input.target_id.clone()],
                        },
                    )
                    .await?;
                Ok(!found.items.is_empty())
            }
            ReviewTarget::Shop => {
                let card = self
                    .call::<GetShopCard>(
                        meta,
                        &ShopId {
                            id: input.target_id.clone(),
                        },
                    )
                    .await;
                match card {
                    Ok(_) => Ok(true),
                    Err(OrdersError::Upstream(e)) if e.code == ErrorCode::NotFound => Ok(false),
                    Err(e) => Err(e),
                }
            }
        }
    }

    /// A page of a target's reviews, newest first, with its average and count.
    pub async fn list_reviews(&self, req: &ListReviews) -> Result<Reviews, OrdersError> {
        let page = req.page.unwrap_or(1);
        let mut v = Validator::default();
        v.check(
            plausible_id(&req.target_id),
            "target_id",
            "say which product or shop",
        )
        .check((1..=10_000).contains(&page), "page", "pages start at 1");
        v.finish().map_err(OrdersError::Invalid)?;
        let target = target_str(req.target);
        let mut res = self
            .db
            .query(format!(
                "SELECT {REVIEW_FIELDS} FROM review WHERE target = $target AND target_id = $tid
                   AND hidden_at = NONE ORDER BY created_at DESC LIMIT $limit START $start;
                 SELECT average, count, revision FROM type::record('review_total', [$target, $tid]);"
            ))
            .bind(("target", target))
            .bind(("tid", req.target_id.clone()))
            .bind(("limit", PAGE_SIZE))
            .bind(("start", (page - 1) * PAGE_SIZE))
            .await?
            .check()?;
        let reviews: Vec<Review> = take_rows(&mut res, 0)?;
        let (average, count) = take_rows::<Total>(&mut res, 1)?
            .into_iter()
            .next()
            .map_or((0.0, 0), |t| (t.average, t.count));
        Ok(Reviews {
            reviews,
            average,
            count,
            page,
            pages: u32::try_from((count + i64::from(PAGE_SIZE) - 1) / i64::from(PAGE_SIZE))
                .unwrap_or(0),
        })
    }
}

/// What the audit row keeps of a review, before and after.
const REVIEW_SNAPSHOT: &str = "(SELECT record::id(id) AS id, author, target, target_id, rating, title, \
    hidden_at, hidden_reason FROM type::record('review', $id))[0]";

impl OrdersStore {
    /// Hides a review (or shows it again) for an admin: its target's rating
    /// is recomputed over the reviews still shown and announced, and the
    /// audit row is written, all in one transaction.
    #[tracing::instrument(skip(self, req), fields(review = %req.body.id, hide))]
    pub async fn moderate_review(
        &self,
        req: &Request<ModerateRequest>,
        hide: bool,
    ) -> Result<Review, OrdersError> {
        let id = req.body.id.trim().to_owned();
        if !plausible_id(&id) {
            return Err(OrdersError::NotFound("there is no such review".into()));
        }
        let why = req.body.reason().map_err(OrdersError::Invalid)?;
        let admin = account(&req.caller)?;
        let action = if hide {
            "review.hide"
        } else {
            "review.restore"
        };
        let record = Audit::new(admin, action, "review", &id, &req.request_id).with_reason(&why);
        let change = if hide {
            "IF $before.hidden_at != NONE { THROW 'unchanged'; };
             UPDATE type::record('review', $id) SET hidden_at = time::now(), hidden_reason = $reason RETURN NONE;"
        } else {
            "IF $before.hidden_at = NONE { THROW 'unchanged'; };
             UPDATE type::record('review', $id) SET hidden_at = NONE, hidden_reason = NONE RETURN NONE;"
        };
        let sql = format!(
            "BEGIN TRANSACTION;
             LET $before = {REVIEW_SNAPSHOT};
             IF $before = NONE {{ THROW 'no_such_review'; }};
             LET $target = $before.target;
             LET $tid = $before.target_id;
             {change}
             {RETOTAL}
             LET $after = {REVIEW_SNAPSHOT};
             {record}
             COMMIT TRANSACTION;",
            record = audit::RECORD,
        );
        let written = retry_transaction(ATTEMPTS, || async {
            transaction_errors(
                self.db
                    .query(sql.as_str())
                    .bind(("id", id.clone()))
                    .bind(("reason", why.clone()))
                    .bind(("author", None::<String>))
                    .bind(("stars", None::<i64>))
                    .bind((
                        "subject",
                        <ReviewChanged as bazaar_subjects::Event>::SUBJECT,
                    ))
                    .bind(record.bind())
                    .await,
            )
        });
        match written.await {
            Ok(()) => {}
            Err(e) => {
                return Err(match e.thrown() {
                    Some("no_such_review") => {
                        OrdersError::NotFound("there is no such review".into())
                    }
                    Some("unchanged") if hide => {
                        OrdersError::Conflict("the review is hidden already".into())
                    }
                    Some("unchanged") => OrdersError::Conflict("the review is not hidden".into()),
                    _ => OrdersError::Transaction(e),
                });
            }
        }
        self.outbox.written();
        let mut res = self
            .db
            .query(format!(
                "SELECT {REVIEW_FIELDS} FROM type::record('review', $id);"
            ))
            .bind(("id", id))
            .await?
            .check()?;
        let review: Review = take_rows(&mut res, 0)?
            .into_iter()
            .next()
            .ok_or_else(|| OrdersError::Internal("review vanished".into()))?;
        tracing::info!(hidden = hide, "review moderated");
        Ok(review)
    }

    /// The reviews one account wrote, newest first, hidden ones included
    /// (for admins).
    pub async fn author_reviews(
        &self,
        req: &AuthorReviews,
    ) -> Result<AuthoredReviews, OrdersError> {
        let page = req.page.unwrap_or(1);
        let author = req.account_id.trim().to_owned();
        let mut v = Validator::default();
        v.check(plausible_id(&author), "account_id", "say whose reviews")
            .check((1..=10_000).contains(&page), "page", "pages start at 1");
        v.finish().map_err(OrdersError::Invalid)?;
        let mut res = self
            .db
            .query(format!(
                "SELECT {REVIEW_FIELDS} FROM review WHERE author = $author
                   ORDER BY created_at DESC LIMIT $limit START $start;
                 SELECT count() AS n FROM review WHERE author = $author GROUP ALL;"
            ))
            .bind(("author", author))
            .bind(("limit", PAGE_SIZE))
            .bind(("start", (page - 1) * PAGE_SIZE))
            .await?
            .check()?;
        let reviews: Vec<Review> = take_rows(&mut res, 0)?;
        let total = bazaar_schema::take_count(&mut res, 1)?;
        Ok(AuthoredReviews {
            reviews,
            total,
            page,
            pages: u32::try_from((total + i64::from(PAGE_SIZE) - 1) / i64::from(PAGE_SIZE))
                .unwrap_or(0),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(rating: i64, title: &str) -> ReviewInput {
        ReviewInput {
            target: ReviewTarget::Product,
            target_id: "p1".into(),
            rating,
            title: title.into(),
            body: String::new(),
            images: vec![],
        }
    }

    #[test]
    fn ratings_outside_one_to_five_and_empty_titles_are_refused() {
        for bad in [0, 6, -1] {
            assert!(validate(&input(bad, "ok")).is_err(), "{bad}");
        }
        assert!(validate(&input(3, "   ")).is_err());
        assert!(validate(&input(5, &"x".repeat(121))).is_err());
        let mut i = input(4, " Nice ");
        i.images = vec!["not-an-image".into()];
        assert!(validate(&i).is_err());
        i.images = vec!["0123456789abcdef0123456789abcdef".into()];
        assert_eq!(validate(&i).unwrap().title, "Nice");
    }

    #[test]
    fn reviewers_show_as_first_name_and_initial() {
        assert_eq!(display_name("Ada Lovelace"), "Ada L.");
        assert_eq!(display_name("Ada King Lovelace"), "Ada L.");
        assert_eq!(display_name("Plato"), "Plato");
        assert_eq!(display_name("  "), "A buyer");
    }

    #[tokio::test]
    async fn totals_follow_every_write_and_the_revision_only_grows() {
        let db = bazaar_schema::connect("mem://", None).await.unwrap();
        bazaar_schema::migrate(&db).await.unwrap();
        let sql = "UPSERT type::record('review_total', [$target, $tid])
                 SET average = <float>$avg, count = $count, revision = (revision OR 0) + 1 RETURN NONE;
                 SELECT average, count, revision FROM type::record('review_total', [$target, $tid]);";
        let mut last = 0;
        for (avg, count) in [(4, 1), (3, 2)] {
            let mut r = db
                .query(sql)
                .bind(("target", "product"))
                .bind(("tid", "p1"))
                .bind(("avg", avg))
                .bind(("count", count))
                .await
                .unwrap()
                .check()
                .unwrap();
            let t: Vec<serde_json::Value> = take_rows(&mut r, 1).unwrap();
            assert_eq!(t[0]["count"].as_i64(), Some(count));
            let revision = t[0]["revision"].as_i64().unwrap();
            assert!(revision > last);
            last = revision;
        }
        assert_eq!(last, 2);
    }

    #[tokio::test]
    async fn a_product_in_an_orders_items_is_found() {
        let db = bazaar_schema::connect("mem://", None).await.unwrap();
        bazaar_schema::migrate(&db).await.unwrap();
        let mut r = db
            .query("LET $items = [{ product_id: 'p1', quantity: 1 }, { product_id: 'p2', quantity: 2 }];
                    RETURN 'p2' IN $items.product_id; RETURN 'p3' IN $items.product_id;")
            .await
            .unwrap()
            .check()
            .unwrap();
        let yes: Option<bool> = r.take(1).unwrap();
        let no: Option<bool> = r.take(2).unwrap();
        assert_eq!((yes, no), (Some(true), Some(false)));
    }
}
