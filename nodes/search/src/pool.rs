//! The threads queries run on: a fixed pool, one thread a core by default.
//!
//! A query is a few milliseconds of CPU with no waiting in it. Run on
//! tokio's blocking pool, every request in flight got its own thread, and
//! eight queries at once on two cores were time-sliced against each other:
//! a query of 1 ms took as long as the scheduler's slices of the seven
//! others, and the first burst after a start ran on threads that had never
//! allocated. A pool as wide as the cores runs each query to its end while
//! the rest wait their turn in order, and its threads stay warm.

use std::panic::AssertUnwindSafe;

use tokio::sync::oneshot;

/// Runs queries on its own threads, at most one a thread at a time.
pub struct QueryPool {
    pool: rayon::ThreadPool,
}

/// Why a query on the pool gave no answer.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    #[error("the search query panicked")]
    Panicked,
    #[error("search query threads: {0}")]
    Build(#[from] rayon::ThreadPoolBuildError),
}

impl QueryPool {
    /// A pool of `threads` threads (at least one).
    pub fn new(threads: usize) -> Result<Self, PoolError> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads.max(1))
            .thread_name(|i| format!("search-query-{i}"))
            .build()?;
        Ok(Self { pool })
    }

    /// How many threads it has.
    pub fn threads(&self) -> usize {
        self.pool.current_num_threads()
    }

    /// Runs `query` on a pool thread once one is free, first come first
    /// served, and gives its answer.
    pub async fn run<T: Send + 'static>(
        &self,
        query: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, PoolError> {
        let (answer, answered) = oneshot::channel();
        self.pool.spawn_fifo(move || {
            // A panic must not take the pool's thread (rayon aborts the
            // process on one): it becomes this query's error.
            let _ = answer.send(std::panic::catch_unwind(AssertUnwindSafe(query)));
        });
        match answered.await {
            Ok(Ok(found)) => Ok(found),
            _ => Err(PoolError::Panicked),
        }
    }

    /// Runs `work` once on every thread of the pool, each with its thread's
    /// place (0..threads), and waits for all of them.
    pub fn on_every_thread(&self, work: impl Fn(usize) + Sync) {
        self.pool.broadcast(|ctx| work(ctx.index()));
    }
}

/// One thread a core, as the machine reports it.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[tokio::test]
    async fn answers_queries_and_turns_a_panic_into_an_error() {
        let pool = QueryPool::new(2).unwrap();
        assert_eq!(pool.threads(), 2);
        assert_eq!(pool.run(|| 6 * 7).await.unwrap(), 42);
        let panicked = pool.run(|| -> u32 { panic!("a bad query") }).await;
        assert!(matches!(panicked, Err(PoolError::Panicked)));
        // The pool is still whole.
        assert_eq!(pool.run(|| 1).await.unwrap(), 1);
    }

    #[tokio::test]
    async fn never_runs_more_queries_at_once_than_it_has_threads() {
        let pool = std::sync::Arc::new(QueryPool::new(2).unwrap());
        let running = std::sync::Arc::new(Mutex::new((0usize, 0usize)));
        let queries: Vec<_> = (0..16)
            .map(|_| {
                let (pool, running) = (pool.clone(), running.clone());
                tokio::spawn(async move {
                    pool.run(move || {
                        {
                            let mut r = running.lock().unwrap();
                            r.0 += 1;
                            r.1 = r.1.max(r.0);
                        }
                        std::thread::sleep(std::time::Duration::from_millis(5));
                        running.lock().unwrap().0 -= 1;
                    })
                    .await
                    .unwrap();
                })
            })
            .collect();
        for q in queries {
            q.await.unwrap();
        }
        assert_eq!(running.lock().unwrap().1, 2, "at most two, and two at once");
    }

    #[test]
    fn every_thread_gets_the_work_once() {
        let pool = QueryPool::new(3).unwrap();
        let seen = Mutex::new(Vec::new());
        pool.on_every_thread(|i| seen.lock().unwrap().push(i));
        let mut seen = seen.into_inner().unwrap();
        seen.sort_unstable();
        assert_eq!(seen, vec![0, 1, 2]);
    }
}
