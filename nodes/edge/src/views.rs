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
/// The most one call's notices may weigh, well under NATS's default 1 MB
/// payload: a signed-in viewer's notice carries their token, so a full
/// batch of them would not fit in one message.
const CALL_BYTES: usize = 768 * 1024;

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
    let notices = views.into_iter().map(PendingView::notice);
    for views in calls(notices) {
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
}

/// About what a notice weighs in JSON: its text and its field names.
fn weight(n: &ProductViewNotice) -> usize {
    100 + n.product_id.len()
        + n.shop_id.len()
        + n.request_id.len()
        + n.at.len()
        + n.authorization.as_ref().map_or(0, String::len)
        + n.visitor_id.as_ref().map_or(0, String::len)
}

/// A batch's notices cut into calls of at most [`CALL_BYTES`] each.
fn calls(notices: impl Iterator<Item = ProductViewNotice>) -> Vec<Vec<ProductViewNotice>> {
    let mut out: Vec<Vec<ProductViewNotice>> = Vec::new();
    let mut bytes = 0;
    for notice in notices {
        let w = weight(&notice);
        match out.last_mut() {
            Some(call) if bytes + w <= CALL_BYTES => call.push(notice),
            _ => {
                bytes = 0;
                out.push(vec![notice]);
            }
        }
        bytes += w;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notice(token: Option<usize>) -> ProductViewNotice {
        ProductViewNotice {
            product_id: "0".repeat(32),
            shop_id: "1".repeat(32),
            request_id: "01a24f08-53fd-786e-909a-e52fe4a9dee7".into(),
            authorization: token.map(|n| format!("Bearer {}", "t".repeat(n))),
            at: "2026-12-07T07:30:00.123456789Z".into(),
            visitor_id: Some("2".repeat(32)),
        }
    }

    #[test]
    fn a_batch_of_signed_in_views_goes_in_calls_that_fit_a_nats_message() {
        let signed_in = (0..MAX_VIEWS_PER_BATCH).map(|_| notice(Some(600)));
        let calls = calls(signed_in);
        assert!(calls.len() > 1);
        assert_eq!(
            calls.iter().map(Vec::len).sum::<usize>(),
            MAX_VIEWS_PER_BATCH
        );
        for call in &calls {
            let body = serde_json::to_vec(&ProductViews {
                views: call.clone(),
            })
            .unwrap();
            assert!(body.len() < 1024 * 1024, "{} bytes", body.len());
        }
    }

    #[test]
    fn a_batch_of_guests_goes_in_one_call_and_nothing_makes_no_call() {
        let guests = (0..MAX_VIEWS_PER_BATCH).map(|_| notice(None));
        assert_eq!(calls(guests).len(), 1);
        assert!(calls(std::iter::empty()).is_empty());
    }
}
