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

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream::consumer::DeliverPolicy;
use async_nats::jetstream::consumer::pull::OrderedConfig;
use async_nats::jetstream::stream::Stream as JsStream;
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
use tokio::sync::{oneshot, watch};

use crate::{ProductDoc, SearchError, SearchIndex};

/// How often changes are committed (and become searchable) at most.
pub const COMMIT_EVERY: Duration = Duration::from_millis(500);
/// Products read from the database per page while rebuilding.
const REBUILD_PAGE: usize = 1_000;
/// Events applied together (one database read for their products).
const EVENT_BATCH: usize = 256;
/// The longest a query waits for the index to reach the catalog's latest
/// change before it answers from what the index has.
const FRESHNESS_WAIT: Duration = Duration::from_secs(2);

/// What the handlers share: the index, and how far its commits reach.
struct Searcher {
    index: Arc<SearchIndex>,
    stream: JsStream,
    /// The last stream sequence a commit made searchable.
    committed: watch::Receiver<u64>,
}

impl Searcher {
    /// Waits until the index holds every product change (and bulk load)
    /// published before the query arrived, so a seller's write shows in the next search
    /// (a read of the stream's last change; at most [`FRESHNESS_WAIT`]).
    async fn fresh(&self) {
        let (changed, loaded) = futures::join!(
            self.stream
                .get_last_raw_message_by_subject(ProductChanged::SUBJECT),
            self.stream
                .get_last_raw_message_by_subject(ProductsLoaded::SUBJECT),
        );
        // No such event yet (or the stream cannot say): nothing to wait for.
        let latest = [changed.map(|m| m.sequence), loaded.map(|m| m.sequence)]
            .into_iter()
            .filter_map(Result::ok)
            .max()
            .unwrap_or(0);
        if latest == 0 {
            return;
        }
        let mut committed = self.committed.clone();
        let reached = tokio::time::timeout(FRESHNESS_WAIT, committed.wait_for(|c| *c >= latest));
        if reached.await.is_err() {
            tracing::warn!(
                latest,
                "search index behind the catalog; answering from it anyway"
            );
        }
    }
}

