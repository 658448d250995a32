//! The catalog domain: products, flash-sale events, browsing and search.
//!
//! Prices are integers in the currency's minor unit (cents) with an ISO 4217
//! code. Timestamps are RFC 3339 strings.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::money::priced;
use crate::{Access, Currency, Domain, Empty, Endpoint, Event, Stream};

/// Every catalog event: `events.catalog.>`.
pub const EVENTS: Stream = Stream {
    name: "CATALOG_EVENTS",
    subjects: "events.catalog.>",
};

/// The JetStream Object Store bucket holding product (and shop) images,
/// each stored under its image id (see [`crate::is_image_id`]).
/// The catalog node's product cache.
pub const PRODUCT_CACHE_BUCKET: &str = "catalog_products";
/// The catalog node's cache of seller product searches and its revision.
pub const SEARCH_CACHE_BUCKET: &str = "catalog_search";
/// Leases that let one catalog node at a time run maintenance.
pub const LEASES_BUCKET: &str = "catalog_leases";
pub const IMAGES_BUCKET: &str = "images";
/// The metadata key of an image object naming the account that uploaded it
/// (only its uploader may send it in a chat message).
pub const IMAGE_UPLOADER_KEY: &str = "uploader";

/// The most results one page may hold.
pub const MAX_PAGE_SIZE: u32 = 60;
/// How deep page-numbered browsing goes (`page * page_size`); narrower
/// filters or a search find what lies beyond.
pub const MAX_RESULT_WINDOW: u32 = 10_000;

/// A named value: a specification (`Weight: 1.2 kg`) or a custom property.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct KeyValue {
    pub key: String,
    pub value: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ProductStatus {
    /// Visible to buyers.
    #[default]
    Active,
    /// Only the seller sees it.
    Draft,
}

/// A flash sale: the product shows as an event only inside this window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FlashSale {
    pub starts_at: String,
    pub ends_at: String,
}

/// What a seller fills in to create or edit a product.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ProductInput {
    /// 1–200 characters once trimmed.
    #[schema(max_length = 200, pattern = r"\S")]
    pub title: String,
    /// Rich text (HTML); sanitized to a safe subset on save.
    #[serde(default)]
    #[schema(max_length = 20000)]
    pub description: String,
    /// Category and subcategory slugs from the admin-managed list.
    pub category: String,
    #[serde(default)]
    pub subcategory: Option<String>,
    /// At most 20, each at most 40 characters.
    #[serde(default)]
    #[schema(max_items = 20)]
    pub tags: Vec<String>,
    #[serde(default)]
    #[schema(max_length = 80)]
    pub brand: Option<String>,
    /// At most 30, each at most 40 characters.
    #[serde(default)]
    #[schema(max_items = 30)]
    pub colors: Vec<String>,
    /// At most 30, each at most 20 characters.
    #[serde(default)]
    #[schema(max_items = 30)]
    pub sizes: Vec<String>,
    /// At most 50; keys 1–60 characters, values 1–500.
    #[serde(default)]
    #[schema(max_items = 50)]
    pub specifications: Vec<KeyValue>,
    /// At most 50; keys 1–60 characters, values 1–500.
    #[serde(default)]
    #[schema(max_items = 50)]
    pub properties: Vec<KeyValue>,
    /// Image ids from `POST /api/images`, in display order.
    #[serde(default)]
    #[schema(max_items = 12)]
    pub images: Vec<String>,
    /// Minor units, e.g. 1999 for 19.99.
    #[schema(minimum = 1, maximum = 1_000_000_000)]
    pub regular_price: i64,
    /// At most the regular price.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 1_000_000_000)]
    pub sale_price: Option<i64>,
    /// ISO 4217, default `USD`.
    #[serde(default)]
    pub currency: Option<Currency>,
    #[schema(minimum = 0, maximum = 1_000_000)]
    pub stock: i64,
    #[serde(default)]
    #[schema(max_length = 200)]
    pub warranty: Option<String>,
    #[serde(default)]
    pub cash_on_delivery: bool,
    /// An http(s) link, or empty.
    #[serde(default)]
    #[schema(max_length = 2048, pattern = r"^\s*(https?://[^\s/?#]+\S*)?\s*$")]
    pub video_url: Option<String>,
    #[serde(default)]
    pub status: ProductStatus,
    #[serde(default)]
    pub flash_sale: Option<FlashSale>,
}

