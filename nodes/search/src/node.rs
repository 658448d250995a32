//! The running search node: one index per copy, fed by the catalog's
//! events, answering the search domain's endpoints.
//!
//! Each copy keeps its own index on local disk and follows the catalog's
//! event stream with its own ordered consumer (every copy sees every
//! event), starting after the sequence stored in its last commit. An empty
//! index, one the stream has moved past, or a bulk load announced on the
//! stream, is rebuilt from SurrealDB, the system of record. A copy joins
//! the service's queue group only once it has caught up, so `/readyz` and
//! the queue never count a copy that would answer from stale data.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream::consumer::DeliverPolicy;
use async_nats::jetstream::consumer::pull::OrderedConfig;
use async_nats::jetstream::stream::{LastRawMessageErrorKind, Stream as JsStream};
use bazaar_catalog::store::{PRODUCT_FIELDS, StoredProduct};
use bazaar_runtime::jetstream::ensure_stream;
use bazaar_runtime::{Node, NodeContext, NodeError, Request, Shutdown};
use bazaar_schema::{Db, take_rows};
use bazaar_subjects::catalog::{
    self, ProductChanged, ProductsLoaded, SearchProducts, SearchResults, SuggestRequest,
    Suggestions,
};
use bazaar_subjects::search::{SearchCatalog, Suggest};
use bazaar_subjects::{Domain, Event};
use futures::StreamExt;
use tokio::sync::oneshot;

use crate::pool::{QueryPool, default_threads};
use crate::{ProductDoc, SearchError, SearchIndex};

/// How often changes are committed (and become searchable) at most.
pub const COMMIT_EVERY: Duration = Duration::from_millis(500);
/// Products read from the database per page while rebuilding.
const REBUILD_PAGE: usize = 1_000;
/// Pages between two progress lines in the log while rebuilding.
const REBUILD_PROGRESS: usize = 100;
/// Events taken from the stream at once.
const EVENT_BATCH: usize = 256;

/// What the handlers share: this copy's index and the threads queries run
/// on. A query reads the last commit and never waits for the feed: commits
/// come at most every [`COMMIT_EVERY`], so a change is searchable within
/// about a second.
#[derive(Clone)]
struct Searcher {
    index: Arc<SearchIndex>,
    pool: Arc<QueryPool>,
}

/// Where this copy keeps its index.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SearchConfig {
    /// The search index directory of this copy (default:
    /// `<data dir>/search-index`). Every copy needs its own.
    #[arg(long, env = "BAZAAR_SEARCH_INDEX_DIR")]
    pub search_index_dir: Option<PathBuf>,
    /// Threads that run queries (default: one a core). More queries at
    /// once than threads wait their turn, first come first served.
    #[arg(long, env = "BAZAAR_SEARCH_THREADS")]
    pub search_threads: Option<usize>,
}

impl SearchConfig {
    pub fn index_dir(&self, data_dir: &std::path::Path) -> PathBuf {
        self.search_index_dir
            .clone()
            .unwrap_or_else(|| data_dir.join("search-index"))
    }
}

