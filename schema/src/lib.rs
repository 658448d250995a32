//! The SurrealDB schema and the one way to open the database.
//!
//! One URL chooses the storage: `mem://` and `surrealkv://PATH` run SurrealDB
//! embedded in this process; `ws://host:port` (or `wss://`) talks to a
//! SurrealDB server, which may sit on TiKV when one machine is not enough.
//! Migrations are the `.surql` files in `schema/migrations/`, applied in order,
//! each exactly once, and recorded in the `migration` table.

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod audit;
pub mod group;
mod transaction;

pub use transaction::{
    Retryable, TransactionError, committed, retry_transaction, transaction_errors,
};

use serde::de::DeserializeOwned;
use surrealdb::Surreal;
use surrealdb::engine::any::{self, Any};
use surrealdb::opt::auth::Root;

/// The database handle every node uses.
///
/// Cloning one opens a new session: with a SurrealDB server that is a
/// message to the server and a session held there until the clone drops
/// (per-write clones made a cluster's server four times busier). Clone at
/// start-up; on a request's path borrow it, or share it in an `Arc`.
pub type Db = Surreal<Any>;

/// The namespace and database all of Bazaar lives in.
pub const NAMESPACE: &str = "bazaar";
pub const DATABASE: &str = "main";

/// One migration: its version (the file's number), name and statements.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

/// Every migration, in the order it must be applied.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "site_and_categories",
        sql: include_str!("../migrations/0001_site_and_categories.surql"),
    },
    Migration {
        version: 2,
        name: "accounts",
        sql: include_str!("../migrations/0002_accounts.surql"),
    },
    Migration {
        version: 3,
        name: "shops_and_catalog",
        sql: include_str!("../migrations/0003_shops_and_catalog.surql"),
    },
    Migration {
        version: 4,
        name: "orders",
        sql: include_str!("../migrations/0004_orders.surql"),
    },
    Migration {
        version: 5,
        name: "stripe",
        sql: include_str!("../migrations/0005_stripe.surql"),
    },
    Migration {
        version: 6,
        name: "reviews_and_sales",
        sql: include_str!("../migrations/0006_reviews_and_sales.surql"),
    },
    Migration {
        version: 7,
        name: "listing_sorts",
        sql: include_str!("../migrations/0007_listing_sorts.surql"),
    },
    Migration {
        version: 8,
        name: "chat",
        sql: include_str!("../migrations/0008_chat.surql"),
    },
    Migration {
        version: 9,
        name: "search_leaves_the_database",
        sql: include_str!("../migrations/0009_search_leaves_the_database.surql"),
    },
    Migration {
        version: 10,
        name: "coupons_per_shop",
        sql: include_str!("../migrations/0010_coupons_per_shop.surql"),
    },
    Migration {
        version: 11,
        name: "outbox",
        sql: include_str!("../migrations/0011_outbox.surql"),
    },
    Migration {
        version: 12,
        name: "analytics",
        sql: include_str!("../migrations/0012_analytics.surql"),
    },
    Migration {
        version: 13,
        name: "console",
        sql: include_str!("../migrations/0013_console.surql"),
    },
    Migration {
        version: 14,
        name: "moderation",
        sql: include_str!("../migrations/0014_moderation.surql"),
    },
    Migration {
        version: 15,
        name: "analytics_revenue_categories_months",
        sql: include_str!("../migrations/0015_analytics_revenue_categories_months.surql"),
    },
];

/// The schema version this build of Bazaar expects.
pub fn latest_version() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    /// The URL names no storage engine we know.
    #[error(
        "unsupported database URL `{0}`: use mem://, surrealkv://PATH, ws://HOST:PORT or wss://HOST:PORT"
    )]
    BadUrl(String),
    /// The database is behind: run `bazaar migrate`.
    #[error(
        "the database schema is at version {found} but this build needs {wanted}: run `bazaar migrate`"
    )]
    Behind { found: i64, wanted: i64 },
    /// The database is ahead: this build is older than the data.
    #[error(
        "the database schema is at version {found}, newer than this build knows ({wanted}): upgrade bazaar"
    )]
    Ahead { found: i64, wanted: i64 },
    #[error("migration {version} ({name}) failed: {source}")]
    Migration {
        version: i64,
        name: &'static str,
        source: surrealdb::Error,
    },
    #[error("database: {0}")]
    Db(#[from] surrealdb::Error),
    #[error("database returned an unexpected shape: {0}")]
    Shape(#[from] serde_json::Error),
}

/// Credentials for a SurrealDB server; embedded engines need none.
#[derive(Clone, Default)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"[redacted]")
            .finish()
    }
}

