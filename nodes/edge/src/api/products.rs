//! REST routes for the catalog: browsing and search for everyone, product
//! management for sellers (the catalog node checks who owns what).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use bazaar_subjects::catalog::{
    self, ListMyProductsRequest, Product, ProductId, ProductInput, ProductPage, ProductSlug,
    SearchProducts, SearchResults, Showcase, SuggestRequest, Suggestions, UpdateProduct,
};
use bazaar_subjects::sellers::{GetShopCard, ShopId};
use bazaar_subjects::{Empty, ErrorEnvelope};
use serde::Deserialize;
use utoipa::OpenApi;

use std::sync::Arc;

use crate::error::ApiError;
use crate::extract::{ApiJson, FormQuery, Meta};
use crate::product_pages::KeptPage;
pub use crate::product_pages::ProductView;
use crate::state::{EdgeState, Relayed};

#[derive(OpenApi)]
#[openapi(
    paths(
        search, suggest, showcase, product, create, list_mine, get_mine, update, delete, restore
    ),
    // Named only by query parameters, which utoipa does not collect.
    components(schemas(catalog::SortOrder, catalog::ProductStatus))
)]
pub struct Doc;

pub fn routes() -> Router<EdgeState> {
    Router::new()
        .route("/api/products", get(search))
        .route("/api/products/{slug}", get(product))
        .route("/api/search/suggest", get(suggest))
        .route("/api/showcase", get(showcase))
        .route("/api/seller/products", get(list_mine).post(create))
        .route(
            "/api/seller/products/{id}",
            get(get_mine).put(update).delete(delete),
        )
        .route("/api/seller/products/{id}/restore", post(restore))
}

/// Search and browse live products: full-text `q`, filters, sort, pages and
/// facet counts. Repeat `colors`/`sizes` for several values.
#[utoipa::path(get, path = "/api/products", tag = "catalog",
    params(
        ("q" = Option<String>, Query, description = "words to search for (stemmed)"),
        ("category" = Option<String>, Query), ("subcategory" = Option<String>, Query),
        ("shop" = Option<String>, Query, description = "shop slug"),
        ("min_price" = Option<i64>, Query, minimum = 0, description = "minor units"),
        ("max_price" = Option<i64>, Query, minimum = 0, description = "minor units, at least `min_price`"),
        ("colors" = Option<Vec<String>>, Query, max_items = 30), ("sizes" = Option<Vec<String>>, Query, max_items = 30),
        ("min_rating" = Option<f64>, Query, minimum = 0, maximum = 5), ("in_stock" = Option<bool>, Query),
        ("on_sale" = Option<bool>, Query), ("event" = Option<bool>, Query, description = "live flash sales only"),
        ("sort" = Option<catalog::SortOrder>, Query),
        ("page" = Option<u32>, Query, minimum = 1, description = "1-based; `page` × `page_size` at most 10,000"),
        ("page_size" = Option<u32>, Query, minimum = 1, maximum = 60, description = "default 24"),
    ),
    responses((status = 200, body = SearchResults), (status = 400, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope)))]
pub async fn search(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    FormQuery(query): FormQuery<SearchProducts>,
) -> Result<Relayed<SearchResults>, ApiError> {
    s.relay::<bazaar_subjects::search::SearchCatalog>(&meta, &query)
        .await
}

#[derive(Debug, Deserialize)]
pub struct SuggestQuery {
    #[serde(default)]
    q: String,
}

/// Title completions for a search box.
#[utoipa::path(get, path = "/api/search/suggest", tag = "catalog",
    params(("q" = String, Query, description = "what has been typed so far")),
    responses((status = 200, body = Suggestions)))]
pub async fn suggest(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    FormQuery(query): FormQuery<SuggestQuery>,
) -> Result<Relayed<Suggestions>, ApiError> {
    s.relay::<bazaar_subjects::search::Suggest>(&meta, &SuggestRequest { q: query.q })
        .await
}

/// Live flash sales and new arrivals, for the home page.
#[utoipa::path(get, path = "/api/showcase", tag = "catalog",
    responses((status = 200, body = Showcase)))]
pub async fn showcase(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
) -> Result<Relayed<Showcase>, ApiError> {
    s.relay::<catalog::GetShowcase>(&meta, &Empty {}).await
}

