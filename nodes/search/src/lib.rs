//! The search node and its read model: a tantivy index of the live
//! products, the browse, search and suggest queries over it, and [`run`],
//! which keeps one copy's index fed from the catalog's events and serves the
//! search domain's endpoints.
//!
//! SurrealDB stays the system of record; this index is built from it and
//! from the catalog's events, and answers the catalog's own request and
//! reply types ([`SearchProducts`] → [`SearchResults`], [`SuggestRequest`]
//! → [`Suggestions`]), so a node can put it behind the same subjects and the
//! edge never notices. Totals and facet counts are exact.
//!
//! One [`SearchIndex`] owns the one `IndexWriter` of its directory; writes
//! ([`SearchIndex::upsert`], [`SearchIndex::delete`]) become visible at the
//! next [`SearchIndex::commit_if_dirty`], which also records the last
//! applied event-stream sequence inside the commit, so a restarted copy
//! knows where to resume ([`SearchIndex::last_applied_sequence`]).
//!
//! [`SearchProducts`]: bazaar_subjects::catalog::SearchProducts
//! [`SearchResults`]: bazaar_subjects::catalog::SearchResults
//! [`SuggestRequest`]: bazaar_subjects::catalog::SuggestRequest
//! [`Suggestions`]: bazaar_subjects::catalog::Suggestions

#![cfg_attr(test, allow(clippy::unwrap_used))]

mod blocks;
mod counts;
mod doc;
mod error;
mod facets;
mod index;
mod ladder;
mod node;
mod pool;
mod query;
mod schema;
mod scored;
mod text;
mod top;
mod typo;

pub use doc::ProductDoc;
pub use error::SearchError;
pub use index::{SearchIndex, WriterOptions};
pub use node::{COMMIT_EVERY, SearchConfig, run};
pub use pool::{PoolError, QueryPool, default_threads};
pub use query::{DEFAULT_PAGE_SIZE, MAX_QUERY_CHARS, normalise_query, snippet_html};