/// Where the database is and how to sign in to it. Flags override the
/// environment; every process that opens the database flattens this into its
/// command line.
#[derive(Clone, clap::Args)]
pub struct DatabaseConfig {
    /// SurrealDB: mem://, surrealkv://PATH (embedded) or ws://HOST:PORT (server).
    /// Defaults to surrealkv:// under the data dir.
    #[arg(long, global = true, env = "BAZAAR_DATABASE_URL")]
    pub database_url: Option<String>,

    /// SurrealDB server user (ws:// only).
    #[arg(
        long,
        global = true,
        env = "BAZAAR_DATABASE_USER",
        default_value = "root"
    )]
    pub database_user: String,

    /// SurrealDB server password (ws:// only).
    #[arg(
        long,
        global = true,
        env = "BAZAAR_DATABASE_PASSWORD",
        hide_env_values = true
    )]
    pub database_password: Option<String>,
}

/// The password stays out of `{:?}` (and so out of any log line).
impl std::fmt::Debug for DatabaseConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseConfig")
            .field("database_url", &self.database_url)
            .field("database_user", &self.database_user)
            .field(
                "database_password",
                &self.database_password.as_ref().map(|_| "(hidden)"),
            )
            .finish()
    }
}

impl DatabaseConfig {
    /// A database at `url`, without credentials (tests, embedding).
    pub fn at(url: &str) -> Self {
        Self {
            database_url: Some(url.to_owned()),
            database_user: "root".into(),
            database_password: None,
        }
    }

    /// The database URL, defaulting to embedded surrealkv under `data_dir`.
    pub fn url(&self, data_dir: &std::path::Path) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("surrealkv://{}", data_dir.join("db").display()))
    }

    /// The server credentials, when a password is set.
    pub fn credentials(&self) -> Option<Credentials> {
        self.database_password.as_ref().map(|password| Credentials {
            username: self.database_user.clone(),
            password: password.clone(),
        })
    }
}

/// Opens the database the URL names and selects Bazaar's namespace.
#[tracing::instrument(skip(credentials))]
pub async fn connect(url: &str, credentials: Option<&Credentials>) -> Result<Db, SchemaError> {
    let remote = url.starts_with("ws://") || url.starts_with("wss://");
    let embedded = url.starts_with("mem://") || url.starts_with("surrealkv://");
    if !remote && !embedded {
        return Err(SchemaError::BadUrl(url.to_owned()));
    }
    let db = any::connect(url).await?;
    if let (true, Some(c)) = (remote, credentials) {
        db.signin(Root {
            username: c.username.clone(),
            password: c.password.clone(),
        })
        .await?;
    }
    db.use_ns(NAMESPACE).use_db(DATABASE).await?;
    Ok(db)
}

