//! Product pages and shop cards kept in the edge's memory, so a popular
//! page costs the edge about what a plain web server costs.
//!
//! A page is kept as the JSON it is answered with (encoded once) beside the
//! decoded view the HTML page renders. It is dropped when the catalog
//! announces a change of that product (`events.catalog.product.changed`:
//! edits, stock, price, rating, sales, deletion) or its shop announces one
//! (`events.sellers.shop.changed`, `events.sellers.shop.followed`), at the
//! next start or end of its flash sale (whether the sale is on is part of
//! the page), and after [`KEEP`] at the latest, which bounds how old the
//! shop card's counters that change without an event (sales, rating) and
//! anything missed while NATS was away can be. A read that began before a
//! change was announced is never kept (generations), so an edit is hidden
//! for no longer than its event takes to arrive.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bazaar_subjects::Event;
use bazaar_subjects::catalog::ProductChanged;
use bazaar_subjects::sellers::{ShopCard, ShopChanged, ShopFollowed};
use bytes::Bytes;
use futures::StreamExt;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use bazaar_subjects::catalog::Product;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The longest a page or a card is kept without a change event.
pub const KEEP: Duration = Duration::from_secs(30);
/// Shop cards kept at most.
const CARDS: usize = 5_000;

/// A product page: the product and the card of the shop that sells it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ProductView {
    pub product: Product,
    /// Absent only while the sellers service is unreachable.
    pub shop: Option<ShopCard>,
}

/// A product page as it is answered.
pub(crate) struct KeptPage {
    pub(crate) view: ProductView,
    /// `view`, encoded.
    pub(crate) json: Bytes,
    /// When it stops being the page to answer with.
    until: Instant,
}

#[derive(Clone)]
struct KeptCard {
    card: ShopCard,
    until: Instant,
}

pub(crate) struct ProductPages {
    /// Moves on with every change announced; guarded by `changes` together
    /// with the removal it comes with, so no read from before a change is
    /// stored after it.
    generation: AtomicU64,
    changes: Mutex<()>,
    /// `None` when the edge keeps no pages.
    pages: Option<quick_cache::sync::Cache<String, Arc<KeptPage>>>,
    cards: quick_cache::sync::Cache<String, KeptCard>,
}

impl ProductPages {
    /// Keeps up to `pages` pages (none for 0).
    pub(crate) fn new(pages: usize) -> Self {
        Self {
            generation: AtomicU64::new(0),
            changes: Mutex::new(()),
            pages: (pages > 0).then(|| quick_cache::sync::Cache::new(pages)),
            cards: quick_cache::sync::Cache::new(CARDS),
        }
    }

    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// The kept page of `slug`, while it is still the page.
    pub(crate) fn page(&self, slug: &str) -> Option<Arc<KeptPage>> {
        self.pages
            .as_ref()?
            .get(slug)
            .filter(|p| Instant::now() < p.until)
    }

    /// The page for `view`, read since `generation` began; kept unless a
    /// change came since (or it lacks its shop card, which a later read may
    /// find).
    pub(crate) fn keep_page(&self, view: ProductView, generation: u64) -> Arc<KeptPage> {
        let json = Bytes::from(serde_json::to_vec(&view).unwrap_or_default());
        let page = Arc::new(KeptPage {
            until: until(&view),
            view,
            json,
        });
        if let Some(pages) = &self.pages
            && page.view.shop.is_some()
        {
            let _changes = lock(&self.changes);
            if self.generation() == generation {
                pages.insert(page.view.product.slug.clone(), page.clone());
            }
        }
        page
    }

    pub(crate) fn card(&self, shop_id: &str) -> Option<ShopCard> {
        self.cards
            .get(shop_id)
            .filter(|c| Instant::now() < c.until)
            .map(|c| c.card)
    }

    pub(crate) fn keep_card(&self, card: ShopCard, generation: u64) {
        let _changes = lock(&self.changes);
        if self.generation() == generation {
            self.cards.insert(
                card.id.clone(),
                KeptCard {
                    card,
                    until: Instant::now() + KEEP,
                },
            );
        }
    }

    /// A product changed: its page goes.
    pub(crate) fn product_changed(&self, slug: &str) {
        let _changes = lock(&self.changes);
        self.generation.fetch_add(1, Ordering::SeqCst);
        if let Some(pages) = &self.pages {
            pages.remove(slug);
        }
    }

    /// A shop changed: its card and every page that shows it go.
    pub(crate) fn shop_changed(&self, shop_id: &str) {
        let _changes = lock(&self.changes);
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.cards.remove(shop_id);
        if let Some(pages) = &self.pages {
            pages.retain(|_, p| p.view.product.shop_id != shop_id);
        }
    }

