//! What failure drills share: a client that retries as a real one would
//! (the same request again after a 5xx or a dropped connection, with the
//! same idempotency key), and steady load whose answers are counted, so a
//! drill can say how many requests the fault cost.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How long a retrying client keeps trying before the drill fails: a NATS
/// server's loss costs a few seconds of leader elections, a node copy's
/// loss one request timeout.
pub const GIVE_UP_AFTER: Duration = Duration::from_secs(60);

/// Answers counted by class, shared by every task of a drill.
#[derive(Debug, Default)]
pub struct Tally {
    ok: AtomicU64,
    client_errors: AtomicU64,
    server_errors: AtomicU64,
    /// No answer at all: refused, reset or timed out on the client side.
    unanswered: AtomicU64,
}

/// A [`Tally`] read at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub ok: u64,
    pub client_errors: u64,
    pub server_errors: u64,
    pub unanswered: u64,
}

impl Counts {
    pub fn total(&self) -> u64 {
        self.ok + self.client_errors + self.server_errors + self.unanswered
    }

    /// What the fault cost: 5xx answers and requests with no answer.
    pub fn failed(&self) -> u64 {
        self.server_errors + self.unanswered
    }
}

impl Tally {
    pub fn record(&self, answer: &Result<reqwest::Response, reqwest::Error>) {
        let counter = match answer {
            Ok(r) if r.status().is_server_error() => &self.server_errors,
            Ok(r) if r.status().is_client_error() => &self.client_errors,
            Ok(_) => &self.ok,
            Err(_) => &self.unanswered,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn counts(&self) -> Counts {
        Counts {
            ok: self.ok.load(Ordering::Relaxed),
            client_errors: self.client_errors.load(Ordering::Relaxed),
            server_errors: self.server_errors.load(Ordering::Relaxed),
            unanswered: self.unanswered.load(Ordering::Relaxed),
        }
    }

    /// Sends what `request` builds until an answer other than a 5xx comes
    /// (every try counted), pausing a little between tries as a polite
    /// client does; fails the drill after [`GIVE_UP_AFTER`]. The builder
    /// is called again for each try, so a retry is the same request.
    pub async fn until_answered(
        &self,
        request: impl Fn() -> reqwest::RequestBuilder,
    ) -> reqwest::Response {
        let started = Instant::now();
        loop {
            let answer = request().send().await;
            self.record(&answer);
            match answer {
                Ok(r) if !r.status().is_server_error() => return r,
                Ok(r) => {
                    let status = r.status();
                    let body = r.text().await.unwrap_or_default();
                    assert!(
                        started.elapsed() < GIVE_UP_AFTER,
                        "still {status} after {GIVE_UP_AFTER:?}: {body}"
                    );
                }
                Err(e) => assert!(
                    started.elapsed() < GIVE_UP_AFTER,
                    "still no answer after {GIVE_UP_AFTER:?}: {e}"
                ),
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// Requests sent by `concurrency` workers back to back until stopped, each
/// answer counted in a [`Tally`] and never retried: what a fault costs
/// shows as the 5xx and unanswered requests while it lasts.
pub struct Load {
    tally: Arc<Tally>,
    stop: CancellationToken,
    workers: Vec<JoinHandle<()>>,
}

impl Load {
    /// Starts the workers; `request(worker, n)` sends worker's `n`th request.
    pub fn start<F, Fut>(concurrency: usize, request: F) -> Self
    where
        F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<reqwest::Response, reqwest::Error>> + Send,
    {
        let tally = Arc::new(Tally::default());
        let stop = CancellationToken::new();
        let request = Arc::new(request);
        let workers = (0..concurrency)
            .map(|worker| {
                let (tally, stop, request) = (tally.clone(), stop.clone(), request.clone());
                tokio::spawn(async move {
                    let mut n = 0;
                    while !stop.is_cancelled() {
                        let answer = request(worker, n).await;
                        tally.record(&answer);
                        n += 1;
                    }
                })
            })
            .collect();
        Self {
            tally,
            stop,
            workers,
        }
    }

    pub fn counts(&self) -> Counts {
        self.tally.counts()
    }

    /// Waits until `more` requests have been answered since now, so a
    /// fault lands on a load that is really flowing.
    pub async fn until_answered(&self, more: u64) {
        let target = self.counts().total() + more;
        while self.counts().total() < target {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Lets each worker finish its request in flight, then the counts.
    pub async fn stop(self) -> Counts {
        self.stop.cancel();
        for w in self.workers {
            let _ = w.await;
        }
        self.tally.counts()
    }
}
