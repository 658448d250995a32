//! The storefront: the home page (banner, categories, flash sales, new
//! arrivals, top shops), the product listing that is also the search results
//! page, and the product page. Everything is in the URL and works without
//! JavaScript; `static/storefront.js` only makes countdowns tick, suggests
//! search words and swaps gallery images in place.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bazaar_subjects::admin::{Category, SiteConfig};
use bazaar_subjects::auth::Account;
use bazaar_subjects::catalog::{
    self, FacetCount, Product, ProductSummary, SearchProducts, SearchResults, SortOrder,
};
use bazaar_subjects::recommend::{
    ForYouRequest, RecommendForYou, Recommendations, SimilarProducts, SimilarRequest,
};
use bazaar_subjects::sellers::{self, ShopCard, TopShopsRequest};
use bazaar_subjects::{Currency, Empty};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::extract::{Meta, Viewer};
use crate::state::EdgeState;
use crate::ui::chrome::Chrome;
use crate::ui::errors::PageError;
use crate::ui::forms::{Choice, ChoiceGroup};
use crate::ui::money::parse_price;
use crate::ui::query::{all, first, is_on, query_pairs, query_string};
use crate::ui::time::human_time;

pub fn routes() -> Router<EdgeState> {
    Router::new()
        .route("/", get(home))
        .route("/products", get(listing))
        .route("/products/{slug}", get(product_page))
}

// ---------------------------------------------------------------------------
// Cards

/// A flash sale's end, for a countdown: machine time and readable time.
pub(crate) struct Ends {
    pub iso: String,
    pub human: String,
}

impl Ends {
    fn new(rfc3339: &str) -> Self {
        Self {
            iso: rfc3339.to_owned(),
            human: human_time(rfc3339),
        }
    }
}

/// A product as a result card shows it.
pub(crate) struct Card {
    pub slug: String,
    pub title: String,
    pub image: Option<String>,
    pub price: String,
    /// The regular price, struck through, when on sale.
    pub was: Option<String>,
    pub rating: Option<String>,
    pub rating_count: i64,
    pub shop_name: String,
    pub in_stock: bool,
    pub event_live: bool,
    pub ends: Option<Ends>,
    /// Escaped by the catalog node with `<mark>` around matches.
    pub snippet_html: Option<String>,
}

impl Card {
    pub(crate) fn from_summary(p: &ProductSummary) -> Self {
        Self {
            slug: p.slug.clone(),
            title: p.title.clone(),
            image: p.image.clone(),
            price: p.price().to_string(),
            was: (p.price < p.regular_price).then(|| p.regular_price().to_string()),
            rating: (p.rating_count > 0).then(|| format!("{:.1}", p.rating_avg)),
            rating_count: p.rating_count,
            shop_name: p.shop_name.clone(),
            in_stock: p.in_stock,
            event_live: p.event_live,
            ends: p
                .flash_sale
                .as_ref()
                .filter(|_| p.event_live)
                .map(|f| Ends::new(&f.ends_at)),
            snippet_html: p.snippet_html.clone(),
        }
    }
}

fn default_site() -> SiteConfig {
    SiteConfig {
        name: "Bazaar".into(),
        tagline: String::new(),
        logo_url: None,
        banner_url: None,
        revision: 0,
    }
}

// ---------------------------------------------------------------------------
// Home

#[derive(Template, WebTemplate)]
#[template(path = "home.html")]
struct HomePage {
    viewer: Option<Account>,
    chrome: Chrome,
    site: SiteConfig,
    /// `None` when the admin service did not answer.
    categories: Option<Vec<Category>>,
    /// `None` when the catalog did not answer.
    events: Option<Vec<Card>>,
    arrivals: Option<Vec<Card>>,
    /// `None` when the sellers service did not answer: the section hides.
    shops: Option<Vec<ShopTile>>,
    /// "Recommended for you": empty (the section hides) when the recommend
    /// node has nothing or does not answer.
    recommended: Vec<Card>,
}