/// Where this copy keeps its index.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SearchConfig {
    /// The search index directory of this copy (default:
    /// `<data dir>/search-index`). Every copy needs its own.
    #[arg(long, env = "BAZAAR_SEARCH_INDEX_DIR")]
    pub search_index_dir: Option<PathBuf>,
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
    let (commits, committed) = watch::channel(index.last_applied_sequence().unwrap_or(0));
    let feed = tokio::spawn(follow(
        index.clone(),
        db,
        stream.clone(),
        Feed {
            caught_up: Some(caught_up),
            commits,
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
    tracing::info!(
        products = index.doc_count(),
        "search index caught up; serving"
    );
    let served = Node::new(ctx, Domain::Search, "browse, search and suggest products")
        .with_state(Searcher {
            index,
            stream,
            committed,
        })
        .serve::<SearchCatalog>(search)
        .serve::<Suggest>(suggest)
        .run(shutdown)
        .await;
    let _ = feed.await;
    served
}

async fn search(s: &Searcher, req: Request<SearchProducts>) -> Result<SearchResults, SearchError> {
    s.fresh().await;
    let index = s.index.clone();
    tokio::task::spawn_blocking(move || index.search(&req.body))
        .await
        .map_err(|e| SearchError::Io(std::io::Error::other(e)))?
}

async fn suggest(s: &Searcher, req: Request<SuggestRequest>) -> Result<Suggestions, SearchError> {
    s.fresh().await;
    let index = s.index.clone();
    tokio::task::spawn_blocking(move || index.suggest(&req.body))
        .await
        .map_err(|e| SearchError::Io(std::io::Error::other(e)))?
}

/// Where the follower reports its progress.
struct Feed {
    /// Told once, when the index first caught up with the stream.
    caught_up: Option<oneshot::Sender<()>>,
    /// The sequence each commit reached.
    commits: watch::Sender<u64>,
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
        _ => rebuild(index, db, stream).await?,
    };
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
    let mut last_commit = Instant::now();
    loop {
        // Gather what has arrived, up to a batch, waiting at most until the
        // next commit is due.
        let mut ids: Vec<String> = Vec::new();
        let mut reload = false;
        let mut newest: Option<u64> = None;
        let mut drained = false;
        while ids.len() < EVENT_BATCH {
            let wait = if newest.is_some() {
                Duration::from_millis(5)
            } else {
                COMMIT_EVERY.saturating_sub(last_commit.elapsed())
            };
            let next = tokio::select! {
                () = shutdown.cancelled() => {
                    spawn_commit(index).await?;
                    return Ok(());
                }
                next = tokio::time::timeout(wait, messages.next()) => next,
            };
            let msg = match next {
                Err(_) => {
                    drained = true;
                    break;
                }
                Ok(None) => return Err(FeedError::Stream("the event stream ended".into())),
                Ok(Some(msg)) => msg.map_err(stream_err)?,
            };
            let meta = msg.info().map_err(stream_err)?;
            newest = Some(meta.stream_sequence);
            if meta.pending == 0 {
                drained = true;
            }
            if msg.subject.as_str() == ProductsLoaded::SUBJECT {
                reload = true;
            } else if let Ok(event) = serde_json::from_slice::<ProductChanged>(&msg.payload) {
                ids.push(event.product_id);
            } else {
                tracing::error!("unreadable product event; skipped");
            }
            if drained {
                break;
            }
        }
        if reload {
            // Everything up to the rebuild's start is in the rebuild; what
            // the batch held after it is re-read with the rest.
            applied = applied.max(rebuild(index, db, stream).await?);
        }
        if !ids.is_empty() {
            apply(index, db, ids).await?;
        }
        if let Some(seq) = newest {
            applied = applied.max(seq);
            index.mark_applied(applied);
        }
        if last_commit.elapsed() >= COMMIT_EVERY || drained {
            spawn_commit(index).await?;
            last_commit = Instant::now();
            feed.commits.send_replace(applied);
        }
        if drained && let Some(tell) = feed.caught_up.take() {
            let _ = tell.send(());
        }
    }
}

async fn spawn_commit(index: &Arc<SearchIndex>) -> Result<bool, FeedError> {
    let index = index.clone();
    Ok(tokio::task::spawn_blocking(move || index.commit_if_dirty()).await??)
}

/// Re-reads changed products and puts them in the index as they are now (a
/// product gone or no longer live leaves it).
async fn apply(index: &Arc<SearchIndex>, db: &Db, mut ids: Vec<String>) -> Result<(), FeedError> {
    ids.sort();
    ids.dedup();
    let mut res = db
        .query(format!(
            "SELECT {PRODUCT_FIELDS} FROM array::map($ids, |$i| type::record('product', $i)) WHERE id != NONE"
        ))
        .bind(("ids", ids.clone()))
        .await?
        .check()?;
    let rows: Vec<StoredProduct> = take_rows(&mut res, 0)?;
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
/// the rebuild covers (every event up to it is in what it read). The
/// rebuilt index becomes visible at once, in one commit.
async fn rebuild(index: &Arc<SearchIndex>, db: &Db, stream: &JsStream) -> Result<u64, FeedError> {
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
    let mut after: Option<String> = None;
    let mut total = 0usize;
    loop {
        let cond = if after.is_some() {
            "live = true AND id > type::record('product', $after)"
        } else {
            "live = true"
        };
        let mut res = db
            .query(format!(
                "SELECT {PRODUCT_FIELDS} FROM product WHERE {cond} ORDER BY id LIMIT {REBUILD_PAGE}"
            ))
            .bind(("after", after.clone().unwrap_or_default()))
            .await?
            .check()?;
        let rows: Vec<StoredProduct> = take_rows(&mut res, 0)?;
        let n = rows.len();
        after = rows.last().map(|r| r.product.id.clone());
        total += n;
        let index = index.clone();
        tokio::task::spawn_blocking(move || {
            for row in &rows {
                index.upsert(&ProductDoc::from(&row.product))?;
            }
            Ok::<_, SearchError>(())
        })
        .await??;
        if n < REBUILD_PAGE {
            break;
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
    Ok(covered)
}
