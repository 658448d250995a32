//! One async function per endpoint: rank candidates with the current model
//! (or popularity), then keep those the catalog says a buyer may see.

use std::collections::{HashMap, HashSet};

use bazaar_runtime::{Request, call};
use bazaar_subjects::catalog::{
    GetProductsByIds, Product, ProductIds, ProductSummary, SearchProducts, SortOrder,
};
use bazaar_subjects::recommend::{
    AlsoBoughtRequest, ForYouRequest, MAX_RECOMMENDATIONS, ModelPointer, RecommendationSource,
    Recommendations, SimilarRequest,
};
use bazaar_subjects::search::SearchCatalog;
use bazaar_subjects::{Empty, ErrorEnvelope};

use crate::Recommend;
use crate::served::Loaded;

const DEFAULT_LIMIT: u32 = 12;
/// The catalog answers at most this many products by id.
const MAX_CANDIDATES: usize = 200;
/// Most products an also-bought request may name.
const MAX_ASKED: usize = 50;

fn limit(asked: u32) -> usize {
    match asked {
        0 => DEFAULT_LIMIT,
        n => n.min(MAX_RECOMMENDATIONS),
    }
    .try_into()
    .unwrap_or(DEFAULT_LIMIT as usize)
}

/// Candidates to fetch for `k` answers: twice as many, since some will be
/// filtered out.
fn over_fetch(k: usize) -> usize {
    (k * 2).min(MAX_CANDIDATES)
}

pub(crate) async fn for_you(
    s: &Recommend,
    req: Request<ForYouRequest>,
) -> Result<Recommendations, ErrorEnvelope> {
    let k = limit(req.body.limit);
    let Some(model) = s.served.current() else {
        return best_sellers(s, &req, k).await;
    };
    let empty = HashSet::new();
    let account = req.caller.account_id();
    let bought = account.and_then(|a| model.purchased(a)).unwrap_or(&empty);
    let ranked = account.and_then(|a| model.bundle.model.recommend(a, over_fetch(k), bought));
    let (ids, source) = match ranked {
        Some(recs) if !recs.is_empty() => (
            recs.into_iter().map(|r| r.item).collect(),
            RecommendationSource::Model,
        ),
        _ => (popular(&model, k, bought), RecommendationSource::Popular),
    };
    answer(s, &req, &model, ids, bought, k, source).await
}

pub(crate) async fn similar(
    s: &Recommend,
    req: Request<SimilarRequest>,
) -> Result<Recommendations, ErrorEnvelope> {
    let k = limit(req.body.limit);
    let Some(model) = s.served.current() else {
        return best_sellers(s, &req, k).await;
    };
    let asked = req.body.product_id.clone();
    let bought = bought_by(&model, &req);
    let exclude: HashSet<String> = bought.iter().cloned().chain([asked.clone()]).collect();
    let (ids, source) = match model.bundle.model.similar_items(&asked, over_fetch(k)) {
        Some(recs) if !recs.is_empty() => (
            recs.into_iter().map(|r| r.item).collect(),
            RecommendationSource::Model,
        ),
        _ => (popular(&model, k, &exclude), RecommendationSource::Popular),
    };
    answer(s, &req, &model, ids, &exclude, k, source).await
}

pub(crate) async fn also_bought(
    s: &Recommend,
    req: Request<AlsoBoughtRequest>,
) -> Result<Recommendations, ErrorEnvelope> {
    if req.body.product_ids.len() > MAX_ASKED {
        return Err(ErrorEnvelope::bad_request(format!(
            "ask about at most {MAX_ASKED} products"
        )));
    }
    let k = limit(req.body.limit);
    let Some(model) = s.served.current() else {
        return Ok(Recommendations {
            items: Vec::new(),
            source: RecommendationSource::CoPurchase,
            model_version: None,
        });
    };
    let bought = bought_by(&model, &req);
    let exclude: HashSet<String> = bought
        .iter()
        .cloned()
        .chain(req.body.product_ids.iter().cloned())
        .collect();
    let ids = co_purchased(&model, &req.body.product_ids, &exclude, over_fetch(k));
    answer(
        s,
        &req,
        &model,
        ids,
        &exclude,
        k,
        RecommendationSource::CoPurchase,
    )
    .await
}

pub(crate) async fn current_model(
    s: &Recommend,
    _: Request<Empty>,
) -> Result<Option<ModelPointer>, ErrorEnvelope> {
    Ok(s.served.current().map(|m| m.pointer.clone()))
}

