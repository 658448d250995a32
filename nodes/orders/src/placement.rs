//! Opening a checkout, and placing its orders: one transaction that
//! creates the orders,
//! their notifications, events and emails, counts the code, closes the
//! checkout and empties the bought lines from the cart, only while the
//! checkout is still open. Checkouts placed at the same moment go in one
//! transaction ([`bazaar_schema::group`]); one that fails on its own terms
//! (closed, code used up) is told so as if it had been alone.

use bazaar_schema::group::{GroupCommit, batch_sql, together_or_alone};
use bazaar_schema::{
    Db, TransactionError, committed, retry_transaction, take_rows, transaction_errors,
};

use crate::OrdersError;
use crate::row::{ORDER_FIELDS, StoredOrder};

/// What one placement reads: the variables of [`BODY`].
const VARIABLES: [&str; 10] = [
    "checkout",
    "counts_coupon",
    "enforce_limit",
    "code",
    "coupon_shop",
    "orders",
    "owner",
    "products",
    "notes",
    "outbox",
];

/// One checkout's placement (see the module docs). Throws `checkout
/// closed` or `coupon used up`.
static BODY: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    "LET $open = (SELECT VALUE status FROM ONLY type::record('checkout', $checkout)) IN ['reserving', 'awaiting_payment'];
     IF !$open { THROW 'checkout closed'; };
     IF $counts_coupon {
        LET $c = UPDATE coupon SET used += 1
            WHERE code = $code AND shop_id = $coupon_shop
                AND (!$enforce_limit OR usage_limit = NONE OR used < usage_limit) RETURN VALUE id;
        IF $enforce_limit AND array::len($c) = 0 { THROW 'coupon used up'; };
     };
     FOR $o IN $orders {
        CREATE type::record('shop_order', $o.id) CONTENT object::remove($o, 'id') RETURN NONE;
     };
     FOR $n IN $notes { CREATE notification CONTENT $n RETURN NONE; };
     UPDATE type::record('checkout', $checkout) SET status = 'placed', orders = $orders.id, updated_at = time::now() RETURN NONE;
     FOR $p IN $products { DELETE cart_line WHERE owner = $owner AND product_id = $p RETURN NONE; };
     UPSERT type::record('cart', $owner) SET coupon = NONE RETURN NONE;
     OUTBOX_WRITE"
        .replace("OUTBOX_WRITE", bazaar_outbox::WRITE)
});

/// One placement alone; its last statement reads back what it created.
static ONE_SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "BEGIN TRANSACTION; {}
         SELECT {ORDER_FIELDS} FROM shop_order WHERE checkout_id = $checkout ORDER BY shop_name;
         COMMIT TRANSACTION;",
        *BODY
    )
});

/// Several placements; the orders of all of them are read back by id.
static BATCH_SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    batch_sql(
        &BODY,
        &VARIABLES,
        &format!(
            "SELECT {ORDER_FIELDS} FROM array::map($order_ids, |$i| type::record('shop_order', $i));"
        ),
    )
});

/// The orders a placement created, or why it did not place them.
pub(crate) type Placed = Result<Vec<StoredOrder>, OrdersError>;

/// Placements waiting to be written together.
pub(crate) type Placements = GroupCommit<serde_json::Value, Placed>;

/// Starts the placement group of this node copy (`max_batch` 1 places
/// each checkout alone).
pub(crate) fn start(db: Db, max_batch: usize) -> Placements {
    GroupCommit::on_db("orders placed", db, max_batch, |db, batch| async move {
        write(&db, batch).await
    })
}

/// Writes placements (each an object of [`VARIABLES`]): together when
/// there are several and none fails, else each on its own.
async fn write(db: &Db, batch: Vec<serde_json::Value>) -> Vec<Placed> {
    together_or_alone(
        "orders placed",
        &batch,
        || together(db, &batch),
        |p| alone(db, p),
    )
    .await
}

/// One transaction for every placement of the batch; each one's orders.
async fn together(
    db: &Db,
    batch: &[serde_json::Value],
) -> Result<Vec<Vec<StoredOrder>>, OrdersError> {
    let order_ids: Vec<&serde_json::Value> = batch
        .iter()
        .filter_map(|p| p["orders"].as_array())
        .flatten()
        .map(|o| &o["id"])
        .collect();
    // A collision is tried again once, then each on its own.
    let rows: Vec<StoredOrder> = retry_transaction(2, || async {
        let result = db
            .query(BATCH_SQL.as_str())
            .bind(("writes", serde_json::Value::Array(batch.to_vec())))
            .bind(("order_ids", serde_json::json!(order_ids)))
            .await;
        let mut res = committed(result)?;
        let last = bazaar_schema::before_commit(&res);
        Ok::<_, OrdersError>(take_rows(&mut res, last)?)
    })
    .await?;
    Ok(batch
        .iter()
        .map(|p| {
            let checkout = p["checkout"].as_str().unwrap_or_default();
            let mut mine: Vec<StoredOrder> = rows
                .iter()
                .filter(|o| o.order.checkout_id == checkout)
                .cloned()
                .collect();
            mine.sort_by(|a, b| a.order.shop_name.cmp(&b.order.shop_name));
            mine
        })
        .collect())
}

/// One placement in its own transaction. Another request for the same
/// checkout writing at the same time is a conflict: look again (it may
/// have placed the orders already).
async fn alone(db: &Db, placement: &serde_json::Value) -> Placed {
    retry_transaction(20, || async {
        let result = db.query(ONE_SQL.as_str()).bind(placement.clone()).await;
        let mut res = committed(result)?;
        let last = bazaar_schema::before_commit(&res);
        Ok::<_, OrdersError>(take_rows(&mut res, last)?)
    })
    .await
}

/// Opening a checkout: its row, under the buyer's idempotency key (a
/// unique index refuses the same key twice).
const OPEN_BODY: &str =
    "CREATE type::record('checkout', $id) SET buyer = $buyer, idempotency_key = $key,
    request_hash = $hash, status = 'reserving', payment = $payment, plan = $plan RETURN NONE;";

/// What opening a checkout reads: the variables of [`OPEN_BODY`].
const OPEN_VARIABLES: [&str; 6] = ["id", "buyer", "key", "hash", "payment", "plan"];

static OPEN_BATCH_SQL: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| batch_sql(OPEN_BODY, &OPEN_VARIABLES, ""));

/// Checkouts waiting to be opened together.
pub(crate) type Openings = GroupCommit<serde_json::Value, Result<(), TransactionError>>;

/// Starts the opening group of this node copy.
pub(crate) fn openings(db: Db, max_batch: usize) -> Openings {
    GroupCommit::on_db("checkouts opened", db, max_batch, |db, batch| async move {
        together_or_alone(
            "checkouts opened",
            &batch,
            || async {
                let result = db
                    .query(OPEN_BATCH_SQL.as_str())
                    .bind(("writes", serde_json::Value::Array(batch.clone())))
                    .await;
                transaction_errors(result).map(|()| vec![(); batch.len()])
            },
            |c| {
                let db = &db;
                async move { transaction_errors(db.query(OPEN_BODY).bind(c.clone()).await) }
            },
        )
        .await
    })
}
