//! The seller dashboard: an overview, the products table (search, status,
//! sort, pages, and the bin) and the product form with photo uploads.
//!
//! Who may come in is the nodes' decision, as everywhere: a signed-out
//! visitor is sent to sign in, and an account the catalog refuses (a buyer)
//! gets a friendly 403 page. Forms are plain HTML (multipart for photos); a
//! refused form comes back with each field's error beside it and everything
//! typed (and every photo already uploaded) still in place.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Multipart, Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use bazaar_runtime::RequestMeta;
use bazaar_subjects::admin::Category;
use bazaar_subjects::auth::Account;
use bazaar_subjects::catalog::{
    self, FlashSale, KeyValue, ListMyProductsRequest, Product, ProductId, ProductInput,
    ProductStatus, UpdateProduct,
};
use bazaar_subjects::money::BadCurrency;
use bazaar_subjects::sellers::{self, PayoutStatus, Shop};
use bazaar_subjects::{Currency, Empty, ErrorEnvelope, FieldError};
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, PrimitiveDateTime};

use crate::api::images::{MAX_IMAGE_BYTES, store_image};
use crate::error::ApiError;
use crate::extract::{Meta, Seller, Viewer};
use crate::state::EdgeState;
use crate::ui::chrome::Chrome;
use crate::ui::errors::{OnPage, PageError, Refusals, SELLERS_ONLY};
use crate::ui::forms::{Choice, ChoiceGroup, FieldErrors, read_multipart, reason};
use crate::ui::money::parse_price;
use crate::ui::query::{all, first, query_pairs, query_string};
use crate::ui::time::human_time;

/// The most photos a product has (the catalog's limit).
const MAX_IMAGES: usize = 12;
const PAGE_SIZE: u32 = 20;

pub fn routes() -> Router<EdgeState> {
    let upload_limit = DefaultBodyLimit::max(MAX_IMAGES * MAX_IMAGE_BYTES + 1024 * 1024);
    Router::new()
        .route("/seller", get(overview))
        .route("/seller/products", get(products))
        .route(
            "/seller/products/new",
            get(new_form).post(create).layer(upload_limit),
        )
        .route(
            "/seller/products/{id}/edit",
            get(edit_form).post(update).layer(upload_limit),
        )
        .route("/seller/products/{id}/delete", post(delete))
        .route("/seller/products/{id}/restore", post(restore))
        .route("/seller/payouts", get(payouts_return))
        .route(
            "/seller/payouts/connect",
            get(connect_payouts).post(connect_payouts),
        )
}

/// How the seller pages answer a refused call: the signed-out are sent to
/// sign in, accounts that do not sell get the friendly 403 page.
const REFUSALS: Refusals = Refusals::forbidden(SELLERS_ONLY);

// ---------------------------------------------------------------------------
// Overview

#[derive(Template, WebTemplate)]
#[template(path = "seller_home.html")]
struct OverviewPage {
    viewer: Option<Account>,
    chrome: Chrome,
    shop: Option<Shop>,
    /// The sellers service said there is no shop yet.
    needs_shop: bool,
    /// Card payments (Stripe Connect), once there is a shop.
    payouts: Option<PayoutStatus>,
    /// One box without Stripe: cards go through the test payment page.
    test_payments: bool,
    products: i64,
    drafts: i64,
    binned: i64,
    /// The shop's figures for the range the query picks.
    analytics: Option<crate::pages::analytics::ShopView>,
    /// Why there are none (no shop yet, a range that cannot be read).
    analytics_error: Option<String>,
}

