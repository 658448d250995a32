//! What the edge's unit tests share: a state whose NATS client never
//! connects (for middleware and mappings that make no call), and reading a
//! response back.

use std::time::Duration;

use axum::response::Response;

use crate::config::EdgeConfig;
use crate::state::EdgeState;

/// A state for tests that make no NATS call: its client points at a closed
/// port and keeps trying in the background.
pub(crate) async fn offline_state(config: EdgeConfig) -> EdgeState {
    let nats = async_nats::ConnectOptions::new()
        .retry_on_initial_connect()
        .connect("127.0.0.1:1")
        .await
        .unwrap();
    EdgeState::new(nats, Duration::from_millis(100), Vec::new(), config)
}

/// The response's body as text.
pub(crate) async fn body_text(response: Response) -> String {
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// A live product's JSON as the catalog answers it.
pub(crate) fn product_json(slug: &str, shop_id: &str) -> serde_json::Value {
    serde_json::json!({
        "id": format!("id-{slug}"), "slug": slug, "shop_id": shop_id,
        "shop_slug": shop_id, "shop_name": "A shop", "title": slug,
        "description": "", "category": "home", "subcategory": null, "tags": [],
        "brand": null, "colors": [], "sizes": [], "specifications": [],
        "properties": [], "images": [], "regular_price": 1000, "sale_price": null,
        "price": 1000, "currency": "USD", "stock": 3, "warranty": null,
        "cash_on_delivery": false, "video_url": null, "status": "active",
        "flash_sale": null, "event_live": false, "rating_avg": 0.0,
        "rating_count": 0, "sales": 0, "views": 0,
        "created_at": "2026-12-06T16:00:00Z", "updated_at": "2026-12-06T16:00:00Z",
        "deleted_at": null
    })
}

/// A shop's card.
pub(crate) fn shop_card(shop_id: &str) -> bazaar_subjects::sellers::ShopCard {
    bazaar_subjects::sellers::ShopCard {
        id: shop_id.into(),
        slug: shop_id.into(),
        name: "A shop".into(),
        avatar_image: None,
        followers: 0,
        sales: 0,
        rating_avg: 0.0,
        rating_count: 0,
    }
}