/// A product, as its seller and its page see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Product {
    pub id: String,
    pub slug: String,
    pub shop_id: String,
    pub shop_slug: String,
    pub shop_name: String,
    pub title: String,
    /// Sanitized HTML, safe to render as is.
    pub description: String,
    pub category: String,
    pub subcategory: Option<String>,
    pub tags: Vec<String>,
    pub brand: Option<String>,
    pub colors: Vec<String>,
    pub sizes: Vec<String>,
    pub specifications: Vec<KeyValue>,
    pub properties: Vec<KeyValue>,
    pub images: Vec<String>,
    pub regular_price: i64,
    pub sale_price: Option<i64>,
    /// What a buyer pays now: the sale price when there is one.
    pub price: i64,
    pub currency: Currency,
    pub stock: i64,
    pub warranty: Option<String>,
    pub cash_on_delivery: bool,
    pub video_url: Option<String>,
    pub status: ProductStatus,
    pub flash_sale: Option<FlashSale>,
    /// Whether the flash sale is running now.
    pub event_live: bool,
    pub rating_avg: f64,
    pub rating_count: i64,
    pub sales: i64,
    pub views: i64,
    pub created_at: String,
    pub updated_at: String,
    /// Set while the product is in the bin (purged 24 hours later).
    pub deleted_at: Option<String>,
    /// Set while an admin keeps the product hidden from buyers (moderation).
    #[serde(default)]
    pub hidden_at: Option<String>,
    /// Whether an admin keeps its shop hidden (moderation).
    #[serde(default)]
    pub shop_hidden: bool,
}

impl Product {
    /// Whether buyers may see it: published, not deleted, and neither it
    /// nor its shop hidden by an admin. (Stock and flash-sale windows are
    /// separate questions.)
    pub fn shown_to_buyers(&self) -> bool {
        self.status == ProductStatus::Active
            && self.deleted_at.is_none()
            && self.hidden_at.is_none()
            && !self.shop_hidden
    }
}

priced!(Product: price, regular_price; sale_price);

/// A product as a result card shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ProductSummary {
    pub id: String,
    pub slug: String,
    pub title: String,
    pub image: Option<String>,
    pub regular_price: i64,
    pub sale_price: Option<i64>,
    pub price: i64,
    pub currency: Currency,
    pub in_stock: bool,
    pub rating_avg: f64,
    pub rating_count: i64,
    pub sales: i64,
    pub shop_slug: String,
    pub shop_name: String,
    pub category: String,
    pub flash_sale: Option<FlashSale>,
    /// Whether the flash sale is running now.
    pub event_live: bool,
    /// For searches: the matching text with matches in `<mark>`, HTML-escaped.
    pub snippet_html: Option<String>,
    pub created_at: String,
}

priced!(ProductSummary: price, regular_price; sale_price);

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SortOrder {
    /// Best match first when searching, else newest.
    #[default]
    Relevance,
    Newest,
    PriceAsc,
    PriceDesc,
    TopSales,
    Rating,
}

impl SortOrder {
    pub const ALL: [SortOrder; 6] = [
        SortOrder::Relevance,
        SortOrder::Newest,
        SortOrder::PriceAsc,
        SortOrder::PriceDesc,
        SortOrder::TopSales,
        SortOrder::Rating,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SortOrder::Relevance => "relevance",
            SortOrder::Newest => "newest",
            SortOrder::PriceAsc => "price_asc",
            SortOrder::PriceDesc => "price_desc",
            SortOrder::TopSales => "top_sales",
            SortOrder::Rating => "rating",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            SortOrder::Relevance => "Best match",
            SortOrder::Newest => "Newest",
            SortOrder::PriceAsc => "Price: low to high",
            SortOrder::PriceDesc => "Price: high to low",
            SortOrder::TopSales => "Best selling",
            SortOrder::Rating => "Top rated",
        }
    }
}

/// Browse or search the live catalog. Every filter is optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SearchProducts {
    /// Full-text query (any text; matched by stems).
    #[serde(default)]
    pub q: Option<String>,
    #[serde(default)]
    pub category: Option<String>,
    #[serde(default)]
    pub subcategory: Option<String>,
    /// A shop slug.
    #[serde(default)]
    pub shop: Option<String>,
    /// Minor units, inclusive, on the price a buyer pays.
    #[serde(default)]
    pub min_price: Option<i64>,
    #[serde(default)]
    pub max_price: Option<i64>,
    /// Any of these colors.
    #[serde(default)]
    pub colors: Vec<String>,
    /// Any of these sizes.
    #[serde(default)]
    pub sizes: Vec<String>,
    #[serde(default)]
    pub min_rating: Option<f64>,
    #[serde(default)]
    pub in_stock: bool,
    /// Only products with a sale price.
    #[serde(default)]
    pub on_sale: bool,
    /// Only products whose flash sale is live.
    #[serde(default)]
    pub event: bool,
    #[serde(default)]
    pub sort: SortOrder,
    /// 1-based.
    #[serde(default)]
    pub page: Option<u32>,
    /// 1 to [`MAX_PAGE_SIZE`], default 24.
    #[serde(default)]
    pub page_size: Option<u32>,
}