    /// Something changed that cannot be told apart: everything goes.
    pub(crate) fn forget_all(&self) {
        let _changes = lock(&self.changes);
        self.generation.fetch_add(1, Ordering::SeqCst);
        if let Some(pages) = &self.pages {
            pages.clear();
        }
        self.cards.clear();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// [`KEEP`] from now, or the next start or end of the product's flash sale
/// if that comes first.
fn until(view: &ProductView) -> Instant {
    let now = OffsetDateTime::now_utc();
    let next_turn = view.product.flash_sale.as_ref().and_then(|sale| {
        [&sale.starts_at, &sale.ends_at]
            .into_iter()
            .filter_map(|t| OffsetDateTime::parse(t, &Rfc3339).ok())
            .filter(|t| *t > now)
            .min()
    });
    let keep = match next_turn {
        Some(t) => Duration::try_from(t - now).unwrap_or_default().min(KEEP),
        None => KEEP,
    };
    Instant::now() + keep
}

/// The subjects whose events change kept pages.
pub const CHANGES: [&str; 3] = [
    ProductChanged::SUBJECT,
    ShopChanged::SUBJECT,
    ShopFollowed::SUBJECT,
];

/// Drops kept pages and cards as the catalog and the shops announce their
/// changes, until `shutdown`.
pub(crate) async fn follow_changes(
    pages: Arc<ProductPages>,
    nats: async_nats::Client,
    shutdown: bazaar_runtime::Shutdown,
) {
    let mut subscriptions = Vec::new();
    for subject in CHANGES {
        match nats.subscribe(subject).await {
            Ok(s) => subscriptions.push(s),
            Err(e) => {
                tracing::warn!(error = %e, subject, "cannot follow changes; kept product pages expire after {KEEP:?}");
                return;
            }
        }
    }
    let mut changes = futures::stream::select_all(subscriptions);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            next = changes.next() => match next {
                Some(msg) => apply(&pages, &msg),
                None => return,
            },
        }
    }
}

fn apply(pages: &ProductPages, msg: &async_nats::Message) {
    let subject = msg.subject.as_str();
    let known = if subject == ProductChanged::SUBJECT {
        serde_json::from_slice::<ProductChanged>(&msg.payload)
            .map(|e| pages.product_changed(&e.slug))
            .is_ok()
    } else if subject == ShopChanged::SUBJECT {
        serde_json::from_slice::<ShopChanged>(&msg.payload)
            .map(|e| pages.shop_changed(&e.shop_id))
            .is_ok()
    } else if subject == ShopFollowed::SUBJECT {
        serde_json::from_slice::<ShopFollowed>(&msg.payload)
            .map(|e| pages.shop_changed(&e.shop_id))
            .is_ok()
    } else {
        false
    };
    if !known {
        pages.forget_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bazaar_subjects::catalog::FlashSale;

    fn view(slug: &str, shop: &str, sale: Option<FlashSale>) -> ProductView {
        let mut product: Product =
            serde_json::from_value(crate::test_support::product_json(slug, shop))
                .expect("a product");
        product.flash_sale = sale;
        ProductView {
            product,
            shop: Some(crate::test_support::shop_card(shop)),
        }
    }

    #[test]
    fn a_page_read_before_a_change_is_not_kept() {
        let pages = ProductPages::new(100);
        let before = pages.generation();
        pages.product_changed("lamp");
        pages.keep_page(view("lamp", "s1", None), before);
        assert!(pages.page("lamp").is_none());
        pages.keep_page(view("lamp", "s1", None), pages.generation());
        assert!(pages.page("lamp").is_some());
    }

    #[test]
    fn a_shop_change_drops_its_pages_and_only_those() {
        let pages = ProductPages::new(100);
        let g = pages.generation();
        pages.keep_page(view("lamp", "s1", None), g);
        pages.keep_page(view("rug", "s2", None), g);
        pages.shop_changed("s1");
        assert!(pages.page("lamp").is_none());
        assert!(pages.page("rug").is_some());
    }

    #[test]
    fn a_page_is_kept_no_longer_than_until_its_sale_turns() {
        let soon = OffsetDateTime::now_utc() + time::Duration::seconds(5);
        let sale = FlashSale {
            starts_at: soon.format(&Rfc3339).expect("a time"),
            ends_at: (soon + time::Duration::hours(1))
                .format(&Rfc3339)
                .expect("a time"),
        };
        let left = until(&view("lamp", "s1", Some(sale))) - Instant::now();
        assert!(left <= Duration::from_secs(5), "{left:?}");
        let left = until(&view("lamp", "s1", None)) - Instant::now();
        assert!(left > Duration::from_secs(5), "{left:?}");
    }
}
