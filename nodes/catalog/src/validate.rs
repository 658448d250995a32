//! Turning what a seller typed into a product the catalog can store.

use bazaar_subjects::admin::CategoryList;
use bazaar_subjects::catalog::{KeyValue, ProductInput, ProductStatus};
use bazaar_subjects::{Currency, Validator};
use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::CatalogError;

/// The highest price we take, in minor units (ten million whole units).
pub const MAX_PRICE: i64 = 1_000_000_000;
pub const MAX_STOCK: i64 = 1_000_000;
pub const MAX_IMAGES: usize = 12;
/// How much of a description search indexes.
const SEARCH_TEXT_LIMIT: usize = 4_000;

/// A validated product, as bound into the write query (absent options stay
/// out of the JSON so SurrealDB sees NONE, not NULL).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProductDoc {
    pub title: String,
    pub description: String,
    pub category: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subcategory: Option<String>,
    pub tags: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub brand: Option<String>,
    pub colors: Vec<String>,
    pub sizes: Vec<String>,
    pub specifications: Vec<KeyValue>,
    pub properties: Vec<KeyValue>,
    pub images: Vec<String>,
    pub regular_price: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sale_price: Option<i64>,
    pub price: i64,
    pub currency: Currency,
    pub stock: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warranty: Option<String>,
    pub cash_on_delivery: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub video_url: Option<String>,
    pub status: &'static str,
    pub search_text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_starts: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_ends: Option<String>,
}

pub use bazaar_subjects::is_image_id;

fn is_http_url(u: &str) -> bool {
    u.len() <= 2048 && url_has_host(u) && (u.starts_with("https://") || u.starts_with("http://"))
}

fn url_has_host(u: &str) -> bool {
    let rest = u.split_once("://").map_or("", |(_, rest)| rest);
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    !host.is_empty() && !host.contains(char::is_whitespace)
}

/// Trims, drops empties and duplicates (keeping the first), in order.
fn clean_list(items: &[String], lowercase: bool) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    items
        .iter()
        .map(|s| {
            let s = s.trim();
            if lowercase {
                s.to_lowercase()
            } else {
                s.to_owned()
            }
        })
        .filter(|s| !s.is_empty() && seen.insert(s.to_lowercase()))
        .collect()
}

fn clean_pairs(pairs: &[KeyValue]) -> Vec<KeyValue> {
    pairs
        .iter()
        .map(|kv| KeyValue {
            key: kv.key.trim().to_owned(),
            value: kv.value.trim().to_owned(),
        })
        .filter(|kv| !(kv.key.is_empty() && kv.value.is_empty()))
        .collect()
}

fn optional(s: &Option<String>) -> Option<String> {
    s.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// Rich text keeps formatting and links but loses scripts, styles, event
/// handlers and anything else that could run in a buyer's browser.
pub fn sanitize_description(html: &str) -> String {
    ammonia::Builder::default()
        .link_rel(Some("noopener noreferrer nofollow"))
        .clean(html)
        .to_string()
}

/// The words of a description without its markup.
pub fn plain_text(html: &str) -> String {
    let text = ammonia::Builder::empty().clean(html).to_string();
    text.replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", " ")
}

fn parse_time(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s.trim(), &Rfc3339).ok()
}