/// How many results have one value of a facet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FacetCount {
    pub value: String,
    pub count: i64,
}

/// Counts for the current filters, to refine them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Facets {
    pub categories: Vec<FacetCount>,
    pub subcategories: Vec<FacetCount>,
    pub colors: Vec<FacetCount>,
    pub sizes: Vec<FacetCount>,
    pub brands: Vec<FacetCount>,
    /// Always absent now: the search index counts every match exactly. Kept
    /// so clients written against sampled counts still read the reply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sampled: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SearchResults {
    pub items: Vec<ProductSummary>,
    /// Exact: every match is counted.
    pub total: i64,
    /// Always false now (totals are exact); kept so clients that read it
    /// still do.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub total_is_lower_bound: bool,
    pub page: u32,
    pub page_size: u32,
    pub pages: u32,
    pub facets: Facets,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SuggestRequest {
    pub q: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Suggestion {
    pub title: String,
    pub slug: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Suggestions {
    pub suggestions: Vec<Suggestion>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ProductSlug {
    pub slug: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ProductId {
    pub id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UpdateProduct {
    pub id: String,
    pub product: ProductInput,
}

/// The caller's own products, for the seller dashboard.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ListMyProductsRequest {
    /// Matches titles (case-insensitive substring).
    #[serde(default)]
    pub q: Option<String>,
    #[serde(default)]
    pub status: Option<ProductStatus>,
    /// Only products in the bin.
    #[serde(default)]
    pub deleted: bool,
    /// `newest` (default), `title`, `price_asc`, `price_desc`, `stock`.
    #[serde(default)]
    pub sort: Option<String>,
    #[serde(default)]
    pub page: Option<u32>,
    #[serde(default)]
    pub page_size: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ProductPage {
    pub items: Vec<Product>,
    pub total: i64,
    pub page: u32,
    pub page_size: u32,
    pub pages: u32,
}

/// Live flash sales and new arrivals for the home page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Showcase {
    pub events: Vec<ProductSummary>,
    pub new_arrivals: Vec<ProductSummary>,
}

/// `catalog.products.showcase`: live flash sales and new arrivals.
pub struct GetShowcase;
impl Endpoint for GetShowcase {
    const SUBJECT: &'static str = "catalog.products.showcase";
    const DOMAIN: Domain = Domain::Catalog;
    const ACCESS: Access = Access::Public;
    type Request = Empty;
    type Reply = Showcase;
}

/// `catalog.product.get`: a live product by slug. Views are recorded
/// apart, with [`RecordViews`], by whoever serves the page.
pub struct GetProduct;
impl Endpoint for GetProduct {
    const SUBJECT: &'static str = "catalog.product.get";
    const DOMAIN: Domain = Domain::Catalog;
    const ACCESS: Access = Access::Public;
    type Request = ProductSlug;
    type Reply = Product;
}

/// `catalog.product.create`: a seller with a shop adds a product.
pub struct CreateProduct;
impl Endpoint for CreateProduct {
    const SUBJECT: &'static str = "catalog.product.create";
    const DOMAIN: Domain = Domain::Catalog;
    const ACCESS: Access = Access::Seller;
    type Request = ProductInput;
    type Reply = Product;
}

/// `catalog.product.update`: a seller replaces one of their products.
pub struct EditProduct;
impl Endpoint for EditProduct {
    const SUBJECT: &'static str = "catalog.product.update";
    const DOMAIN: Domain = Domain::Catalog;
    const ACCESS: Access = Access::Seller;
    type Request = UpdateProduct;
    type Reply = Product;
}

/// `catalog.product.delete`: into the bin; purged after 24 hours.
pub struct DeleteProduct;
impl Endpoint for DeleteProduct {
    const SUBJECT: &'static str = "catalog.product.delete";
    const DOMAIN: Domain = Domain::Catalog;
    const ACCESS: Access = Access::Seller;
    type Request = ProductId;
    type Reply = Product;
}

/// `catalog.product.restore`: out of the bin.
pub struct RestoreProduct;
impl Endpoint for RestoreProduct {
    const SUBJECT: &'static str = "catalog.product.restore";
    const DOMAIN: Domain = Domain::Catalog;
    const ACCESS: Access = Access::Seller;
    type Request = ProductId;
    type Reply = Product;
}

/// `catalog.product.mine`: one of the caller's products, in any state.
pub struct GetMyProduct;
impl Endpoint for GetMyProduct {
    const SUBJECT: &'static str = "catalog.product.mine";
    const DOMAIN: Domain = Domain::Catalog;
    const ACCESS: Access = Access::Seller;
    type Request = ProductId;
    type Reply = Product;
}

/// `catalog.products.mine`: the caller's products.
pub struct ListMyProducts;
impl Endpoint for ListMyProducts {
    const SUBJECT: &'static str = "catalog.products.mine";
    const DOMAIN: Domain = Domain::Catalog;
    const ACCESS: Access = Access::Seller;
    type Request = ListMyProductsRequest;
    type Reply = ProductPage;
}

/// What happened to a product.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProductChange {
    Created,
    Updated,
    Deleted,
    Restored,
    /// Gone for good (24 hours in the bin); its images go too.
    Purged,
}

/// `events.catalog.product.changed`: caches and listeners refresh on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductChanged {
    pub product_id: String,
    pub slug: String,
    pub shop_id: String,
    pub change: ProductChange,
    /// The images it had (listeners delete them on `purged`).
    pub images: Vec<String>,
}
impl Event for ProductChanged {
    const STREAM: Stream = EVENTS;
    const SUBJECT: &'static str = "events.catalog.product.changed";
}

/// `events.catalog.product.viewed`: someone opened a product page. Views
/// are announced in batches ([`ProductsViewed`]); this one-view event is
/// still read from streams written before.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductViewed {
    pub product_id: String,
    pub shop_id: String,
    /// Absent for guests.
    pub account_id: Option<String>,
    pub at: String,
    /// The browser's first-party visitor id (the edge's `bazaar_visitor`
    /// cookie): what unique visitors are counted by when no one is signed
    /// in. Absent from older edges.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visitor_id: Option<String>,
}
impl Event for ProductViewed {
    const STREAM: Stream = EVENTS;
    const SUBJECT: &'static str = "events.catalog.product.viewed";
}

/// `events.catalog.products.viewed`: product pages were opened; one event
/// for each batch of views an edge sends (at most
/// [`MAX_VIEWS_PER_BATCH`]), so a busy page costs the bus one message per
/// batch, not one per view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductsViewed {
    pub views: Vec<ProductViewed>,
}
impl Event for ProductsViewed {
    const STREAM: Stream = EVENTS;
    const SUBJECT: &'static str = "events.catalog.products.viewed";
}