/// Product cards of a recommendations answer; none when the recommend node
/// did not answer, so its section hides instead of failing the page.
pub(crate) fn recommendation_cards<E>(answer: Result<Recommendations, E>) -> Vec<Card> {
    answer
        .map(|r| r.items.iter().map(Card::from_summary).collect())
        .unwrap_or_default()
}

/// How many products a recommendations section shows.
pub(crate) const RECOMMENDATION_CARDS: u32 = 8;

/// A shop in the home page's ranking.
struct ShopTile {
    slug: String,
    name: String,
    initial: String,
    avatar_image: Option<String>,
    followers: i64,
    rating: Option<String>,
}

impl ShopTile {
    fn from_card(c: ShopCard) -> Self {
        Self {
            initial: c
                .name
                .chars()
                .next()
                .map(|c| c.to_uppercase().to_string())
                .unwrap_or_default(),
            rating: (c.rating_count > 0).then(|| format!("{:.1}", c.rating_avg)),
            slug: c.slug,
            name: c.name,
            avatar_image: c.avatar_image,
            followers: c.followers,
        }
    }
}

async fn home(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Viewer(viewer): Viewer,
    chrome: Chrome,
) -> Response {
    let (categories, showcase, shops, recommended) = tokio::join!(
        s.categories(&meta),
        s.call::<catalog::GetShowcase>(&meta, &Empty {}),
        s.call::<sellers::TopShops>(&meta, &TopShopsRequest { limit: Some(8) }),
        s.call::<RecommendForYou>(
            &meta,
            &ForYouRequest {
                limit: RECOMMENDATION_CARDS
            }
        ),
    );
    let showcase = showcase.ok();
    HomePage {
        viewer,
        site: chrome.site.clone().unwrap_or_else(|_| default_site()),
        chrome,
        categories: categories.ok().map(|c| c.categories),
        events: showcase
            .as_ref()
            .map(|sc| sc.events.iter().map(Card::from_summary).collect()),
        arrivals: showcase
            .as_ref()
            .map(|sc| sc.new_arrivals.iter().map(Card::from_summary).collect()),
        shops: shops
            .ok()
            .map(|s| s.shops.into_iter().map(ShopTile::from_card).collect()),
        recommended: recommendation_cards(recommended),
    }
    .into_response()
}

// ---------------------------------------------------------------------------
// Listing and search

/// What the listing's filter form holds, as typed (prices in whole units).
#[derive(Debug, Default, Clone)]
struct ListingForm {
    q: String,
    category: String,
    subcategory: String,
    shop: String,
    min: String,
    max: String,
    colors: Vec<String>,
    sizes: Vec<String>,
    min_rating: String,
    in_stock: bool,
    on_sale: bool,
    event: bool,
    sort: String,
}

impl ListingForm {
    fn from_pairs(pairs: &[(String, String)]) -> Self {
        Self {
            q: first(pairs, "q"),
            category: first(pairs, "category"),
            subcategory: first(pairs, "subcategory"),
            shop: first(pairs, "shop"),
            min: first(pairs, "min"),
            max: first(pairs, "max"),
            colors: all(pairs, "colors"),
            sizes: all(pairs, "sizes"),
            min_rating: first(pairs, "min_rating"),
            in_stock: is_on(&first(pairs, "in_stock")),
            on_sale: is_on(&first(pairs, "on_sale")),
            event: is_on(&first(pairs, "event")),
            sort: first(pairs, "sort"),
        }
    }

    fn sort_order(&self) -> SortOrder {
        SortOrder::ALL
            .into_iter()
            .find(|o| o.as_str() == self.sort)
            .unwrap_or_default()
    }

