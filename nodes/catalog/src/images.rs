//! Product images: which a seller may put on a product, and whether an
//! image is still shown anywhere (the bin's purge deletes only those that
//! are not).
//!
//! Images live in one Object Store bucket shared by every use: products,
//! shop logos and banners, reviews, chat pictures, avatars and the site's
//! logo and banner. Each upload records its uploader (see
//! [`bazaar_subjects::catalog::IMAGE_UPLOADER_KEY`]).

use async_nats::jetstream::object_store::ObjectStore;
use bazaar_schema::{Db, take_rows};
use bazaar_subjects::sellers::Shop;
use bazaar_subjects::{ErrorEnvelope, FieldError};

use crate::CatalogError;

/// Who uploaded an image, when it exists and says.
pub(crate) async fn uploader(images: &ObjectStore, image: &str) -> Option<String> {
    if !bazaar_subjects::is_image_id(image) {
        return None;
    }
    let info = images.info(image).await.ok()?;
    if info.deleted {
        return None;
    }
    info.metadata
        .get(bazaar_subjects::catalog::IMAGE_UPLOADER_KEY)
        .cloned()
}

/// The shop's own images (its logo and banner).
pub(crate) fn of_shop(shop: &Shop) -> Vec<String> {
    [&shop.avatar_image, &shop.banner_image]
        .into_iter()
        .flatten()
        .cloned()
        .collect()
}

/// The refusal of an image a seller may not use.
pub(crate) fn not_yours() -> CatalogError {
    CatalogError::Invalid(ErrorEnvelope::validation(vec![FieldError {
        field: "images".into(),
        message: "use images you uploaded yourself, or your shop's logo or banner".into(),
    }]))
}

/// Whether anything still shows `image`: a product (in the bin too), a
/// shop's logo or banner, a review, a chat message, an order line or a
/// stock reservation, an account's avatar or the site's logo or banner.
/// The tables of other domains are read here because the image bucket is
/// shared and only this job deletes from it.
pub(crate) async fn in_use(db: &Db, image: &str) -> Result<bool, CatalogError> {
    const USES: [&str; 8] = [
        "SELECT VALUE record::id(id) FROM product WHERE images CONTAINS $image LIMIT 1",
        "SELECT VALUE record::id(id) FROM shop WHERE avatar_image = $image OR banner_image = $image LIMIT 1",
        "SELECT VALUE record::id(id) FROM review WHERE images CONTAINS $image LIMIT 1",
        "SELECT VALUE record::id(id) FROM chat_message WHERE kind = 'image' AND body.image = $image LIMIT 1",
        "SELECT VALUE record::id(id) FROM shop_order WHERE items.*.image CONTAINS $image LIMIT 1",
        "SELECT VALUE record::id(id) FROM stock_reservation WHERE lines.*.image CONTAINS $image LIMIT 1",
        "SELECT VALUE record::id(id) FROM account WHERE avatar_url = $url LIMIT 1",
        "SELECT VALUE record::id(id) FROM site WHERE logo_url = $url OR banner_url = $url LIMIT 1",
    ];
    let mut res = db
        .query(USES.join(";\n"))
        .bind(("image", image.to_owned()))
        .bind(("url", format!("/images/{image}")))
        .await?
        .check()?;
    for i in 0..USES.len() {
        let found: Vec<serde_json::Value> = take_rows(&mut res, i)?;
        if !found.is_empty() {
            return Ok(true);
        }
    }
    Ok(false)
}
