//! One async function per endpoint: unpacks the request and asks the store.

use bazaar_runtime::Request;
use bazaar_subjects::Empty;
use bazaar_subjects::catalog::{
    ListMyProductsRequest, Product, ProductId, ProductIds, ProductInput, ProductPage, ProductSlug,
    ProductViews, Products, ReleaseRequest, Reservation, ReserveStockRequest, RestockRequest,
    Showcase, UpdateProduct,
};

use crate::{CatalogError, CatalogStore};

type Reply<T> = Result<T, CatalogError>;

pub(crate) async fn showcase(s: &CatalogStore, _: Request<Empty>) -> Reply<Showcase> {
    s.showcase().await
}

pub(crate) async fn product(s: &CatalogStore, req: Request<ProductSlug>) -> Reply<Product> {
    s.get_public(&req.body.slug).await
}

pub(crate) async fn views(s: &CatalogStore, req: Request<ProductViews>) -> Reply<Empty> {
    s.record_views(&req.body).await?;
    Ok(Empty {})
}

pub(crate) async fn create(s: &CatalogStore, req: Request<ProductInput>) -> Reply<Product> {
    s.create(&req).await
}

pub(crate) async fn edit(s: &CatalogStore, req: Request<UpdateProduct>) -> Reply<Product> {
    s.update(&req).await
}

pub(crate) async fn delete(s: &CatalogStore, req: Request<ProductId>) -> Reply<Product> {
    s.delete(&req.caller, &req.body.id).await
}

pub(crate) async fn restore(s: &CatalogStore, req: Request<ProductId>) -> Reply<Product> {
    s.restore(&req.caller, &req.body.id).await
}

pub(crate) async fn my_product(s: &CatalogStore, req: Request<ProductId>) -> Reply<Product> {
    Ok(s.mine(&req.caller, &req.body.id).await?.product)
}

pub(crate) async fn my_products(
    s: &CatalogStore,
    req: Request<ListMyProductsRequest>,
) -> Reply<ProductPage> {
    s.list_mine(&req.caller, &req.body).await
}

pub(crate) async fn reserve(
    s: &CatalogStore,
    req: Request<ReserveStockRequest>,
) -> Reply<Reservation> {
    s.reserve(&req.caller, &req.body).await
}

pub(crate) async fn release(s: &CatalogStore, req: Request<ReleaseRequest>) -> Reply<Reservation> {
    s.release(&req.body.reservation_id, &req.body.release_token)
        .await
}

pub(crate) async fn restock(s: &CatalogStore, req: Request<RestockRequest>) -> Reply<Empty> {
    s.restock(&req.body).await?;
    Ok(Empty {})
}

pub(crate) async fn by_ids(s: &CatalogStore, req: Request<ProductIds>) -> Reply<Products> {
    s.by_ids(&req.body.ids).await
}