async fn overview(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Viewer(viewer): Viewer,
    chrome: Chrome,
    RawQuery(raw): RawQuery,
) -> Result<Response, PageError> {
    if meta.authorization.is_none() {
        return Err(PageError::sign_in("/seller"));
    }
    let count = |status: Option<ProductStatus>, deleted: bool| ListMyProductsRequest {
        status,
        deleted,
        page_size: Some(1),
        ..Default::default()
    };
    let (every, draft, bin) = (
        count(None, false),
        count(Some(ProductStatus::Draft), false),
        count(None, true),
    );
    let (all_products, drafts, binned, shop, payouts, analytics) = tokio::join!(
        s.call::<catalog::ListMyProducts>(&meta, &every),
        s.call::<catalog::ListMyProducts>(&meta, &draft),
        s.call::<catalog::ListMyProducts>(&meta, &bin),
        s.call::<sellers::GetMyShop>(&meta, &Empty {}),
        s.call::<sellers::GetPayoutStatus>(&meta, &Empty {}),
        crate::pages::analytics::shop_view(&s, &meta, raw.as_deref()),
    );
    let products = all_products.on_page("/seller", REFUSALS)?.total;
    let (shop, needs_shop) = match shop {
        Ok(shop) => (Some(shop), false),
        Err(e) => (None, e.0.status == 404),
    };
    Ok(OverviewPage {
        viewer,
        chrome,
        shop,
        needs_shop,
        payouts: payouts.ok(),
        test_payments: s.inner.config.test_payments,
        products,
        drafts: drafts.map(|p| p.total).unwrap_or(0),
        binned: binned.map(|p| p.total).unwrap_or(0),
        analytics_error: analytics.as_ref().err().map(|e| e.message.clone()),
        analytics: analytics.ok(),
    }
    .into_response())
}

/// Sends the seller to Stripe's onboarding for their shop's account.
async fn connect_payouts(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
) -> Result<Redirect, PageError> {
    if meta.authorization.is_none() {
        return Err(PageError::sign_in("/seller"));
    }
    let link = s
        .call::<sellers::ConnectPayouts>(&meta, &Empty {})
        .await
        .on_page("/seller", REFUSALS)?;
    Ok(Redirect::to(&link.url))
}

/// Where Stripe's onboarding returns: the dashboard asks Stripe afresh.
async fn payouts_return() -> Redirect {
    Redirect::to("/seller#payouts")
}

// ---------------------------------------------------------------------------
// Products table

/// One product in the table.
struct Row {
    id: String,
    slug: String,
    title: String,
    image: Option<String>,
    draft: bool,
    price: String,
    was: Option<String>,
    stock: i64,
    sales: i64,
    updated: String,
    deleted: Option<String>,
}

impl Row {
    fn from_product(p: &Product) -> Self {
        Self {
            id: p.id.clone(),
            slug: p.slug.clone(),
            title: p.title.clone(),
            image: p.images.first().cloned(),
            draft: p.status == ProductStatus::Draft,
            price: p.price().to_string(),
            was: (p.price < p.regular_price).then(|| p.regular_price().to_string()),
            stock: p.stock,
            sales: p.sales,
            updated: human_time(&p.updated_at),
            deleted: p.deleted_at.as_deref().map(human_time),
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "seller_products.html")]
struct ProductsPage {
    viewer: Option<Account>,
    chrome: Chrome,
    notice: Option<&'static str>,
    error: Option<String>,
    bin: bool,
    q: String,
    statuses: Vec<Choice>,
    sorts: Vec<Choice>,
    rows: Vec<Row>,
    total: i64,
    page: u32,
    pages: u32,
    prev: Option<String>,
    next: Option<String>,
}

const SORTS: [(&str, &str); 7] = [
    ("newest", "Newest"),
    ("oldest", "Oldest"),
    ("title", "Title"),
    ("price_asc", "Price: low to high"),
    ("price_desc", "Price: high to low"),
    ("stock", "Stock"),
    ("sales", "Sales"),
];

fn notice(key: &str) -> Option<&'static str> {
    Some(match key {
        "created" => "Product created.",
        "saved" => "Product saved.",
        "deleted" => {
            "Moved to the bin. It is deleted for good after 24 hours unless you restore it."
        }
        "restored" => "Product restored.",
        _ => return None,
    })
}