/// The product page's product with its shop card, from the edge's memory
/// when nothing changed since it was read; records a view either way.
pub(crate) async fn product_view(
    s: &EdgeState,
    meta: &bazaar_runtime::RequestMeta,
    slug: String,
) -> Result<Arc<KeptPage>, ApiError> {
    let pages = &s.inner.pages;
    let page = match pages.page(&slug) {
        Some(page) => page,
        None => {
            let generation = pages.generation();
            let product = s
                .call::<catalog::GetProduct>(meta, &ProductSlug { slug })
                .await?;
            let shop = match pages.card(&product.shop_id) {
                Some(card) => Some(card),
                None => {
                    let id = ShopId {
                        id: product.shop_id.clone(),
                    };
                    let card = s.call::<GetShopCard>(meta, &id).await.ok();
                    if let Some(card) = &card {
                        pages.keep_card(card.clone(), generation);
                    }
                    card
                }
            };
            pages.keep_page(ProductView { product, shop }, generation)
        }
    };
    s.inner.views.record(meta, &page);
    Ok(page)
}

/// A live product by slug, with its shop.
#[utoipa::path(get, path = "/api/products/{slug}", tag = "catalog",
    params(("slug" = String, Path)),
    responses((status = 200, body = ProductView), (status = 404, body = ErrorEnvelope)))]
pub async fn product(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Path(slug): Path<String>,
) -> Result<Relayed<ProductView>, ApiError> {
    let page = product_view(&s, &meta, slug).await?;
    Ok(Relayed::encoded(page.json.clone()))
}

/// Add a product to the caller's shop (sellers).
#[utoipa::path(post, path = "/api/seller/products", tag = "seller products", request_body = ProductInput,
    responses((status = 201, body = Product), (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope),
              (status = 409, body = ErrorEnvelope, description = "no shop yet"), (status = 422, body = ErrorEnvelope)))]
pub async fn create(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    ApiJson(input): ApiJson<ProductInput>,
) -> Result<(StatusCode, Json<Product>), ApiError> {
    let product = s.call::<catalog::CreateProduct>(&meta, &input).await?;
    Ok((StatusCode::CREATED, Json(product)))
}

/// The caller's products (sellers): search by title, filter by status, the bin.
#[utoipa::path(get, path = "/api/seller/products", tag = "seller products",
    params(("q" = Option<String>, Query), ("status" = Option<catalog::ProductStatus>, Query),
           ("deleted" = Option<bool>, Query, description = "the bin"),
           ("sort" = Option<String>, Query, pattern = "^(newest|oldest|title|price_asc|price_desc|stock|sales)$",
            description = "newest, oldest, title, price_asc, price_desc, stock, sales"),
           ("page" = Option<u32>, Query, minimum = 1, maximum = 10000),
           ("page_size" = Option<u32>, Query, minimum = 1, maximum = 100)),
    responses((status = 200, body = ProductPage), (status = 403, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope)))]
pub async fn list_mine(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    FormQuery(query): FormQuery<ListMyProductsRequest>,
) -> Result<Json<ProductPage>, ApiError> {
    Ok(Json(
        s.call::<catalog::ListMyProducts>(&meta, &query).await?,
    ))
}

/// One of the caller's products, in any state.
#[utoipa::path(get, path = "/api/seller/products/{id}", tag = "seller products",
    params(("id" = String, Path)),
    responses((status = 200, body = Product), (status = 404, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope)))]
pub async fn get_mine(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Path(id): Path<String>,
) -> Result<Json<Product>, ApiError> {
    Ok(Json(
        s.call::<catalog::GetMyProduct>(&meta, &ProductId { id })
            .await?,
    ))
}

/// Replace one of the caller's products (the slug stays).
#[utoipa::path(put, path = "/api/seller/products/{id}", tag = "seller products", request_body = ProductInput,
    params(("id" = String, Path)),
    responses((status = 200, body = Product), (status = 404, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope)))]
pub async fn update(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Path(id): Path<String>,
    ApiJson(product): ApiJson<ProductInput>,
) -> Result<Json<Product>, ApiError> {
    Ok(Json(
        s.call::<catalog::EditProduct>(&meta, &UpdateProduct { id, product })
            .await?,
    ))
}

/// Move one of the caller's products to the bin (purged after 24 hours).
#[utoipa::path(delete, path = "/api/seller/products/{id}", tag = "seller products",
    params(("id" = String, Path)),
    responses((status = 200, body = Product), (status = 404, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope)))]
pub async fn delete(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Path(id): Path<String>,
) -> Result<Json<Product>, ApiError> {
    Ok(Json(
        s.call::<catalog::DeleteProduct>(&meta, &ProductId { id })
            .await?,
    ))
}

/// Take one of the caller's products out of the bin.
#[utoipa::path(post, path = "/api/seller/products/{id}/restore", tag = "seller products",
    params(("id" = String, Path)),
    responses((status = 200, body = Product), (status = 404, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope)))]
pub async fn restore(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Path(id): Path<String>,
) -> Result<Json<Product>, ApiError> {
    Ok(Json(
        s.call::<catalog::RestoreProduct>(&meta, &ProductId { id })
            .await?,
    ))
}
