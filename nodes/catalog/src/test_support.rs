//! What the catalog's unit tests share: a migrated in-memory database with
//! one live product in it.

/// A fresh database holding `product:p1`, live, at `price` minor units
/// with `stock` units.
pub(crate) async fn db_with_product(price: i64, stock: i64) -> bazaar_schema::Db {
    let db = bazaar_schema::connect("mem://", None).await.unwrap();
    bazaar_schema::migrate(&db).await.unwrap();
    db.query(
        "CREATE product:p1 SET seller = 's', shop_id = 'x', shop_slug = 'x', shop_name = 'X',
            slug = 'p1', title = 'P', category = 'c', regular_price = $price, price = $price,
            currency = 'USD', stock = $stock, status = 'active', live = true, search_text = 'p'",
    )
    .bind(("price", price))
    .bind(("stock", stock))
    .await
    .unwrap()
    .check()
    .unwrap();
    db
}
