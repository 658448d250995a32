//! The indexed document: what search needs of a product, and how it maps
//! onto the schema's fields.

use bazaar_subjects::catalog::{FlashSale, Product, ProductSummary};
use tantivy::TantivyDocument;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::schema::Fields;
use crate::text;

/// How much of a description is searched and highlighted (as the catalog's
/// own search text).
const DESCRIPTION_CHARS: usize = 4_000;

/// A product as the search index sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct ProductDoc {
    pub id: String,
    pub slug: String,
    pub title: String,
    /// Plain text, without markup.
    pub description: String,
    pub category: String,
    pub subcategory: Option<String>,
    pub shop_slug: String,
    pub shop_name: String,
    pub tags: Vec<String>,
    pub brand: Option<String>,
    /// Lowercase, as the catalog stores them.
    pub colors: Vec<String>,
    pub sizes: Vec<String>,
    pub image: Option<String>,
    pub regular_price: i64,
    pub sale_price: Option<i64>,
    /// What a buyer pays now.
    pub price: i64,
    pub currency: String,
    pub stock: i64,
    pub rating_avg: f64,
    pub rating_count: i64,
    pub sales: i64,
    pub flash_sale: Option<FlashSale>,
    /// RFC 3339.
    pub created_at: String,
    /// Active and not in the bin: only live products are indexed.
    pub live: bool,
}

impl From<&Product> for ProductDoc {
    fn from(p: &Product) -> Self {
        ProductDoc {
            id: p.id.clone(),
            slug: p.slug.clone(),
            title: p.title.clone(),
            description: text::plain_text(&p.description),
            category: p.category.clone(),
            subcategory: p.subcategory.clone(),
            shop_slug: p.shop_slug.clone(),
            shop_name: p.shop_name.clone(),
            tags: p.tags.clone(),
            brand: p.brand.clone(),
            colors: p.colors.clone(),
            sizes: p.sizes.clone(),
            image: p.images.first().cloned(),
            regular_price: p.regular_price,
            sale_price: p.sale_price,
            price: p.price,
            currency: p.currency.to_string(),
            stock: p.stock,
            rating_avg: p.rating_avg,
            rating_count: p.rating_count,
            sales: p.sales,
            flash_sale: p.flash_sale.clone(),
            created_at: p.created_at.clone(),
            live: p.shown_to_buyers(),
        }
    }
}

fn parse_time(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s.trim(), &Rfc3339).ok()
}

/// Unix seconds of an RFC 3339 time.
pub fn unix_seconds(s: &str) -> Option<i64> {
    parse_time(s).map(OffsetDateTime::unix_timestamp)
}

impl ProductDoc {
    /// The result card, without a snippet or the flash sale's state (both
    /// depend on the query and the moment).
    pub fn summary(&self) -> ProductSummary {
        ProductSummary {
            id: self.id.clone(),
            slug: self.slug.clone(),
            title: self.title.clone(),
            image: self.image.clone(),
            regular_price: self.regular_price,
            sale_price: self.sale_price,
            price: self.price,
            currency: self.currency.parse().unwrap_or_default(),
            in_stock: self.stock > 0,
            rating_avg: self.rating_avg,
            rating_count: self.rating_count,
            sales: self.sales,
            shop_slug: self.shop_slug.clone(),
            shop_name: self.shop_name.clone(),
            category: self.category.clone(),
            flash_sale: self.flash_sale.clone(),
            event_live: false,
            snippet_html: None,
            created_at: self.created_at.clone(),
        }
    }

    /// Title, brand, tags, colours and the description's start: the text
    /// a highlight is cut from, in the catalog's order.
    pub fn search_text(&self) -> String {
        let mut text = [self.title.as_str(), self.brand.as_deref().unwrap_or("")]
            .into_iter()
            .chain(self.tags.iter().map(String::as_str))
            .chain(self.colors.iter().map(String::as_str))
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        text.push(' ');
        text.extend(self.description.chars().take(DESCRIPTION_CHARS));
        text.chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect()
    }

    pub(crate) fn to_document(
        &self,
        f: &Fields,
        words: &mut tantivy::tokenizer::TextAnalyzer,
    ) -> Result<TantivyDocument, serde_json::Error> {
        let mut d = TantivyDocument::default();
        d.add_text(f.id, &self.id);
        d.add_text(f.title, &self.title);
        d.add_text(
            f.description,
            self.description
                .chars()
                .take(DESCRIPTION_CHARS)
                .collect::<String>(),
        );
        let nonempty = |s: &&String| !s.trim().is_empty();
        if let Some(brand) = self.brand.as_ref().filter(nonempty) {
            d.add_text(f.brand_text, brand);
            d.add_text(f.brand, brand);
        }
        for tag in self.tags.iter().chain(&self.colors).filter(nonempty) {
            d.add_text(f.tags, tag);
        }
        let mut word_text = vec![self.title.as_str()];
        word_text.extend(self.brand.as_deref());
        word_text.extend(self.tags.iter().map(String::as_str));
        word_text.extend(self.colors.iter().map(String::as_str));
        d.add_text(f.words, word_text.join(" "));
        d.add_text(f.title_prefix, text::title_prefixes(words, &self.title));
        d.add_text(f.category, &self.category);
        if let Some(sub) = self.subcategory.as_ref().filter(nonempty) {
            d.add_text(f.subcategory, sub);
        }
        d.add_text(f.shop, &self.shop_slug);
        for color in self.colors.iter().filter(nonempty) {
            d.add_text(f.colors, color);
        }
        for size in self.sizes.iter().filter(nonempty) {
            d.add_text(f.sizes, size);
        }
        d.add_i64(f.price, self.price);
        if let Some(sale) = self.sale_price {
            d.add_i64(f.sale_price, sale);
        }
        d.add_bool(f.on_sale, self.sale_price.is_some());
        d.add_f64(f.rating, self.rating_avg);
        d.add_i64(f.rating_count, self.rating_count);
        d.add_i64(f.sales, self.sales);
        let created = parse_time(&self.created_at)
            .map_or(0, |t| i64::try_from(t.unix_timestamp_nanos()).unwrap_or(0));
        d.add_i64(f.created_at, created);
        d.add_i64(f.stock, self.stock);
        // A window that does not parse is never live (as the catalog's check).
        let window = self
            .flash_sale
            .as_ref()
            .and_then(|s| Some((unix_seconds(&s.starts_at)?, unix_seconds(&s.ends_at)?)));
        let (starts, ends) = window.unwrap_or((i64::MAX, i64::MIN));
        d.add_i64(f.event_starts, starts);
        d.add_i64(f.event_ends, ends);
        d.add_text(f.summary, serde_json::to_string(&self.summary())?);
        d.add_text(f.search_text, self.search_text());
        Ok(d)
    }
}
