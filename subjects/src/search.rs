//! The search domain: browse, full-text search, facets and suggestions over
//! live products, served from the search nodes' own indexes.
//!
//! The request and reply types are the catalog's ([`SearchProducts`],
//! [`SearchResults`], [`SuggestRequest`], [`Suggestions`]): the search
//! index is a read model of the catalog's products, and clients see the
//! same shapes they always did.

use crate::catalog::{SearchProducts, SearchResults, SuggestRequest, Suggestions};
use crate::{Access, Domain, Endpoint};

/// `search.products.query`: browse and search live products, with exact
/// totals and facet counts.
pub struct SearchCatalog;
impl Endpoint for SearchCatalog {
    const SUBJECT: &'static str = "search.products.query";
    const DOMAIN: Domain = Domain::Search;
    const ACCESS: Access = Access::Public;
    type Request = SearchProducts;
    type Reply = SearchResults;
}

/// `search.products.suggest`: title completions for a search box, best
/// sellers first.
pub struct Suggest;
impl Endpoint for Suggest {
    const SUBJECT: &'static str = "search.products.suggest";
    const DOMAIN: Domain = Domain::Search;
    const ACCESS: Access = Access::Public;
    type Request = SuggestRequest;
    type Reply = Suggestions;
}