/// What the view counters follow: both [`ProductsViewed`] and the one-view
/// [`ProductViewed`] of older streams.
pub const VIEW_EVENTS: &str = "events.catalog.*.viewed";

/// The views an event of [`VIEW_EVENTS`] announces (none when it is not one).
pub fn views_of(subject: &str, payload: &[u8]) -> Vec<ProductViewed> {
    match subject {
        ProductsViewed::SUBJECT => serde_json::from_slice::<ProductsViewed>(payload)
            .map(|e| e.views)
            .unwrap_or_default(),
        ProductViewed::SUBJECT => serde_json::from_slice::<ProductViewed>(payload)
            .map(|v| vec![v])
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

/// `events.catalog.products.loaded`: products were written in bulk straight
/// into the database (the seeder), without a change event each; read models
/// of the products (the search index) rebuild from the database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductsLoaded {
    /// How many products were added.
    pub products: u64,
    pub at: String,
}
impl Event for ProductsLoaded {
    const STREAM: Stream = EVENTS;
    const SUBJECT: &'static str = "events.catalog.products.loaded";
}

/// A quantity of one product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StockLine {
    pub product_id: String,
    pub quantity: i64,
}

/// Take stock for a checkout: all lines or none, once per reservation id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReserveStockRequest {
    pub reservation_id: String,
    pub lines: Vec<StockLine>,
    /// A secret only the reserving node keeps: whoever holds it may give the
    /// stock back (a failed payment has no buyer at hand to ask).
    pub release_token: String,
}

/// A line as reserved: the product as it was sold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReservedLine {
    pub product_id: String,
    pub slug: String,
    pub title: String,
    /// Left out when absent (the database tells NONE from null).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    pub shop_id: String,
    pub shop_name: String,
    pub seller: String,
    pub unit_price: i64,
    pub currency: Currency,
    pub quantity: i64,
    pub cash_on_delivery: bool,
    /// The product's category slug as it was reserved (absent from older
    /// reservations).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
}

