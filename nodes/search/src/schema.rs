//! The index's one schema, built in one place.
//!
//! - English text (stemmed, stop words dropped, BM25): `title` (boosted at
//!   query time), `description`, `brand_text`, `tags` (tags and colours).
//! - `words`: the unstemmed words of title, brand, tags and colours, for
//!   one-edit typo tolerance; `title_prefix`: every 2-to-15-character
//!   prefix of every title word, for suggestions.
//! - Exact strings, indexed for filters and fast for facets: `category`,
//!   `subcategory`, `shop`, `brand`, `colors`, `sizes`; `id` for deletes.
//! - Fast numbers for ranges and sorts: `price`, `sale_price`, `rating`,
//!   `rating_count`, `sales`, `created_at` (Unix nanoseconds), `stock`,
//!   `event_starts`/`event_ends` (Unix seconds of the flash-sale window);
//!   `on_sale` as an indexed flag.
//! - Stored only: `summary` (a result card as JSON) and `search_text` (the
//!   text highlights are cut from, as the catalog builds it).
//!
//! Only live products are in the index, so "live" needs no filter.

use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, NumericOptions, STORED, STRING, Schema,
    TextFieldIndexing, TextOptions,
};

use crate::text;

#[derive(Debug, Clone, Copy)]
pub struct Fields {
    pub id: Field,
    pub title: Field,
    pub description: Field,
    pub brand_text: Field,
    pub tags: Field,
    pub words: Field,
    pub title_prefix: Field,
    pub category: Field,
    pub subcategory: Field,
    pub shop: Field,
    pub brand: Field,
    pub colors: Field,
    pub sizes: Field,
    pub price: Field,
    pub sale_price: Field,
    pub rating: Field,
    pub rating_count: Field,
    pub sales: Field,
    pub created_at: Field,
    pub stock: Field,
    pub event_starts: Field,
    pub event_ends: Field,
    pub on_sale: Field,
    pub summary: Field,
    pub search_text: Field,
}

/// Fast-field names the queries sort, count and filter by.
pub mod names {
    pub const CATEGORY: &str = "category";
    pub const SUBCATEGORY: &str = "subcategory";
    pub const BRAND: &str = "brand";
    pub const COLORS: &str = "colors";
    pub const SIZES: &str = "sizes";
    pub const PRICE: &str = "price";
    pub const RATING: &str = "rating";
    pub const RATING_COUNT: &str = "rating_count";
    pub const SALES: &str = "sales";
    pub const CREATED_AT: &str = "created_at";
    pub const STOCK: &str = "stock";
    pub const EVENT_STARTS: &str = "event_starts";
    pub const EVENT_ENDS: &str = "event_ends";
}

fn text_field(tokenizer: &str, record: IndexRecordOption) -> TextOptions {
    TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(tokenizer)
            .set_index_option(record),
    )
}

pub fn build() -> (Schema, Fields) {
    let mut b = Schema::builder();
    // Scored text: frequencies for BM25, no positions (no phrase queries).
    let english = text_field(text::ENGLISH, IndexRecordOption::WithFreqs);
    let fast = || NumericOptions::default().set_fast();
    let fields = Fields {
        id: b.add_text_field("id", STRING | STORED),
        title: b.add_text_field("title", english.clone()),
        description: b.add_text_field("description", english.clone()),
        brand_text: b.add_text_field("brand_text", english.clone()),
        tags: b.add_text_field("tags", english),
        words: b.add_text_field("words", text_field(text::WORDS, IndexRecordOption::Basic)),
        title_prefix: b.add_text_field(
            "title_prefix",
            text_field(text::VERBATIM, IndexRecordOption::Basic),
        ),
        category: b.add_text_field(names::CATEGORY, STRING | FAST),
        subcategory: b.add_text_field(names::SUBCATEGORY, STRING | FAST),
        shop: b.add_text_field("shop", STRING),
        brand: b.add_text_field(names::BRAND, STRING | FAST),
        colors: b.add_text_field(names::COLORS, STRING | FAST),
        sizes: b.add_text_field(names::SIZES, STRING | FAST),
        price: b.add_i64_field(names::PRICE, fast()),
        sale_price: b.add_i64_field("sale_price", fast()),
        rating: b.add_f64_field(names::RATING, fast()),
        rating_count: b.add_i64_field(names::RATING_COUNT, fast()),
        sales: b.add_i64_field(names::SALES, fast()),
        created_at: b.add_i64_field(names::CREATED_AT, fast()),
        stock: b.add_i64_field(names::STOCK, fast()),
        event_starts: b.add_i64_field(names::EVENT_STARTS, fast()),
        event_ends: b.add_i64_field(names::EVENT_ENDS, fast()),
        on_sale: b.add_bool_field("on_sale", INDEXED),
        summary: b.add_text_field("summary", STORED),
        search_text: b.add_text_field("search_text", STORED),
    };
    (b.build(), fields)
}