/// What the follower can fail at.
#[derive(Debug, thiserror::Error)]
enum FeedError {
    #[error(transparent)]
    Index(#[from] SearchError),
    #[error(transparent)]
    Db(#[from] surrealdb::Error),
    #[error(transparent)]
    Schema(#[from] bazaar_schema::SchemaError),
    #[error("event stream: {0}")]
    Stream(String),
    #[error("index task: {0}")]
    Join(#[from] tokio::task::JoinError),
}

fn stream_err(e: impl std::fmt::Display) -> FeedError {
    FeedError::Stream(e.to_string())
}

/// Serves the search domain until `shutdown`: opens (or rebuilds) this
/// copy's index, catches up with the catalog's events, then answers
/// queries while following the events.
pub async fn run(
    ctx: NodeContext,
    db: Db,
    config: SearchConfig,
    shutdown: Shutdown,
) -> Result<(), NodeError> {
    let dir = config.index_dir(&ctx.data_dir);
    let index = tokio::task::spawn_blocking(move || SearchIndex::open_or_create(&dir))
        .await
        .map_err(|e| NodeError::Config(format!("search index: {e}")))?
        .map_err(|e| NodeError::Config(format!("search index: {e}")))?;
    let index = Arc::new(index);
    let stream = ensure_stream(&ctx.jetstream, catalog::EVENTS).await?;
    let (caught_up, ready) = oneshot::channel();
    let feed = tokio::spawn(follow(
        index.clone(),
        db,
        stream,
        Feed {
            caught_up: Some(caught_up),
        },
        shutdown.clone(),
    ));
    tokio::select! {
        () = shutdown.cancelled() => {
            let _ = feed.await;
            return Ok(());
        }
        caught = ready => if caught.is_err() {
            // The feed ended before catching up: only shutdown does that.
            let _ = feed.await;
            return Ok(());
        }
    }
    let threads = config.search_threads.unwrap_or_else(default_threads);
    let pool = Arc::new(QueryPool::new(threads).map_err(|e| NodeError::Config(e.to_string()))?);
    warm_up(&index, &pool).await;
    tracing::info!(
        products = index.doc_count(),
        "search index caught up; serving"
    );
    let served = Node::new(ctx, Domain::Search, "browse, search and suggest products")
        .with_state(Searcher { index, pool })
        .serve::<SearchCatalog>(search)
        .serve::<Suggest>(suggest)
        .run(shutdown)
        .await;
    let _ = feed.await;
    served
}

async fn search(s: &Searcher, req: Request<SearchProducts>) -> Result<SearchResults, SearchError> {
    let index = s.index.clone();
    s.pool.run(move || index.search(&req.body)).await?
}

async fn suggest(s: &Searcher, req: Request<SuggestRequest>) -> Result<Suggestions, SearchError> {
    let index = s.index.clone();
    s.pool.run(move || index.suggest(&req.body)).await?
}

/// Where the follower reports its progress.
struct Feed {
    /// Told once, when a commit first holds every product event the stream
    /// had when the copy started.
    caught_up: Option<oneshot::Sender<()>>,
}

/// Follows the stream until `shutdown`, starting over (after a pause) when
/// the stream or the database fails.
async fn follow(
    index: Arc<SearchIndex>,
    db: Db,
    stream: JsStream,
    mut feed: Feed,
    shutdown: Shutdown,
) {
    loop {
        match follow_once(&index, &db, &stream, &mut feed, &shutdown).await {
            Ok(()) => return,
            Err(e) => {
                tracing::warn!(error = %e, "search index feed failed; starting again");
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        }
    }
}

async fn follow_once(
    index: &Arc<SearchIndex>,
    db: &Db,
    stream: &JsStream,
    feed: &mut Feed,
    shutdown: &Shutdown,
) -> Result<(), FeedError> {
    let info = stream.get_info().await.map_err(stream_err)?;
    let mut applied = match index.last_applied_sequence() {
        // The stream still holds every event after it.
        Some(seq) if seq + 1 >= info.state.first_sequence => seq,
        _ => match rebuild(index, db, stream, shutdown).await? {
            Some(covered) => covered,
            None => return Ok(()),
        },
    };
    // The copy has caught up once a commit holds the newest product event
    // the stream had now; until then it stays out of the queue group.
    let target = newest_product_event(stream).await?;
    let consumer = stream
        .create_consumer(OrderedConfig {
            filter_subjects: vec![
                ProductChanged::SUBJECT.to_owned(),
                ProductsLoaded::SUBJECT.to_owned(),
            ],
            deliver_policy: DeliverPolicy::ByStartSequence {
                start_sequence: applied + 1,
            },
            ..Default::default()
        })
        .await
        .map_err(stream_err)?;
    let mut messages = consumer.messages().await.map_err(stream_err)?;
    // Events are taken as they come but applied once a commit is due: a
    // product changed many times in between (every order changes its
    // stock, then its sales) is read and indexed once per commit.
    let mut changed: BTreeSet<String> = BTreeSet::new();
    // The newest event taken from the stream; everything up to `applied`
    // is in the index.
    let mut seen = applied;
    // No commit yet in this run: the first change is committed at once.
    let mut last_commit: Option<Instant> = None;
    loop {
        let due = last_commit.map(|at| COMMIT_EVERY.saturating_sub(at.elapsed()));
        if seen > applied && due.is_none_or(|d| d.is_zero()) {
            apply_all(index, db, std::mem::take(&mut changed)).await?;
            applied = seen;
            index.mark_applied(applied);
            spawn_commit(index).await?;
            last_commit = Some(Instant::now());
            continue;
        }
        if seen == applied
            && applied >= target
            && let Some(tell) = feed.caught_up.take()
        {
            let _ = tell.send(());
        }
        // Wait for the next event; with changes not yet committed, only
        // until their commit is due.
        let first = tokio::select! {
            () = shutdown.cancelled() => {
                if seen > applied {
                    apply_all(index, db, std::mem::take(&mut changed)).await?;
                    index.mark_applied(seen);
                }
                spawn_commit(index).await?;
                return Ok(());
            }
            next = next_event(&mut messages, (seen > applied).then_some(due).flatten()) => next?,
        };
        let Some(first) = first else {
            continue;
        };
        // Take what else has already arrived, up to a batch.
        let mut batch = vec![first];
        while batch.len() < EVENT_BATCH {
            match next_event(&mut messages, Some(Duration::ZERO)).await? {
                Some(msg) => batch.push(msg),
                None => break,
            }
        }
        let mut reload = false;
        for msg in &batch {
            let meta = msg.info().map_err(stream_err)?;
            seen = seen.max(meta.stream_sequence);
            if msg.subject.as_str() == ProductsLoaded::SUBJECT {
                reload = true;
            } else if let Ok(event) = serde_json::from_slice::<ProductChanged>(&msg.payload) {
                changed.insert(event.product_id);
            } else {
                tracing::error!("unreadable product event; skipped");
            }
        }
        if reload {
            // The rebuild reads every product as it is now, so it holds
            // every change taken so far; it commits.
            let Some(covered) = rebuild(index, db, stream, shutdown).await? else {
                return Ok(());
            };
            applied = applied.max(covered);
            seen = seen.max(applied);
            changed.clear();
            last_commit = Some(Instant::now());
        }
    }
}

/// Applies every changed product, a page of ids per database read.
async fn apply_all(
    index: &Arc<SearchIndex>,
    db: &Db,
    changed: BTreeSet<String>,
) -> Result<(), FeedError> {
    let ids: Vec<String> = changed.into_iter().collect();
    for page in ids.chunks(REBUILD_PAGE) {
        apply(index, db, page.to_vec()).await?;
    }
    Ok(())
}

/// The next event, waiting at most `wait` (forever if `None`); `None` when
/// none came in time.
async fn next_event(
    messages: &mut async_nats::jetstream::consumer::pull::Ordered,
    wait: Option<Duration>,
) -> Result<Option<async_nats::jetstream::Message>, FeedError> {
    let next = match wait {
        None => messages.next().await,
        Some(wait) => match tokio::time::timeout(wait, messages.next()).await {
            Ok(next) => next,
            Err(_) => return Ok(None),
        },
    };
    match next {
        None => Err(FeedError::Stream("the event stream ended".into())),
        Some(msg) => Ok(Some(msg.map_err(stream_err)?)),
    }
}

/// The stream sequence of the newest product change or bulk load (0 for
/// none yet).
async fn newest_product_event(stream: &JsStream) -> Result<u64, FeedError> {
    let mut newest = 0;
    for subject in [ProductChanged::SUBJECT, ProductsLoaded::SUBJECT] {
        match stream.get_last_raw_message_by_subject(subject).await {
            Ok(msg) => newest = newest.max(msg.sequence),
            Err(e) if e.kind() == LastRawMessageErrorKind::NoMessageFound => {}
            Err(e) => return Err(stream_err(e)),
        }
    }
    Ok(newest)
}

async fn spawn_commit(index: &Arc<SearchIndex>) -> Result<bool, FeedError> {
    let index = index.clone();
    let started = Instant::now();
    let committed = tokio::task::spawn_blocking(move || index.commit_if_dirty()).await??;
    if committed {
        // A commit syncs its files to disk: on a busy disk this is where
        // freshness goes.
        tracing::debug!(
            secs = started.elapsed().as_secs_f64(),
            "search index committed"
        );
    }
    Ok(committed)
}

/// Runs a real search on every query thread before the copy joins the
/// queue group. A thread's first queries grow its allocator heap, and at 1M
/// products the first searches after a start on new threads had a p99
/// several times that of the next ones. Each thread searches for a
/// different brand or category of the index, or browses when it has none.
async fn warm_up(index: &Arc<SearchIndex>, pool: &Arc<QueryPool>) {
    let started = Instant::now();
    let browse = {
        let index = index.clone();
        pool.run(move || index.search(&SearchProducts::default()))
            .await
    };
    let Ok(Ok(browse)) = browse else {
        return;
    };
    let words: Vec<String> = browse
        .facets
        .brands
        .iter()
        .chain(&browse.facets.categories)
        .map(|f| f.value.clone())
        .collect();
    let (index, pool) = (index.clone(), pool.clone());
    let warmed = tokio::task::spawn_blocking(move || {
        pool.on_every_thread(|i| {
            let _ = index.search(&SearchProducts {
                q: words.get(i).cloned(),
                ..SearchProducts::default()
            });
        });
        pool.threads()
    })
    .await;
    tracing::info!(
        secs = started.elapsed().as_secs_f64(),
        threads = warmed.unwrap_or_default(),
        "search node warmed up"
    );
}

/// The products of `ids` that pass `cond`, each read by its key.
async fn read_by_ids(
    db: &Db,
    ids: Vec<String>,
    cond: &str,
) -> Result<Vec<StoredProduct>, FeedError> {
    let mut res = db
        .query(format!(
            "SELECT {PRODUCT_FIELDS} FROM array::map($ids, |$i| type::record('product', $i)) \
             WHERE {cond}"
        ))
        .bind(("ids", ids))
        .await?
        .check()?;
    Ok(take_rows(&mut res, 0)?)
}

/// Re-reads changed products and puts them in the index as they are now (a
/// product gone or no longer live leaves it).
async fn apply(index: &Arc<SearchIndex>, db: &Db, mut ids: Vec<String>) -> Result<(), FeedError> {
    ids.sort();
    ids.dedup();
    let rows = read_by_ids(db, ids.clone(), "id != NONE").await?;
    let index = index.clone();
    tokio::task::spawn_blocking(move || {
        let found: std::collections::HashSet<&str> =
            rows.iter().map(|r| r.product.id.as_str()).collect();
        for id in ids.iter().filter(|id| !found.contains(id.as_str())) {
            index.delete(id)?;
        }
        for row in &rows {
            index.upsert(&ProductDoc::from(&row.product))?;
        }
        Ok::<_, SearchError>(())
    })
    .await??;
    Ok(())
}

/// Rebuilds the index from the product table; returns the stream sequence
/// the rebuild covers (every event up to it is in what it read), or `None`
/// when `shutdown` came first (nothing of the rebuild was committed: the
/// index stays as its last commit left it). The rebuilt index becomes
/// visible at once, in one commit.
///
/// The ids come first, in one scan of the table, then the products a page
/// of ids at a time by key. SurrealDB 3.3 neither seeks to `id > $after`
/// nor stops a record range at a `LIMIT`: paging by either reads the table
/// from its start or to its end for every page, which at a million
/// products never finished.
async fn rebuild(
    index: &Arc<SearchIndex>,
    db: &Db,
    stream: &JsStream,
    shutdown: &Shutdown,
) -> Result<Option<u64>, FeedError> {
    let started = Instant::now();
    let covered = stream
        .get_info()
        .await
        .map_err(stream_err)?
        .state
        .last_sequence;
    {
        let index = index.clone();
        tokio::task::spawn_blocking(move || index.delete_all()).await??;
    }
    let mut res = db
        .query("SELECT VALUE record::id(id) FROM product")
        .await?
        .check()?;
    let ids: Vec<String> = res.take(0)?;
    tracing::info!(
        products = ids.len(),
        secs = started.elapsed().as_secs_f64(),
        "search index rebuild: product ids read"
    );
    let mut total = 0usize;
    for (page, ids) in ids.chunks(REBUILD_PAGE).enumerate() {
        if shutdown.is_cancelled() {
            return Ok(None);
        }
        let rows = read_by_ids(db, ids.to_vec(), "live = true").await?;
        total += rows.len();
        let index = index.clone();
        tokio::task::spawn_blocking(move || {
            for row in &rows {
                index.upsert(&ProductDoc::from(&row.product))?;
            }
            Ok::<_, SearchError>(())
        })
        .await??;
        if (page + 1) % REBUILD_PROGRESS == 0 {
            tracing::info!(
                products = total,
                secs = started.elapsed().as_secs_f64(),
                "search index rebuild: progress"
            );
        }
    }
    index.mark_applied(covered);
    spawn_commit(index).await?;
    tracing::info!(
        products = total,
        covered,
        secs = started.elapsed().as_secs_f64(),
        "search index rebuilt from the database"
    );
    Ok(Some(covered))
}