async fn products(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Viewer(viewer): Viewer,
    chrome: Chrome,
    RawQuery(raw): RawQuery,
) -> Result<Response, PageError> {
    if meta.authorization.is_none() {
        return Err(PageError::sign_in("/seller/products"));
    }
    let pairs = query_pairs(raw.as_deref());
    let q = first(&pairs, "q");
    let status = first(&pairs, "status");
    let sort = Some(first(&pairs, "sort")).filter(|s| SORTS.iter().any(|(k, _)| k == s));
    let bin = crate::ui::query::is_on(&first(&pairs, "deleted"));
    let page = first(&pairs, "page")
        .parse::<u32>()
        .ok()
        .filter(|p| *p >= 1)
        .unwrap_or(1);
    let request = ListMyProductsRequest {
        q: Some(q.clone()).filter(|q| !q.is_empty()),
        status: match status.as_str() {
            "active" => Some(ProductStatus::Active),
            "draft" => Some(ProductStatus::Draft),
            _ => None,
        },
        deleted: bin,
        sort: sort.clone(),
        page: Some(page),
        page_size: Some(PAGE_SIZE),
    };
    let (list, error) = match s.call::<catalog::ListMyProducts>(&meta, &request).await {
        Ok(list) => (Some(list), None),
        Err(e) if matches!(e.0.status, 401 | 403) => {
            return Err(PageError::from(e).on_page("/seller/products", REFUSALS));
        }
        Err(e) => (None, Some(e.0.message)),
    };
    let sort = sort.unwrap_or_default();
    let base = query_string([
        ("q", q.as_str()),
        ("status", status.as_str()),
        ("sort", sort.as_str()),
        ("deleted", if bin { "1" } else { "" }),
    ]);
    let href = |n: u32| {
        let sep = if base.is_empty() { "" } else { "&" };
        format!("/seller/products?{base}{sep}page={n}")
    };
    let (rows, total, page, pages) = list.map_or((Vec::new(), 0, 1, 0), |l| {
        (
            l.items.iter().map(Row::from_product).collect(),
            l.total,
            l.page.max(1),
            l.pages,
        )
    });
    Ok(ProductsPage {
        viewer,
        chrome,
        notice: notice(&first(&pairs, "notice")),
        error,
        bin,
        statuses: [("", "Any status"), ("active", "Active"), ("draft", "Draft")]
            .into_iter()
            .map(|(v, l)| Choice::new(v, l, &status))
            .collect(),
        sorts: SORTS
            .into_iter()
            .map(|(v, l)| Choice::new(v, l, &sort))
            .collect(),
        q,
        rows,
        total,
        prev: (page > 1).then(|| href(page - 1)),
        next: (page < pages).then(|| href(page + 1)),
        page,
        pages,
    }
    .into_response())
}

async fn delete(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Path(id): Path<String>,
) -> Result<Redirect, PageError> {
    s.call::<catalog::DeleteProduct>(&meta, &ProductId { id })
        .await
        .on_page("/seller/products", REFUSALS)?;
    Ok(Redirect::to("/seller/products?notice=deleted"))
}

async fn restore(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Path(id): Path<String>,
) -> Result<Redirect, PageError> {
    s.call::<catalog::RestoreProduct>(&meta, &ProductId { id })
        .await
        .on_page("/seller/products?deleted=1", REFUSALS)?;
    Ok(Redirect::to("/seller/products?notice=restored"))
}

// ---------------------------------------------------------------------------
// The product form

/// What the product form holds, as typed (prices in whole units).
#[derive(Debug, Default, Clone)]
struct ProductForm {
    title: String,
    description: String,
    category: String,
    subcategory: String,
    tags: String,
    brand: String,
    colors: String,
    sizes: String,
    specifications: String,
    properties: String,
    regular_price: String,
    sale_price: String,
    currency: String,
    stock: String,
    warranty: String,
    cash_on_delivery: bool,
    video_url: String,
    draft: bool,
    flash_start: String,
    flash_end: String,
    /// Image ids, in display order.
    images: Vec<String>,
}