/// Checks every field, naming each bad one, and builds the stored form.
pub fn validate(
    input: &ProductInput,
    categories: &CategoryList,
    now: OffsetDateTime,
) -> Result<ProductDoc, CatalogError> {
    let title = input.title.trim().to_owned();
    let description = sanitize_description(&input.description);
    let category = input.category.trim().to_owned();
    let subcategory = optional(&input.subcategory);
    let tags = clean_list(&input.tags, true);
    let brand = optional(&input.brand);
    let colors = clean_list(&input.colors, true);
    let sizes = clean_list(&input.sizes, false);
    let specifications = clean_pairs(&input.specifications);
    let properties = clean_pairs(&input.properties);
    let warranty = optional(&input.warranty);
    let video_url = optional(&input.video_url);
    let currency = input.currency.unwrap_or_default();
    let known_category = categories.categories.iter().find(|c| c.slug == category);

    let window = input
        .flash_sale
        .as_ref()
        .map(|f| (parse_time(&f.starts_at), parse_time(&f.ends_at)));
    let mut seen_images = std::collections::HashSet::new();
    let pairs_ok = |pairs: &[KeyValue]| {
        pairs.len() <= 50
            && pairs.iter().all(|kv| {
                (1..=60).contains(&kv.key.chars().count())
                    && (1..=500).contains(&kv.value.chars().count())
            })
    };

    let mut v = Validator::default();
    v.check(!title.is_empty(), "title", "a product needs a title")
        .check(
            title.chars().count() <= 200,
            "title",
            "keep the title to 200 characters",
        )
        .check(
            input.description.chars().count() <= 20_000,
            "description",
            "keep the description to 20000 characters",
        )
        .check(
            known_category.is_some(),
            "category",
            "choose one of the site's categories",
        )
        .check(
            subcategory.as_deref().is_none_or(|sub| {
                known_category.is_none_or(|c| c.subcategories.iter().any(|s| s.slug == sub))
            }),
            "subcategory",
            "choose a subcategory of the chosen category",
        )
        .check(
            tags.len() <= 20 && tags.iter().all(|t| t.chars().count() <= 40),
            "tags",
            "at most 20 tags of up to 40 characters",
        )
        .check(
            brand.as_deref().is_none_or(|b| b.chars().count() <= 80),
            "brand",
            "keep the brand to 80 characters",
        )
        .check(
            colors.len() <= 30 && colors.iter().all(|c| c.chars().count() <= 40),
            "colors",
            "at most 30 colors of up to 40 characters",
        )
        .check(
            sizes.len() <= 30 && sizes.iter().all(|s| s.chars().count() <= 20),
            "sizes",
            "at most 30 sizes of up to 20 characters",
        )
        .check(
            pairs_ok(&specifications),
            "specifications",
            "at most 50 specifications, each a name (1–60 characters) and a value (1–500)",
        )
        .check(
            pairs_ok(&properties),
            "properties",
            "at most 50 properties, each a name (1–60 characters) and a value (1–500)",
        )
        .check(
            input.images.len() <= MAX_IMAGES,
            "images",
            "at most 12 images per product",
        )
        .check(
            input
                .images
                .iter()
                .all(|i| is_image_id(i) && seen_images.insert(i.as_str())),
            "images",
            "use the ids of images uploaded to /api/images, each once",
        )
        .check(
            (1..=MAX_PRICE).contains(&input.regular_price),
            "regular_price",
            "the price must be above 0 and at most 10,000,000 (in minor units, e.g. cents)",
        )
        .check(
            input
                .sale_price
                .is_none_or(|s| s > 0 && s <= input.regular_price),
            "sale_price",
            "the sale price must be above 0 and not more than the regular price",
        )
        .check(
            (0..=MAX_STOCK).contains(&input.stock),
            "stock",
            "stock must be between 0 and 1,000,000",
        )
        .check(
            warranty.as_deref().is_none_or(|w| w.chars().count() <= 200),
            "warranty",
            "keep the warranty to 200 characters",
        )
        .check(
            video_url.as_deref().is_none_or(is_http_url),
            "video_url",
            "use an http(s) link to the video",
        );
    if let Some((starts, ends)) = window {
        v.check(
            starts.is_some() && ends.is_some(),
            "flash_sale",
            "give the start and end as date-times, e.g. 2026-12-01T09:00:00Z",
        );
        if let (Some(starts), Some(ends)) = (starts, ends) {
            v.check(
                starts < ends,
                "flash_sale",
                "the flash sale must end after it starts",
            )
            .check(ends > now, "flash_sale", "the flash sale has already ended")
            .check(
                ends - starts <= time::Duration::days(31),
                "flash_sale",
                "a flash sale lasts at most 31 days",
            );
        }
        v.check(
            input.sale_price.is_some(),
            "sale_price",
            "a flash sale needs a sale price",
        );
    }
    v.finish().map_err(CatalogError::Invalid)?;

    let (event_starts, event_ends) = match window {
        Some((Some(s), Some(e))) => (s.format(&Rfc3339).ok(), e.format(&Rfc3339).ok()),
        _ => (None, None),
    };
    let mut search_text = [title.as_str(), brand.as_deref().unwrap_or("")]
        .into_iter()
        .chain(tags.iter().map(String::as_str))
        .chain(colors.iter().map(String::as_str))
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    search_text.push(' ');
    search_text.extend(plain_text(&description).chars().take(SEARCH_TEXT_LIMIT));

    Ok(ProductDoc {
        price: input.sale_price.unwrap_or(input.regular_price),
        title,
        description,
        category,
        subcategory,
        tags,
        brand,
        colors,
        sizes,
        specifications,
        properties,
        images: input.images.clone(),
        regular_price: input.regular_price,
        sale_price: input.sale_price,
        currency,
        stock: input.stock,
        warranty,
        cash_on_delivery: input.cash_on_delivery,
        video_url,
        status: match input.status {
            ProductStatus::Active => "active",
            ProductStatus::Draft => "draft",
        },
        search_text,
        event_starts,
        event_ends,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bazaar_subjects::admin::{Category, Subcategory};
    use bazaar_subjects::catalog::FlashSale;

    fn categories() -> CategoryList {
        CategoryList {
            categories: vec![Category {
                slug: "electronics".into(),
                name: "Electronics".into(),
                position: 0,
                subcategories: vec![Subcategory {
                    slug: "audio".into(),
                    name: "Audio".into(),
                }],
            }],
        }
    }

    fn good() -> ProductInput {
        ProductInput {
            title: "  Studio Headphones ".into(),
            description: "<p>Closed-back <b>headphones</b><script>alert(1)</script></p>".into(),
            category: "electronics".into(),
            subcategory: Some("audio".into()),
            tags: vec!["Audio".into(), "audio".into(), " ".into()],
            colors: vec!["Black".into()],
            regular_price: 12_999,
            sale_price: Some(9_999),
            stock: 5,
            ..Default::default()
        }
    }

    #[test]
    fn a_good_product_is_cleaned_and_priced() {
        let doc = validate(&good(), &categories(), OffsetDateTime::now_utc())
            .map_err(|e| e.to_string())
            .unwrap();
        assert_eq!(doc.title, "Studio Headphones");
        assert_eq!(doc.price, 9_999);
        assert_eq!(doc.currency, Currency::USD);
        assert_eq!(doc.tags, ["audio"]);
        assert_eq!(doc.colors, ["black"]);
        assert!(!doc.description.contains("script"), "{}", doc.description);
        assert!(doc.description.contains("<b>headphones</b>"));
        assert!(doc.search_text.contains("Closed-back headphones"));
        assert!(!doc.search_text.contains('<'));
    }

    #[test]
    fn every_bad_field_is_named() {
        let bad = ProductInput {
            title: " ".into(),
            category: "cars".into(),
            images: vec!["../etc/passwd".into()],
            regular_price: 0,
            sale_price: Some(5),
            stock: -1,
            video_url: Some("javascript:alert(1)".into()),
            flash_sale: Some(FlashSale {
                starts_at: "tomorrow".into(),
                ends_at: "2020-01-01T00:00:00Z".into(),
            }),
            ..Default::default()
        };
        let Err(CatalogError::Invalid(e)) =
            validate(&bad, &categories(), OffsetDateTime::now_utc())
        else {
            panic!("accepted");
        };
        let fields: Vec<_> = e.fields.iter().map(|f| f.field.as_str()).collect();
        for f in [
            "title",
            "category",
            "images",
            "regular_price",
            "sale_price",
            "stock",
            "video_url",
            "flash_sale",
        ] {
            assert!(fields.contains(&f), "{f} missing from {fields:?}");
        }
    }

    #[test]
    fn a_subcategory_must_belong_to_its_category_and_sales_stay_below_price() {
        let mut input = good();
        input.subcategory = Some("laptops".into());
        input.sale_price = Some(20_000);
        let Err(CatalogError::Invalid(e)) =
            validate(&input, &categories(), OffsetDateTime::now_utc())
        else {
            panic!("accepted");
        };
        let fields: Vec<_> = e.fields.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["subcategory", "sale_price"]);
    }

    #[test]
    fn image_ids_are_what_uploads_hand_out() {
        assert!(is_image_id(&uuid::Uuid::now_v7().simple().to_string()));
        assert!(!is_image_id("0190ABCDEF0123456789abcdef012345"));
        assert!(!is_image_id("short"));
    }
}
