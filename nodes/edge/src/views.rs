//! Product page views, sent to the catalog node in batches so that serving
//! a page (often from the edge's memory) never waits for one.
//!
//! A view is analytics: the queue is bounded and a full queue drops views
//! (counted and logged); a crash loses at most the views of the last
//! [`BATCH_EVERY`]. Who viewed is decided by the catalog node from the
//! viewer's own token, which each view carries.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bazaar_runtime::RequestMeta;
use bazaar_subjects::catalog::{MAX_VIEWS_PER_BATCH, ProductViewNotice, ProductViews, RecordViews};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::sync::{Semaphore, mpsc};

use crate::product_pages::KeptPage;

/// How long views gather before they are sent.
pub const BATCH_EVERY: Duration = Duration::from_millis(250);
/// Views waiting to be sent at most; beyond it they are dropped.
const QUEUE: usize = 50_000;
/// Batches on their way to the catalog node at once.
const IN_FLIGHT: u32 = 4;

pub(crate) struct ViewRecorder {
    queue: mpsc::Sender<PendingView>,
    waiting: Mutex<Option<mpsc::Receiver<PendingView>>>,
    dropped: AtomicU64,
}

/// A view as it waits: the page it saw (shared, not copied) and the moment,
/// not yet formatted. The notice on the wire, with its ids and its time as text,
/// is made when the batch goes, off the request's path.
struct PendingView {
    page: Arc<KeptPage>,
    request_id: String,
    authorization: Option<String>,
    at: OffsetDateTime,
    visitor_id: Option<String>,
}

impl PendingView {
    fn notice(self) -> ProductViewNotice {
        let product = &self.page.view.product;
        ProductViewNotice {
            product_id: product.id.clone(),
            shop_id: product.shop_id.clone(),
            request_id: self.request_id,
            authorization: self.authorization,
            at: self.at.format(&Rfc3339).unwrap_or_default(),
            visitor_id: self.visitor_id,
        }
    }
}

impl Default for ViewRecorder {
    fn default() -> Self {
        let (queue, waiting) = mpsc::channel(QUEUE);
        Self {
            queue,
            waiting: Mutex::new(Some(waiting)),
            dropped: AtomicU64::new(0),
        }
    }
}

tokio::task_local! {
    /// The visitor id of the product page being served (set by the visitor
    /// cookie middleware), sent with its view.
    pub(crate) static VISITOR: String;
}

impl ViewRecorder {
    /// Queues a view of `page`'s product by whoever made the request `meta`.
    pub(crate) fn record(&self, meta: &RequestMeta, page: &Arc<KeptPage>) {
        let view = PendingView {
            page: page.clone(),
            request_id: meta.request_id.clone(),
            authorization: meta.authorization.clone(),
            at: OffsetDateTime::now_utc(),
            visitor_id: VISITOR.try_with(Clone::clone).ok(),
        };
        if self.queue.try_send(view).is_err() {
            let dropped = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if dropped.is_power_of_two() {
                tracing::warn!(dropped, "views dropped: the catalog node is not keeping up");
            }
        }
    }

    /// Sends the queued views every [`BATCH_EVERY`] until `shutdown`, then
    /// what is left.
    pub(crate) async fn send(
        &self,
        nats: async_nats::Client,
        timeout: Duration,
        shutdown: bazaar_runtime::Shutdown,
    ) {
        let Some(mut waiting) = self
            .waiting
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        else {
            return;
        };
        let in_flight = Arc::new(Semaphore::new(IN_FLIGHT as usize));
        let mut views = Vec::new();
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                got = waiting.recv_many(&mut views, MAX_VIEWS_PER_BATCH) => {
                    if got == 0 {
                        break;
                    }
                }
            }
            if views.len() < MAX_VIEWS_PER_BATCH {
                // A moment for more to gather, then one call for all of them.
                tokio::select! {
                    () = shutdown.cancelled() => {}
                    () = tokio::time::sleep(BATCH_EVERY) => {}
                }
                while views.len() < MAX_VIEWS_PER_BATCH
                    && let Ok(more) = waiting.try_recv()
                {
                    views.push(more);
                }
            }
            // A full batch goes at once, beside the ones still in flight.
            let Ok(permit) = in_flight.clone().acquire_owned().await else {
                break;
            };
            let batch = std::mem::take(&mut views);
            let nats = nats.clone();
            tokio::spawn(async move {
                send_batch(&nats, timeout, batch).await;
                drop(permit);
            });
        }
        // What is left goes before the edge stops.
        let _ = in_flight.acquire_many(IN_FLIGHT).await;
        while let Ok(more) = waiting.try_recv() {
            views.push(more);
            if views.len() == MAX_VIEWS_PER_BATCH {
                send_batch(&nats, timeout, std::mem::take(&mut views)).await;
            }
        }
        send_batch(&nats, timeout, views).await;
    }
}

async fn send_batch(nats: &async_nats::Client, timeout: Duration, views: Vec<PendingView>) {
    if views.is_empty() {
        return;
    }
    let views: Vec<ProductViewNotice> = views.into_iter().map(PendingView::notice).collect();
    let meta = RequestMeta {
        request_id: uuid::Uuid::now_v7().to_string(),
        authorization: None,
    };
    let count = views.len();
    if let Err(e) =
        bazaar_runtime::call::<RecordViews>(nats, &meta, &ProductViews { views }, timeout).await
    {
        tracing::warn!(count, error = %e.message, "views not recorded");
    }
}