priced!(ReservedLine: unit_price);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Reservation {
    pub reservation_id: String,
    pub lines: Vec<ReservedLine>,
    /// Set once the stock went back (payment failed, order cancelled).
    pub released: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReleaseRequest {
    pub reservation_id: String,
    /// The token the reservation was made with.
    pub release_token: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ProductIds {
    pub ids: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Products {
    /// Those that exist, in any state (check `status` and `deleted_at`).
    pub items: Vec<Product>,
}

/// `catalog.stock.reserve`: atomically take stock for a checkout; 409
/// naming what is short when any line cannot be had. Idempotent per id: a
/// repeat with the release token returns the reservation to anyone (a
/// payment arriving later has no buyer at hand); a new one needs an account.
pub struct ReserveStock;
impl Endpoint for ReserveStock {
    const SUBJECT: &'static str = "catalog.stock.reserve";
    const DOMAIN: Domain = Domain::Catalog;
    const ACCESS: Access = Access::Public;
    type Request = ReserveStockRequest;
    type Reply = Reservation;
}

/// `catalog.stock.release`: give a reservation's stock back, once, for
/// whoever holds its release token.
pub struct ReleaseStock;
impl Endpoint for ReleaseStock {
    const SUBJECT: &'static str = "catalog.stock.release";
    const DOMAIN: Domain = Domain::Catalog;
    const ACCESS: Access = Access::Public;
    type Request = ReleaseRequest;
    type Reply = Reservation;
}

/// Give part of a reservation back (one shop's order of a checkout was
/// cancelled), once per `restock_id`, for whoever holds the release token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RestockRequest {
    pub reservation_id: String,
    pub release_token: String,
    pub restock_id: String,
    pub lines: Vec<StockLine>,
}

/// `catalog.stock.restock`: return some reserved lines to stock.
pub struct RestockItems;
impl Endpoint for RestockItems {
    const SUBJECT: &'static str = "catalog.stock.restock";
    const DOMAIN: Domain = Domain::Catalog;
    const ACCESS: Access = Access::Public;
    type Request = RestockRequest;
    type Reply = Empty;
}

/// One product page served, as the edge that served it saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductViewNotice {
    pub product_id: String,
    pub shop_id: String,
    /// The page request's id: a view is recorded once per request.
    pub request_id: String,
    /// The viewer's access token as it came, verified by the catalog node
    /// (who viewed is the node's finding, never the edge's); absent for
    /// guests.
    pub authorization: Option<String>,
    pub at: String,
    /// The browser's visitor cookie, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visitor_id: Option<String>,
}

/// Product page views, batched by an edge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductViews {
    /// At most [`MAX_VIEWS_PER_BATCH`].
    pub views: Vec<ProductViewNotice>,
}

/// The most views one [`RecordViews`] call carries.
pub const MAX_VIEWS_PER_BATCH: usize = 2_000;

/// `catalog.product.views`: product pages were served (by an edge, from its
/// memory or not); the batch becomes one `events.catalog.products.viewed`.
pub struct RecordViews;
impl Endpoint for RecordViews {
    const SUBJECT: &'static str = "catalog.product.views";
    const DOMAIN: Domain = Domain::Catalog;
    const ACCESS: Access = Access::Public;
    type Request = ProductViews;
    type Reply = Empty;
}

/// `catalog.products.by_ids`: products for carts and wishlists (max 200).
pub struct GetProductsByIds;
impl Endpoint for GetProductsByIds {
    const SUBJECT: &'static str = "catalog.products.by_ids";
    const DOMAIN: Domain = Domain::Catalog;
    const ACCESS: Access = Access::Public;
    type Request = ProductIds;
    type Reply = Products;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn view_events_of_both_shapes_are_read_and_others_are_not() {
        let view = ProductViewed {
            product_id: "p1".into(),
            shop_id: "s1".into(),
            account_id: None,
            at: "2026-12-06T16:00:00Z".into(),
            visitor_id: Some("v1".into()),
        };
        let batch = ProductsViewed {
            views: vec![view.clone(), view.clone()],
        };
        let batch = serde_json::to_vec(&batch).unwrap();
        assert_eq!(views_of(ProductsViewed::SUBJECT, &batch).len(), 2);
        let one = serde_json::to_vec(&view).unwrap();
        assert_eq!(views_of(ProductViewed::SUBJECT, &one), [view]);
        assert!(views_of(ProductsViewed::SUBJECT, b"not json").is_empty());
        assert!(views_of(ProductChanged::SUBJECT, &batch).is_empty());
        for subject in [ProductViewed::SUBJECT, ProductsViewed::SUBJECT] {
            let (prefix, suffix) = VIEW_EVENTS.split_once('*').expect("a wildcard");
            assert!(subject.starts_with(prefix) && subject.ends_with(suffix));
        }
    }
}