/// How long [`close`] waits for embedded storage to close.
const CLOSE_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// Lets go of `db` (the last handle: every clone must be gone) and, on
/// embedded surrealkv storage, waits until the storage engine has closed,
/// so that the next start opens it without replaying its write-ahead log.
///
/// The engine closes the storage in a task of its own once the last handle
/// is dropped; a process that returned from `main` at once would end that
/// task midway. The storage holds an exclusive lock on its `LOCK` file until
/// it has closed, so the wait is for that lock.
pub async fn close(db: Db, url: &str) {
    drop(db);
    let Some(path) = url.strip_prefix("surrealkv://") else {
        return;
    };
    let dir = path.split('?').next().unwrap_or(path);
    let lock = std::path::Path::new(dir).join("LOCK");
    let started = std::time::Instant::now();
    loop {
        let free = match std::fs::File::open(&lock) {
            Ok(file) => match file.try_lock() {
                Ok(()) => true,
                Err(std::fs::TryLockError::WouldBlock) => false,
                Err(std::fs::TryLockError::Error(e)) => {
                    tracing::debug!(error = %e, "cannot tell whether the storage closed");
                    true
                }
            },
            // No lock file: the storage was never opened here.
            Err(_) => true,
        };
        if free {
            tracing::info!(waited = ?started.elapsed(), "database closed");
            return;
        }
        if started.elapsed() > CLOSE_WAIT {
            tracing::warn!(
                "the database did not close within {CLOSE_WAIT:?}; its next start replays its log"
            );
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// The highest migration version recorded, 0 on an empty database.
pub async fn current_version(db: &Db) -> Result<i64, SchemaError> {
    let mut res = db
        // SurrealDB 3 refuses to select from a table that was never defined.
        .query(
            "IF (INFO FOR DB).tables.migration != NONE {
                 RETURN SELECT VALUE version FROM migration ORDER BY version DESC LIMIT 1;
             } ELSE {
                 RETURN [];
             }",
        )
        .await?
        .check()?;
    let versions: Vec<i64> = res.take(0)?;
    Ok(versions.first().copied().unwrap_or(0))
}

/// Applies every migration not yet recorded, in order, each in its own
/// transaction together with its record, so a concurrent migrator or a crash
/// can never apply one twice or half. Returns the versions it applied.
pub async fn migrate(db: &Db) -> Result<Vec<i64>, SchemaError> {
    db.query(
        "DEFINE TABLE IF NOT EXISTS migration SCHEMAFULL;
         DEFINE FIELD IF NOT EXISTS version ON migration TYPE int;
         DEFINE FIELD IF NOT EXISTS name ON migration TYPE string;
         DEFINE FIELD IF NOT EXISTS applied_at ON migration TYPE datetime DEFAULT time::now();
         DEFINE INDEX IF NOT EXISTS migration_version ON migration FIELDS version UNIQUE;",
    )
    .await?
    .check()?;
    let current = current_version(db).await?;
    let mut applied = Vec::new();
    for m in MIGRATIONS.iter().filter(|m| m.version > current) {
        let sql = format!(
            "BEGIN TRANSACTION;\n{}\nCREATE type::record('migration', $version) SET version = $version, name = $name;\nCOMMIT TRANSACTION;",
            m.sql
        );
        db.query(sql)
            .bind(("version", m.version))
            .bind(("name", m.name))
            .await
            .and_then(|r| r.check())
            .map_err(|source| SchemaError::Migration {
                version: m.version,
                name: m.name,
                source,
            })?;
        tracing::info!(version = m.version, name = m.name, "migration applied");
        applied.push(m.version);
    }
    Ok(applied)
}

/// Fails unless the database is at exactly the version this build expects;
/// nodes call it at start so they never run against a schema they don't know.
pub async fn require_current(db: &Db) -> Result<(), SchemaError> {
    let found = current_version(db).await?;
    let wanted = latest_version();
    match found.cmp(&wanted) {
        std::cmp::Ordering::Less => Err(SchemaError::Behind { found, wanted }),
        std::cmp::Ordering::Greater => Err(SchemaError::Ahead { found, wanted }),
        std::cmp::Ordering::Equal => Ok(()),
    }
}

/// Takes statement `index` of a response as rows of a serde type.
///
/// SurrealDB 3 hands out its own value type; going through JSON keeps domain
/// types plain serde structs shared with the wire contract.
pub fn take_rows<T: DeserializeOwned>(
    res: &mut surrealdb::IndexedResults,
    index: usize,
) -> Result<Vec<T>, SchemaError> {
    let rows: Vec<serde_json::Value> = res.take(index)?;
    rows.into_iter()
        .map(|row| serde_json::from_value(row).map_err(SchemaError::from))
        .collect()
}

/// The `n` of a `SELECT count() AS n … GROUP ALL` statement: 0 when
/// nothing matched (the statement then answers no row at all).
pub fn take_count(res: &mut surrealdb::IndexedResults, index: usize) -> Result<i64, SchemaError> {
    Ok(take_rows::<serde_json::Value>(res, index)?
        .first()
        .and_then(|v| v["n"].as_i64())
        .unwrap_or(0))
}

/// The index of the statement just before `COMMIT TRANSACTION` in a
/// committed transaction's results (COMMIT answers too, with nothing): where
/// a transaction that ends by reading back what it wrote has its rows.
pub fn before_commit(results: &surrealdb::IndexedResults) -> usize {
    results.num_statements().saturating_sub(2)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `INFO FOR TABLE product` says is defined on products.
    async fn product_indexes(db: &Db) -> Vec<String> {
        let mut res = db.query("INFO FOR TABLE product").await.unwrap();
        let info: Option<serde_json::Value> = res.take(0).unwrap();
        let info = info.unwrap();
        let mut names: Vec<String> = info["indexes"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        names.sort();
        names
    }

    #[tokio::test]
    async fn products_keep_no_full_text_index_once_search_has_its_own() {
        let db = connect("mem://", None).await.unwrap();
        migrate(&db).await.unwrap();
        let indexes = product_indexes(&db).await;
        assert!(!indexes.is_empty(), "the listing indexes stay");
        assert!(
            !indexes
                .iter()
                .any(|i| i == "product_search" || i == "product_title_prefix"),
            "{indexes:?}"
        );
        let mut res = db.query("INFO FOR DB").await.unwrap();
        let info: Option<serde_json::Value> = res.take(0).unwrap();
        let analyzers = &info.unwrap()["analyzers"];
        assert_eq!(analyzers, &serde_json::json!({}), "{analyzers}");
    }

    #[tokio::test]
    async fn migrations_apply_once_and_are_recorded() {
        let db = connect("mem://", None).await.unwrap();
        assert_eq!(current_version(&db).await.unwrap(), 0);
        assert!(matches!(
            require_current(&db).await,
            Err(SchemaError::Behind { .. })
        ));
        let first = migrate(&db).await.unwrap();
        assert_eq!(first.len(), MIGRATIONS.len());
        let again = migrate(&db).await.unwrap();
        assert!(again.is_empty(), "re-running applied {again:?}");
        require_current(&db).await.unwrap();
        let mut res = db
            .query("SELECT VALUE version FROM migration")
            .await
            .unwrap();
        let recorded: Vec<i64> = res.take(0).unwrap();
        assert_eq!(recorded.len(), MIGRATIONS.len());
    }

    #[tokio::test]
    async fn schema_refuses_bad_rows() {
        let db = connect("mem://", None).await.unwrap();
        migrate(&db).await.unwrap();
        let bad = db
            .query("CREATE category SET slug = 'Not A Slug', name = 'x', position = 0, subcategories = []")
            .await
            .unwrap()
            .check();
        assert!(bad.is_err(), "a bad slug was stored");
        let good = db
            .query("CREATE category SET slug = 'home-garden', name = 'Home', position = 0, subcategories = [{ slug: 'tools', name: 'Tools' }]")
            .await
            .unwrap()
            .check();
        assert!(good.is_ok(), "{good:?}");
        let dup = db
            .query("CREATE category SET slug = 'home-garden', name = 'Again', position = 1, subcategories = []")
            .await
            .unwrap()
            .check();
        assert!(dup.is_err(), "a duplicate slug was stored");
    }

    /// Reverse range scans on disk storage (ORDER BY … DESC over an index
    /// range, with keys on both sides of the range in the memtable) return
    /// exactly what the forward scan does, reversed: the check on our
    /// patched surrealkv (vendor/surrealkv), whose reverse seek was rewritten.
    #[tokio::test]
    async fn reverse_index_scans_on_surrealkv_match_forward_ones() {
        let dir = tempfile::tempdir().unwrap();
        let db = connect(&format!("surrealkv://{}", dir.path().display()), None)
            .await
            .unwrap();
        db.query(
            "DEFINE TABLE item SCHEMALESS;
             DEFINE INDEX item_group_n ON item FIELDS g, n;
             FOR $i IN 0..600 { CREATE item SET g = ['a', 'b', 'c'][$i % 3], n = $i; };",
        )
        .await
        .unwrap()
        .check()
        .unwrap();
        let values = |sql: &'static str| {
            let db = db.clone();
            async move {
                let mut res = db.query(sql).await.unwrap().check().unwrap();
                let rows: Vec<serde_json::Value> = take_rows(&mut res, 0).unwrap();
                rows.into_iter()
                    .map(|r| r["n"].as_i64().unwrap())
                    .collect::<Vec<_>>()
            }
        };
        for (asc, desc) in [
            (
                "SELECT n FROM item WHERE g = 'b' ORDER BY n ASC",
                "SELECT n FROM item WHERE g = 'b' ORDER BY n DESC",
            ),
            (
                "SELECT n FROM item WHERE g = 'b' AND n >= 100 AND n <= 400 ORDER BY n ASC",
                "SELECT n FROM item WHERE g = 'b' AND n >= 100 AND n <= 400 ORDER BY n DESC",
            ),
            (
                "SELECT n FROM item WHERE g = 'c' ORDER BY n ASC",
                "SELECT n FROM item WHERE g = 'c' ORDER BY n DESC LIMIT 500",
            ),
        ] {
            let forward = values(asc).await;
            let mut backward = values(desc).await;
            backward.reverse();
            assert!(!forward.is_empty());
            assert_eq!(forward, backward, "{desc}");
        }
        let page = values("SELECT n FROM item WHERE g = 'a' ORDER BY n DESC LIMIT 3").await;
        assert_eq!(page, [597, 594, 591]);
        drop(db);
    }

    #[tokio::test]
    async fn unknown_urls_are_refused_clearly() {
        let err = connect("postgres://x", None).await.unwrap_err();
        assert!(err.to_string().contains("unsupported database URL"));
    }
}