/// `2026-12-01T09:00:00Z` → `2026-12-01T09:00` (UTC), for datetime-local.
fn to_local_input(rfc3339: &str) -> String {
    let format =
        time::format_description::parse_borrowed::<1>("[year]-[month]-[day]T[hour]:[minute]");
    OffsetDateTime::parse(rfc3339, &Rfc3339)
        .ok()
        .zip(format.ok())
        .and_then(|(t, f)| t.to_offset(time::UtcOffset::UTC).format(&f).ok())
        .unwrap_or_default()
}

/// A datetime-local value (`2026-12-01T09:00`, seconds optional), read as UTC.
fn from_local_input(value: &str) -> Option<String> {
    let value = value.trim();
    let formats = [
        "[year]-[month]-[day]T[hour]:[minute]",
        "[year]-[month]-[day]T[hour]:[minute]:[second]",
        "[year]-[month]-[day] [hour]:[minute]",
    ];
    formats
        .iter()
        .find_map(|f| {
            let f = time::format_description::parse_borrowed::<1>(f).ok()?;
            PrimitiveDateTime::parse(value, &f)
                .ok()?
                .assume_utc()
                .format(&Rfc3339)
                .ok()
        })
        .or_else(|| {
            OffsetDateTime::parse(value, &Rfc3339)
                .ok()
                .and_then(|t| t.format(&Rfc3339).ok())
        })
}