    /// The catalog's request, or what is wrong with the form.
    fn request(&self, page: u32) -> Result<SearchProducts, Vec<String>> {
        let mut errors = Vec::new();
        let mut price = |label: &str, text: &str| match parse_price(text, Currency::DEFAULT) {
            Ok(v) => v,
            Err(e) => {
                errors.push(format!("{label} price: {e}"));
                None
            }
        };
        let min_price = price("Lowest", &self.min);
        let max_price = price("Highest", &self.max);
        let min_rating = if self.min_rating.is_empty() {
            None
        } else {
            match self.min_rating.parse::<f64>() {
                Ok(r) if r.is_finite() => Some(r),
                _ => {
                    errors.push("Rating: choose a number of stars from 0 to 5".into());
                    None
                }
            }
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        let opt = |s: &str| Some(s.to_owned()).filter(|s| !s.is_empty());
        Ok(SearchProducts {
            q: opt(&self.q),
            category: opt(&self.category),
            subcategory: opt(&self.subcategory),
            shop: opt(&self.shop),
            min_price,
            max_price,
            colors: self.colors.clone(),
            sizes: self.sizes.clone(),
            min_rating,
            in_stock: self.in_stock,
            on_sale: self.on_sale,
            event: self.event,
            sort: self.sort_order(),
            page: Some(page),
            page_size: Some(PAGE_SIZE),
        })
    }

    /// The form as a query string (without the page), for links that keep it.
    fn query(&self) -> String {
        let on = |b: bool| if b { "1" } else { "" };
        let mut pairs: Vec<(&str, &str)> = vec![
            ("q", &self.q),
            ("category", &self.category),
            ("subcategory", &self.subcategory),
            ("shop", &self.shop),
            ("min", &self.min),
            ("max", &self.max),
        ];
        pairs.extend(self.colors.iter().map(|c| ("colors", c.as_str())));
        pairs.extend(self.sizes.iter().map(|c| ("sizes", c.as_str())));
        pairs.extend([
            ("min_rating", self.min_rating.as_str()),
            ("in_stock", on(self.in_stock)),
            ("on_sale", on(self.on_sale)),
            ("event", on(self.event)),
        ]);
        if self.sort_order() != SortOrder::Relevance {
            pairs.push(("sort", self.sort_order().as_str()));
        }
        query_string(pairs)
    }

    fn is_filtered(&self) -> bool {
        !self.query().is_empty()
    }

    /// Whether anything narrows the results besides the search words.
    fn has_filters(&self) -> bool {
        let q = ListingForm {
            q: String::new(),
            sort: String::new(),
            ..self.clone()
        };
        q.is_filtered()
    }
}

const PAGE_SIZE: u32 = 24;

/// A checkbox for one facet value.
struct Check {
    value: String,
    count: Option<i64>,
    checked: bool,
}

fn checks(facets: &[FacetCount], chosen: &[String]) -> Vec<Check> {
    let mut out: Vec<Check> = facets
        .iter()
        .map(|f| Check {
            value: f.value.clone(),
            count: Some(f.count),
            checked: chosen.iter().any(|c| c.eq_ignore_ascii_case(&f.value)),
        })
        .collect();
    for c in chosen {
        if !out.iter().any(|o| o.value.eq_ignore_ascii_case(c)) {
            out.push(Check {
                value: c.clone(),
                count: None,
                checked: true,
            });
        }
    }
    out
}

/// One link of the pagination.
struct PageLink {
    /// `None` for a gap (`…`).
    number: Option<u32>,
    href: String,
    current: bool,
}

fn page_links(base: &str, page: u32, pages: u32) -> Vec<PageLink> {
    let mut wanted: Vec<u32> = vec![1, pages];
    wanted.extend(page.saturating_sub(2).max(1)..=(page + 2).min(pages));
    wanted.sort_unstable();
    wanted.dedup();
    let mut out = Vec::new();
    let mut last = 0;
    for n in wanted.into_iter().filter(|n| *n >= 1) {
        if n > last + 1 {
            out.push(PageLink {
                number: None,
                href: String::new(),
                current: false,
            });
        }
        out.push(PageLink {
            number: Some(n),
            href: page_href(base, n),
            current: n == page,
        });
        last = n;
    }
    out
}

fn page_href(base: &str, page: u32) -> String {
    match (base.is_empty(), page) {
        (true, 1) => "/products".to_owned(),
        (true, n) => format!("/products?page={n}"),
        (false, 1) => format!("/products?{base}"),
        (false, n) => format!("/products?{base}&page={n}"),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "listing.html")]
struct ListingPage {
    viewer: Option<Account>,
    chrome: Chrome,
    form: ListingForm,
    heading: String,
    errors: Vec<String>,
    /// The errors are about the filters (else the catalog is unavailable).
    filters_refused: bool,
    /// `None` when there are no results to show (an error).
    results: Option<Vec<Card>>,
    total: i64,
    /// There are more than `total` (a broad search is not counted to the
    /// end), and the facet counts are of the first `total` matches.
    total_is_lower_bound: bool,
    page: u32,
    pages: u32,
    prev: Option<String>,
    next: Option<String>,
    page_links: Vec<PageLink>,
    categories: Vec<Choice>,
    subcategories: Vec<ChoiceGroup>,
    colors: Vec<Check>,
    sizes: Vec<Check>,
    sorts: Vec<Choice>,
    ratings: Vec<Choice>,
}

async fn listing(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Viewer(viewer): Viewer,
    chrome: Chrome,
    RawQuery(raw): RawQuery,
) -> Response {
    let pairs = query_pairs(raw.as_deref());
    let form = ListingForm::from_pairs(&pairs);
    let page = first(&pairs, "page")
        .parse::<u32>()
        .ok()
        .filter(|p| *p >= 1)
        .unwrap_or(1);
    let categories = s
        .categories(&meta)
        .await
        .map(|c| c.categories)
        .unwrap_or_default();
    let (status, errors, results) = match form.request(page) {
        Err(errors) => (StatusCode::UNPROCESSABLE_ENTITY, errors, None),
        Ok(request) => match s
            .call::<bazaar_subjects::search::SearchCatalog>(&meta, &request)
            .await
        {
            Ok(r) => (StatusCode::OK, Vec::new(), Some(r)),
            Err(e) => {
                let status =
                    StatusCode::from_u16(e.0.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                let errors = if e.0.fields.is_empty() {
                    vec![e.0.message]
                } else {
                    e.0.fields.into_iter().map(|f| f.message).collect()
                };
                (status, errors, None)
            }
        },
    };
    let category_name = |slug: &str| {
        categories
            .iter()
            .find(|c| c.slug == slug)
            .map_or_else(|| slug.to_owned(), |c| c.name.clone())
    };
    let heading = match (form.q.is_empty(), form.category.is_empty()) {
        (false, _) => format!("Results for “{}”", form.q),
        (true, false) => category_name(&form.category),
        (true, true) => "All products".to_owned(),
    };
    let empty = SearchResults {
        items: Vec::new(),
        total: 0,
        total_is_lower_bound: false,
        page,
        page_size: PAGE_SIZE,
        pages: 0,
        facets: Default::default(),
    };
    let shown = results.as_ref().unwrap_or(&empty);
    let count_of = |list: &[FacetCount], value: &str| {
        list.iter()
            .find(|f| f.value == value)
            .map(|f| format!(" ({})", f.count))
            .unwrap_or_default()
    };
    let category_choices = categories
        .iter()
        .map(|c| Choice {
            value: c.slug.clone(),
            label: format!("{}{}", c.name, count_of(&shown.facets.categories, &c.slug)),
            selected: c.slug == form.category,
        })
        .collect();
    let subcategories = categories
        .iter()
        .filter(|c| form.category.is_empty() || c.slug == form.category)
        .map(|c| ChoiceGroup {
            label: c.name.clone(),
            choices: c
                .subcategories
                .iter()
                .map(|sub| Choice {
                    value: sub.slug.clone(),
                    label: format!(
                        "{}{}",
                        sub.name,
                        count_of(&shown.facets.subcategories, &sub.slug)
                    ),
                    selected: sub.slug == form.subcategory,
                })
                .collect(),
        })
        .filter(|g| !g.choices.is_empty())
        .collect();
    let sort = form.sort_order();
    let sorts = SortOrder::ALL
        .into_iter()
        .map(|o| Choice {
            value: o.as_str().to_owned(),
            label: o.label().to_owned(),
            selected: o == sort,
        })
        .collect();
    let ratings = [
        ("", "Any rating"),
        ("4", "4★ & up"),
        ("3", "3★ & up"),
        ("2", "2★ & up"),
        ("1", "1★ & up"),
    ]
    .into_iter()
    .map(|(v, l)| Choice {
        value: v.to_owned(),
        label: l.to_owned(),
        selected: form.min_rating == v
            || (!v.is_empty() && form.min_rating.parse::<f64>().ok() == v.parse::<f64>().ok()),
    })
    .collect();
    let base = form.query();
    let pages = shown.pages;
    let page = shown.page.max(1);
    let view = ListingPage {
        viewer,
        chrome,
        heading,
        errors,
        filters_refused: status.is_client_error(),
        total: shown.total,
        total_is_lower_bound: shown.total_is_lower_bound,
        page,
        pages,
        prev: (page > 1 && pages > 0).then(|| page_href(&base, page - 1)),
        next: (page < pages).then(|| page_href(&base, page + 1)),
        page_links: if pages > 1 {
            page_links(&base, page, pages)
        } else {
            Vec::new()
        },
        categories: category_choices,
        subcategories,
        colors: checks(&shown.facets.colors, &form.colors),
        sizes: checks(&shown.facets.sizes, &form.sizes),
        sorts,
        ratings,
        results: results
            .as_ref()
            .map(|r| r.items.iter().map(Card::from_summary).collect()),
        form,
    };
    (status, view).into_response()
}

// ---------------------------------------------------------------------------
// Product page

#[derive(Template, WebTemplate)]
#[template(path = "product.html")]
struct ProductPageView {
    viewer: Option<Account>,
    chrome: Chrome,
    p: Product,
    shop: Option<ShopCard>,
    category_name: String,
    subcategory_name: Option<String>,
    price: String,
    was: Option<String>,
    /// `(main image url, thumbnail url, link)` per image.
    gallery: Vec<GalleryImage>,
    main_image: Option<String>,
    ends: Option<Ends>,
    starts: Option<String>,
    stock_class: &'static str,
    stock_label: String,
    max_quantity: i64,
    rating: Option<String>,
    reviews: Option<crate::pages::reviews::ReviewsBlock>,
    /// "Similar products": empty (hidden) when there are none or the
    /// recommend node does not answer.
    similar: Vec<Card>,
}

struct GalleryImage {
    full: String,
    thumb: String,
    href: String,
    current: bool,
    number: usize,
}

fn stock_state(stock: i64) -> (&'static str, String) {
    match stock {
        s if s <= 0 => ("out", "Out of stock".to_owned()),
        s if s <= 5 => ("low", format!("Only {s} left")),
        _ => ("in", "In stock".to_owned()),
    }
}

async fn product_page(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Viewer(viewer): Viewer,
    chrome: Chrome,
    Path(slug): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, PageError> {
    let (view, categories) = tokio::join!(
        crate::api::products::product_view(&s, &meta, slug),
        s.categories(&meta),
    );
    let view = view?;
    let view = view.view.clone();
    let p = view.product;
    let similar_request = SimilarRequest {
        product_id: p.id.clone(),
        limit: RECOMMENDATION_CARDS,
    };
    let (reviews, similar) = tokio::join!(
        crate::pages::reviews::load(
            &s,
            &meta,
            bazaar_subjects::orders::ReviewTarget::Product,
            &p.id,
        ),
        s.call::<SimilarProducts>(&meta, &similar_request),
    );
    let chosen = first(&query_pairs(raw.as_deref()), "image")
        .parse::<usize>()
        .ok()
        .filter(|n| (1..=p.images.len()).contains(n))
        .unwrap_or(1);
    let gallery: Vec<GalleryImage> = p
        .images
        .iter()
        .enumerate()
        .map(|(i, id)| GalleryImage {
            full: format!("/images/{id}"),
            thumb: format!("/images/{id}?size=thumb"),
            href: format!("/products/{}?image={}#gallery", p.slug, i + 1),
            current: i + 1 == chosen,
            number: i + 1,
        })
        .collect();
    let main_image = gallery.get(chosen - 1).map(|g| g.full.clone());
    let category = categories
        .ok()
        .and_then(|c| c.categories.into_iter().find(|c| c.slug == p.category));
    let subcategory_name = p.subcategory.as_ref().map(|sub| {
        category
            .as_ref()
            .and_then(|c| c.subcategories.iter().find(|s| &s.slug == sub))
            .map_or_else(|| sub.clone(), |s| s.name.clone())
    });
    let (stock_class, stock_label) = stock_state(p.stock);
    let page = ProductPageView {
        viewer,
        chrome,
        shop: view.shop,
        category_name: category.map_or_else(|| p.category.clone(), |c| c.name),
        subcategory_name,
        price: p.price().to_string(),
        was: (p.price < p.regular_price).then(|| p.regular_price().to_string()),
        gallery,
        main_image,
        ends: p
            .flash_sale
            .as_ref()
            .filter(|_| p.event_live)
            .map(|f| Ends::new(&f.ends_at)),
        starts: p
            .flash_sale
            .as_ref()
            .filter(|f| {
                !p.event_live
                    && OffsetDateTime::parse(&f.starts_at, &Rfc3339)
                        .is_ok_and(|t| t > OffsetDateTime::now_utc())
            })
            .map(|f| human_time(&f.starts_at)),
        stock_class,
        stock_label,
        max_quantity: p.stock.clamp(1, 99),
        rating: (p.rating_count > 0).then(|| format!("{:.1}", p.rating_avg)),
        reviews,
        similar: recommendation_cards(similar),
        p,
    };
    Ok(page.into_response())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failing test should stop right there
mod tests {
    use super::*;

    #[test]
    fn listing_links_keep_every_filter() {
        let pairs = query_pairs(Some(
            "q=red+shoes&category=fashion&colors=red&colors=blue&min=10&in_stock=1&sort=price_asc&page=3",
        ));
        let form = ListingForm::from_pairs(&pairs);
        let q = form.query();
        assert_eq!(
            q,
            "q=red%20shoes&category=fashion&min=10&colors=red&colors=blue&in_stock=1&sort=price_asc"
        );
        assert_eq!(page_href(&q, 4), format!("/products?{q}&page=4"));
        let req = form.request(3).unwrap();
        assert_eq!(req.min_price, Some(1000));
        assert_eq!(req.colors, ["red", "blue"]);
        assert_eq!(req.sort, SortOrder::PriceAsc);
        assert!(
            ListingForm::from_pairs(&query_pairs(Some("min=ten")))
                .request(1)
                .is_err()
        );
    }

    #[test]
    fn pagination_shows_ends_and_neighbours() {
        let numbers = |page, pages| {
            page_links("", page, pages)
                .iter()
                .map(|l| l.number.map_or("…".to_owned(), |n| n.to_string()))
                .collect::<Vec<_>>()
                .join(" ")
        };
        assert_eq!(numbers(1, 1), "1");
        assert_eq!(numbers(1, 10), "1 2 3 … 10");
        assert_eq!(numbers(6, 10), "1 … 4 5 6 7 8 … 10");
        assert_eq!(numbers(10, 10), "1 … 8 9 10");
    }
}