fn bought_by<T>(model: &Loaded, req: &Request<T>) -> HashSet<String> {
    req.caller
        .account_id()
        .and_then(|a| model.purchased(a))
        .cloned()
        .unwrap_or_default()
}

fn popular(model: &Loaded, k: usize, exclude: &HashSet<String>) -> Vec<String> {
    model
        .bundle
        .model
        .popularity()
        .recommend(over_fetch(k), exclude)
        .into_iter()
        .map(|r| r.item)
        .collect()
}

/// Products bought with any of `asked`, by summed co-purchase counts.
pub(crate) fn co_purchased(
    model: &Loaded,
    asked: &[String],
    exclude: &HashSet<String>,
    n: usize,
) -> Vec<String> {
    let mut counts: HashMap<&str, u32> = HashMap::new();
    for item in asked {
        for (other, count) in model
            .bundle
            .extras
            .also_bought
            .get(item)
            .into_iter()
            .flatten()
        {
            if !exclude.contains(other) {
                *counts.entry(other).or_default() += count;
            }
        }
    }
    let mut ranked: Vec<(&str, u32)> = counts.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    ranked
        .into_iter()
        .take(n)
        .map(|(id, _)| id.to_owned())
        .collect()
}

/// Keeps the first `k` of `ids` a buyer may see, in order.
async fn answer<T>(
    s: &Recommend,
    req: &Request<T>,
    model: &Loaded,
    ids: Vec<String>,
    exclude: &HashSet<String>,
    k: usize,
    source: RecommendationSource,
) -> Result<Recommendations, ErrorEnvelope> {
    let ids: Vec<String> = ids
        .into_iter()
        .filter(|id| !exclude.contains(id))
        .take(MAX_CANDIDATES)
        .collect();
    let items = if ids.is_empty() {
        Vec::new()
    } else {
        let found = call::<GetProductsByIds>(
            &s.nats,
            &req.onward(),
            &ProductIds { ids: ids.clone() },
            s.timeout,
        )
        .await?;
        visible_in_order(&ids, found.items, k)
    };
    Ok(Recommendations {
        items,
        source,
        model_version: Some(model.pointer.version.clone()),
    })
}

/// Whether a buyer may be shown `p` now.
pub(crate) fn visible(p: &Product) -> bool {
    p.shown_to_buyers() && p.stock > 0
}

/// The visible products among `found`, in the order of `ids`, at most `k`.
pub(crate) fn visible_in_order(
    ids: &[String],
    found: Vec<Product>,
    k: usize,
) -> Vec<ProductSummary> {
    let mut by_id: HashMap<String, Product> = found
        .into_iter()
        .filter(visible)
        .map(|p| (p.id.clone(), p))
        .collect();
    ids.iter()
        .filter_map(|id| by_id.remove(id))
        .take(k)
        .map(summary)
        .collect()
}

/// No model yet: the best sellers in stock (from the search index), so the storefront
/// always has something to show.
async fn best_sellers<T>(
    s: &Recommend,
    req: &Request<T>,
    k: usize,
) -> Result<Recommendations, ErrorEnvelope> {
    let search = SearchProducts {
        in_stock: true,
        sort: SortOrder::TopSales,
        page_size: u32::try_from(k).ok(),
        ..Default::default()
    };
    let results = call::<SearchCatalog>(&s.nats, &req.onward(), &search, s.timeout).await?;
    Ok(Recommendations {
        items: results.items.into_iter().take(k).collect(),
        source: RecommendationSource::Popular,
        model_version: None,
    })
}

/// A product as a result card shows it.
pub(crate) fn summary(p: Product) -> ProductSummary {
    let in_stock = p.stock > 0;
    ProductSummary {
        image: p.images.into_iter().next(),
        id: p.id,
        slug: p.slug,
        title: p.title,
        regular_price: p.regular_price,
        sale_price: p.sale_price,
        price: p.price,
        currency: p.currency,
        in_stock,
        rating_avg: p.rating_avg,
        rating_count: p.rating_count,
        sales: p.sales,
        shop_slug: p.shop_slug,
        shop_name: p.shop_name,
        category: p.category,
        flash_sale: p.flash_sale,
        event_live: p.event_live,
        snippet_html: None,
        created_at: p.created_at,
    }
}