fn list(text: &str) -> Vec<String> {
    text.split([',', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn pairs_text(pairs: &[KeyValue]) -> String {
    pairs
        .iter()
        .map(|kv| format!("{}: {}", kv.key, kv.value))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `name: value` lines; a line without a colon is an error naming it.
fn parse_pairs(text: &str) -> Result<Vec<KeyValue>, String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        match line.split_once(':') {
            Some((k, v)) if !k.trim().is_empty() => out.push(KeyValue {
                key: k.trim().to_owned(),
                value: v.trim().to_owned(),
            }),
            _ => {
                return Err(format!(
                    "write each line as “name: value” (line {} is not)",
                    n + 1
                ));
            }
        }
    }
    Ok(out)
}

impl ProductForm {
    fn from_product(p: &Product) -> Self {
        Self {
            title: p.title.clone(),
            description: p.description.clone(),
            category: p.category.clone(),
            subcategory: p.subcategory.clone().unwrap_or_default(),
            tags: p.tags.join(", "),
            brand: p.brand.clone().unwrap_or_default(),
            colors: p.colors.join(", "),
            sizes: p.sizes.join(", "),
            specifications: pairs_text(&p.specifications),
            properties: pairs_text(&p.properties),
            regular_price: p.regular_price().major_units(),
            sale_price: p.sale_price().map(|s| s.major_units()).unwrap_or_default(),
            currency: p.currency.to_string(),
            stock: p.stock.to_string(),
            warranty: p.warranty.clone().unwrap_or_default(),
            cash_on_delivery: p.cash_on_delivery,
            video_url: p.video_url.clone().unwrap_or_default(),
            draft: p.status == ProductStatus::Draft,
            flash_start: p
                .flash_sale
                .as_ref()
                .map(|f| to_local_input(&f.starts_at))
                .unwrap_or_default(),
            flash_end: p
                .flash_sale
                .as_ref()
                .map(|f| to_local_input(&f.ends_at))
                .unwrap_or_default(),
            images: p.images.clone(),
        }
    }

    fn from_fields(f: &[(String, String)]) -> Self {
        // Textareas keep their lines; everything else is trimmed.
        let text = |k: &str| {
            f.iter()
                .find(|(name, _)| name == k)
                .map(|(_, v)| v.replace("\r\n", "\n"))
                .unwrap_or_default()
        };
        Self {
            title: first(f, "title"),
            description: text("description"),
            category: first(f, "category"),
            subcategory: first(f, "subcategory"),
            tags: first(f, "tags"),
            brand: first(f, "brand"),
            colors: first(f, "colors"),
            sizes: first(f, "sizes"),
            specifications: text("specifications"),
            properties: text("properties"),
            regular_price: first(f, "regular_price"),
            sale_price: first(f, "sale_price"),
            currency: first(f, "currency").to_uppercase(),
            stock: first(f, "stock"),
            warranty: first(f, "warranty"),
            cash_on_delivery: crate::ui::query::is_on(&first(f, "cash_on_delivery")),
            video_url: first(f, "video_url"),
            draft: first(f, "status") == "draft",
            flash_start: first(f, "flash_start"),
            flash_end: first(f, "flash_end"),
            images: all(f, "images"),
        }
    }

    /// The catalog's input, or the fields the edge could not read.
    fn input(&self) -> Result<ProductInput, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut fail = |field: &str, message: String| {
            errors.push(FieldError {
                field: field.to_owned(),
                message,
            });
        };
        let currency = match self.currency.as_str() {
            "" => Currency::DEFAULT,
            code => code.parse().unwrap_or_else(|e: BadCurrency| {
                fail("currency", e.to_string());
                Currency::DEFAULT
            }),
        };
        let regular_price = match parse_price(&self.regular_price, currency) {
            Ok(Some(p)) => p,
            Ok(None) => {
                fail("regular_price", "enter the price".into());
                0
            }
            Err(e) => {
                fail("regular_price", e);
                0
            }
        };
        let sale_price = parse_price(&self.sale_price, currency).unwrap_or_else(|e| {
            fail("sale_price", e);
            None
        });
        let stock = match self.stock.parse::<i64>() {
            Ok(n) => n,
            Err(_) if self.stock.is_empty() => {
                fail("stock", "enter how many you have in stock".into());
                0
            }
            Err(_) => {
                fail("stock", "enter a whole number, like 10".into());
                0
            }
        };
        let specifications = parse_pairs(&self.specifications).unwrap_or_else(|e| {
            fail("specifications", e);
            Vec::new()
        });
        let properties = parse_pairs(&self.properties).unwrap_or_else(|e| {
            fail("properties", e);
            Vec::new()
        });
        let flash_sale = match (self.flash_start.is_empty(), self.flash_end.is_empty()) {
            (true, true) => None,
            (false, false) => match (
                from_local_input(&self.flash_start),
                from_local_input(&self.flash_end),
            ) {
                (Some(starts_at), Some(ends_at)) => Some(FlashSale { starts_at, ends_at }),
                _ => {
                    fail(
                        "flash_sale",
                        "give the start and end as dates and times, like 2026-12-01 09:00".into(),
                    );
                    None
                }
            },
            _ => {
                fail(
                    "flash_sale",
                    "give both the start and the end of the flash sale".into(),
                );
                None
            }
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        let opt = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
        Ok(ProductInput {
            title: self.title.clone(),
            description: self.description.clone(),
            category: self.category.clone(),
            subcategory: opt(&self.subcategory),
            tags: list(&self.tags),
            brand: opt(&self.brand),
            colors: list(&self.colors),
            sizes: list(&self.sizes),
            specifications,
            properties,
            images: self.images.clone(),
            regular_price,
            sale_price,
            currency: Some(currency),
            stock,
            warranty: opt(&self.warranty),
            cash_on_delivery: self.cash_on_delivery,
            video_url: opt(&self.video_url),
            status: if self.draft {
                ProductStatus::Draft
            } else {
                ProductStatus::Active
            },
            flash_sale,
        })
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "seller_product_form.html")]
struct FormPage {
    viewer: Option<Account>,
    chrome: Chrome,
    heading: String,
    action: String,
    /// The product's public page, when it has one.
    public_href: Option<String>,
    form: ProductForm,
    errors: FieldErrors,
    error: Option<String>,
    needs_shop: bool,
    categories: Vec<Choice>,
    subcategories: Vec<ChoiceGroup>,
    max_images: usize,
}

/// What is being edited: a new product, or one that exists.
enum Target {
    New,
    Existing(Box<Product>),
}

impl Target {
    fn action(&self) -> String {
        match self {
            Target::New => "/seller/products/new".into(),
            Target::Existing(p) => format!("/seller/products/{}/edit", p.id),
        }
    }
}

/// Puts a node's field errors beside the form's fields; prices are typed
/// in whole units here.
fn field_errors(e: &ErrorEnvelope) -> FieldErrors {
    let mut errors = FieldErrors::default();
    for f in &e.fields {
        errors.add(
            &f.field,
            &f.message.replace(" (in minor units, e.g. cents)", ""),
        );
    }
    errors
}

const FORM_FIELDS: [&str; 18] = [
    "title",
    "description",
    "category",
    "subcategory",
    "tags",
    "brand",
    "colors",
    "sizes",
    "specifications",
    "properties",
    "images",
    "regular_price",
    "sale_price",
    "currency",
    "stock",
    "warranty",
    "video_url",
    "flash_sale",
];

#[allow(clippy::too_many_arguments)]
async fn render_form(
    s: &EdgeState,
    meta: &RequestMeta,
    viewer: Option<Account>,
    chrome: Chrome,
    target: &Target,
    form: ProductForm,
    failure: Option<ErrorEnvelope>,
    needs_shop: bool,
    status: StatusCode,
) -> Response {
    let categories: Vec<Category> = s
        .categories(meta)
        .await
        .map(|c| c.categories)
        .unwrap_or_default();
    let (errors, error) = match &failure {
        None => (FieldErrors::default(), None),
        Some(e) => {
            let errors = field_errors(e);
            let unplaced = errors.any_outside(&FORM_FIELDS);
            let message = if errors.is_empty() || unplaced {
                e.message.clone()
            } else {
                "Please correct the marked fields.".to_owned()
            };
            (errors, Some(message))
        }
    };
    let (heading, public_href) = match target {
        Target::New => ("New product".to_owned(), None),
        Target::Existing(p) => (
            format!("Edit “{}”", p.title),
            (p.status == ProductStatus::Active && p.deleted_at.is_none())
                .then(|| format!("/products/{}", p.slug)),
        ),
    };
    let page = FormPage {
        viewer,
        chrome,
        heading,
        action: target.action(),
        public_href,
        categories: categories
            .iter()
            .map(|c| Choice::new(&c.slug, &c.name, &form.category))
            .collect(),
        subcategories: categories
            .iter()
            .filter(|c| !c.subcategories.is_empty())
            .map(|c| ChoiceGroup {
                label: c.name.clone(),
                choices: c
                    .subcategories
                    .iter()
                    .map(|sub| Choice {
                        value: sub.slug.clone(),
                        label: sub.name.clone(),
                        selected: c.slug == form.category && sub.slug == form.subcategory,
                    })
                    .collect(),
            })
            .collect(),
        form,
        errors,
        error,
        needs_shop,
        max_images: MAX_IMAGES,
    };
    (status, page).into_response()
}

/// Whether the sellers service says the caller has no shop yet.
async fn lacks_shop(s: &EdgeState, meta: &RequestMeta) -> bool {
    matches!(
        s.call::<sellers::GetMyShop>(meta, &Empty {}).await,
        Err(ApiError(e)) if e.status == 404
    )
}

async fn new_form(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Viewer(viewer): Viewer,
    _: Seller,
    chrome: Chrome,
) -> Response {
    let needs_shop = lacks_shop(&s, &meta).await;
    let form = ProductForm {
        currency: Currency::DEFAULT.to_string(),
        ..Default::default()
    };
    render_form(
        &s,
        &meta,
        viewer,
        chrome,
        &Target::New,
        form,
        None,
        needs_shop,
        StatusCode::OK,
    )
    .await
}

/// One of the caller's products, or the page that says why not.
async fn mine(s: &EdgeState, meta: &RequestMeta, id: String) -> Result<Product, PageError> {
    let next = format!("/seller/products/{id}/edit");
    if meta.authorization.is_none() {
        return Err(PageError::sign_in(&next));
    }
    s.call::<catalog::GetMyProduct>(meta, &ProductId { id })
        .await
        .on_page(&next, REFUSALS)
}

async fn edit_form(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Viewer(viewer): Viewer,
    chrome: Chrome,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let product = mine(&s, &meta, id).await?;
    let form = ProductForm::from_product(&product);
    let failure = product
        .deleted_at
        .as_ref()
        .map(|_| ErrorEnvelope::conflict("This product is in the bin: restore it before editing."));
    Ok(render_form(
        &s,
        &meta,
        viewer,
        chrome,
        &Target::Existing(Box::new(product)),
        form,
        failure,
        false,
        StatusCode::OK,
    )
    .await)
}

/// Reads the posted form, stores its new photos (as `uploader`'s) after the
/// kept ones, and says what went wrong with any photo.
async fn read_form(
    s: &EdgeState,
    multipart: Multipart,
    uploader: Option<&str>,
) -> Result<(ProductForm, Vec<FieldError>), ApiError> {
    let posted = read_multipart(multipart, &["files"]).await?;
    let mut form = ProductForm::from_fields(&posted.fields);
    let removed = all(&posted.fields, "remove_images");
    form.images.retain(|id| !removed.contains(id));
    let mut problems = Vec::new();
    for file in posted.files {
        let name = file.file_name.as_deref().unwrap_or("photo");
        if form.images.len() >= MAX_IMAGES {
            problems.push(format!("{name}: a product has at most {MAX_IMAGES} photos"));
            continue;
        }
        match store_image(s, file.bytes, uploader).await {
            Ok(img) => form.images.push(img.id),
            Err(ApiError(e)) => problems.push(format!("{name}: {}", reason(&e))),
        }
    }
    let errors = if problems.is_empty() {
        Vec::new()
    } else {
        vec![FieldError {
            field: "images".into(),
            message: problems.join("; "),
        }]
    };
    Ok((form, errors))
}

/// Saves a posted form: creates, or replaces `target`.
async fn save(
    s: EdgeState,
    meta: RequestMeta,
    viewer: Option<Account>,
    chrome: Chrome,
    target: Target,
    multipart: Multipart,
) -> Result<Response, PageError> {
    // What was posted, or the form to show again with why not.
    let uploader = viewer.as_ref().map(|v| v.id.clone());
    let checked = match read_form(&s, multipart, uploader.as_deref()).await {
        Err(ApiError(e)) => {
            let form = match &target {
                Target::New => ProductForm::default(),
                Target::Existing(p) => ProductForm::from_product(p),
            };
            let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
            Err((form, e, status))
        }
        Ok((form, mut errors)) => match form.input() {
            Ok(input) if errors.is_empty() => Ok((form, input)),
            Ok(_) => Err((
                form,
                ErrorEnvelope::validation(errors),
                StatusCode::UNPROCESSABLE_ENTITY,
            )),
            Err(mut more) => {
                errors.append(&mut more);
                Err((
                    form,
                    ErrorEnvelope::validation(errors),
                    StatusCode::UNPROCESSABLE_ENTITY,
                ))
            }
        },
    };
    let (form, input) = match checked {
        Ok(checked) => checked,
        Err((form, e, status)) => {
            return Ok(render_form(
                &s,
                &meta,
                viewer,
                chrome,
                &target,
                form,
                Some(e),
                false,
                status,
            )
            .await);
        }
    };
    let (result, done) = match &target {
        Target::New => (
            s.call::<catalog::CreateProduct>(&meta, &input).await,
            "created",
        ),
        Target::Existing(p) => (
            s.call::<catalog::EditProduct>(
                &meta,
                &UpdateProduct {
                    id: p.id.clone(),
                    product: input,
                },
            )
            .await,
            "saved",
        ),
    };
    Ok(match result {
        Ok(_) => Redirect::to(&format!("/seller/products?notice={done}")).into_response(),
        Err(ApiError(e)) if matches!(e.status, 401 | 403) => {
            return Err(PageError::from(e).on_page(&target.action(), REFUSALS));
        }
        Err(ApiError(mut e)) => {
            let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
            let needs_shop = matches!(target, Target::New) && e.status == 409;
            if needs_shop {
                e.message = "Create your shop first: products are sold from a shop.".into();
            }
            render_form(
                &s,
                &meta,
                viewer,
                chrome,
                &target,
                form,
                Some(e),
                needs_shop,
                status,
            )
            .await
        }
    })
}

async fn create(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Viewer(viewer): Viewer,
    // Who may post is settled before any photo is read or stored.
    _: Seller,
    chrome: Chrome,
    multipart: Multipart,
) -> Result<Response, PageError> {
    save(s, meta, viewer, chrome, Target::New, multipart).await
}

async fn update(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Viewer(viewer): Viewer,
    chrome: Chrome,
    Path(id): Path<String>,
    multipart: Multipart,
) -> Result<Response, PageError> {
    let product = mine(&s, &meta, id).await?;
    save(
        s,
        meta,
        viewer,
        chrome,
        Target::Existing(Box::new(product)),
        multipart,
    )
    .await
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failing test should stop right there
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn a_filled_form_becomes_a_product_input() {
        let form = ProductForm::from_fields(&fields(&[
            ("title", " Lamp "),
            ("description", "<p>Bright</p>\r\nreally"),
            ("category", "home"),
            ("subcategory", ""),
            ("tags", "light, desk ,, lamp"),
            ("colors", "red,blue"),
            ("sizes", ""),
            (
                "specifications",
                "Weight: 1.2 kg\r\n\r\nHeight: 40 cm: tall",
            ),
            ("properties", ""),
            ("regular_price", "129.99"),
            ("sale_price", "99"),
            ("currency", "usd"),
            ("stock", "7"),
            ("cash_on_delivery", "1"),
            ("status", "draft"),
            ("flash_start", "2030-12-01T09:00"),
            ("flash_end", "2030-12-02T09:00"),
            ("images", "a"),
            ("images", "b"),
        ]));
        let input = form.input().unwrap();
        assert_eq!(input.title, "Lamp");
        assert_eq!(input.description, "<p>Bright</p>\nreally");
        assert_eq!(input.subcategory, None);
        assert_eq!(input.tags, ["light", "desk", "lamp"]);
        assert_eq!(input.colors, ["red", "blue"]);
        assert_eq!(input.specifications.len(), 2);
        assert_eq!(input.specifications[1].value, "40 cm: tall");
        assert_eq!(input.regular_price, 12999);
        assert_eq!(input.sale_price, Some(9900));
        assert_eq!(input.currency, Some(Currency::USD));
        assert!(input.cash_on_delivery);
        assert_eq!(input.status, ProductStatus::Draft);
        let sale = input.flash_sale.unwrap();
        assert_eq!(sale.starts_at, "2030-12-01T09:00:00Z");
        assert_eq!(to_local_input(&sale.ends_at), "2030-12-02T09:00");
        assert_eq!(input.images, ["a", "b"]);
    }

    #[test]
    fn unreadable_fields_are_named() {
        let form = ProductForm::from_fields(&fields(&[
            ("regular_price", "cheap"),
            ("stock", "a few"),
            ("specifications", "no colon here"),
            ("flash_start", "2030-12-01T09:00"),
        ]));
        let errors = form.input().unwrap_err();
        let names: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            names,
            ["regular_price", "stock", "specifications", "flash_sale"]
        );
    }
}
