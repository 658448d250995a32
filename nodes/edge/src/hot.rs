//! Hot public reads kept in the edge's memory: the category tree and the
//! site settings, which every page and most API clients ask for.
//!
//! An entry is dropped when the admin node says it changed (a plain NATS
//! subscription to `events.admin.>`, the events it publishes once a change
//! is stored), at once when this edge carried the change itself, and after
//! [`KEEP`] at the latest, in case a change event was missed while NATS was
//! away. A read that started before a change never stores what it read
//! after the change was announced (generations), so an edit is never
//! hidden for longer than its event takes to arrive.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bazaar_subjects::admin::{self, CategoryList, SiteConfig};
use futures::StreamExt;

/// The longest an entry is kept without a change event.
pub const KEEP: Duration = Duration::from_secs(30);

/// The admin node's events, which announce every change of what is kept here.
pub const CHANGES: &str = admin::EVENTS.subjects;

#[derive(Default)]
pub(crate) struct HotReads {
    generation: AtomicU64,
    pub(crate) categories: Mutex<Option<Entry<CategoryList>>>,
    pub(crate) site: Mutex<Option<Entry<SiteConfig>>>,
}

pub(crate) struct Entry<T> {
    value: T,
    generation: u64,
    stored: Instant,
}

impl HotReads {
    /// Forgets everything: something it holds changed.
    pub(crate) fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        *lock(&self.categories) = None;
        *lock(&self.site) = None;
    }

    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Plain data: whatever a panicking holder left is still whole.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The kept value, if fresh and of the current generation.
pub(crate) fn kept<T: Clone>(slot: &Mutex<Option<Entry<T>>>, generation: u64) -> Option<T> {
    lock(slot)
        .as_ref()
        .filter(|e| e.generation == generation && e.stored.elapsed() < KEEP)
        .map(|e| e.value.clone())
}

/// Keeps `value`, read since `generation` began, unless a change came since.
pub(crate) fn keep<T>(hot: &HotReads, slot: &Mutex<Option<Entry<T>>>, value: T, generation: u64) {
    let mut slot = lock(slot);
    if hot.generation() == generation {
        *slot = Some(Entry {
            value,
            generation,
            stored: Instant::now(),
        });
    }
}

/// Drops what is kept whenever the admin node announces a change, until
/// `shutdown`.
pub(crate) async fn follow_changes(
    hot: Arc<HotReads>,
    nats: async_nats::Client,
    shutdown: bazaar_runtime::Shutdown,
) {
    let mut changes = match nats.subscribe(CHANGES).await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "cannot follow the admin node's changes; kept reads expire after {KEEP:?}");
            return;
        }
    };
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            next = changes.next() => match next {
                Some(_) => hot.invalidate(),
                None => return,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(name: &str) -> SiteConfig {
        SiteConfig {
            name: name.into(),
            tagline: String::new(),
            logo_url: None,
            banner_url: None,
            revision: 1,
        }
    }

    #[test]
    fn a_read_from_before_a_change_is_not_kept() {
        let hot = HotReads::default();
        let before = hot.generation();
        hot.invalidate();
        keep(&hot, &hot.site, site("old"), before);
        assert!(kept(&hot.site, hot.generation()).is_none());
        let now = hot.generation();
        keep(&hot, &hot.site, site("new"), now);
        assert_eq!(kept(&hot.site, now).map(|s| s.name), Some("new".into()));
        hot.invalidate();
        assert!(kept(&hot.site, hot.generation()).is_none());
    }
}
