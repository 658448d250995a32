//! Why a transaction did not commit, as a type, and one bounded retry.
//!
//! SurrealDB reports a failed transaction statement by statement: the one
//! that failed says why, the others only that they were not executed. The
//! text of its errors is read here and nowhere else.

use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use surrealdb::IndexedResults;
use surrealdb::types::QueryError;

/// Why a transaction (or a single write) did not commit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransactionError {
    /// The transaction ran `THROW "code"`: the code, as thrown.
    #[error("the transaction threw `{0}`")]
    Thrown(String),
    /// It collided with another transaction; trying again is right.
    #[error("transaction conflict: {0}")]
    Conflict(String),
    /// A write met a unique index that already held its value.
    #[error("unique index `{index}` already holds the value: {message}")]
    Unique { index: String, message: String },
    /// A `CREATE` met a record that already exists.
    #[error("the record already exists: {0}")]
    Exists(String),
    /// Anything else, as the database said it.
    #[error("database: {0}")]
    Other(String),
}

impl TransactionError {
    /// Whether trying the same transaction again may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Conflict(_))
    }

    /// The code of a `THROW`, if the transaction threw one.
    pub fn thrown(&self) -> Option<&str> {
        match self {
            Self::Thrown(code) => Some(code),
            _ => None,
        }
    }

    /// The unique index that refused the write, if one did.
    pub fn unique_index(&self) -> Option<&str> {
        match self {
            Self::Unique { index, .. } => Some(index),
            _ => None,
        }
    }

    /// How telling this error is about the cause of a failed transaction:
    /// the statement that failed outranks the ones that only report the
    /// failure.
    fn rank(&self) -> u8 {
        match self {
            Self::Thrown(_) | Self::Unique { .. } | Self::Exists(_) => 3,
            Self::Conflict(_) => 2,
            Self::Other(_) => 1,
        }
    }
}

/// Statement echoes of a failed transaction: they carry no cause.
fn is_echo(e: &surrealdb::Error) -> bool {
    e.query_details() == Some(&QueryError::NotExecuted)
        || e.message().contains("aborted due to a prior error")
        || e.message().contains("not executed")
}

impl From<surrealdb::Error> for TransactionError {
    fn from(e: surrealdb::Error) -> Self {
        let message = e.message().to_owned();
        if e.is_thrown() {
            return Self::Thrown(thrown_code(&message).to_owned());
        }
        if e.query_details() == Some(&QueryError::TransactionConflict)
            || message.to_lowercase().contains("conflict")
            || message.contains("can be retried")
        {
            return Self::Conflict(message);
        }
        if let Some(index) = unique_index(&message) {
            return Self::Unique {
                index: index.to_owned(),
                message,
            };
        }
        if e.already_exists_details().is_some() {
            return Self::Exists(message);
        }
        Self::Other(message)
    }
}

/// `An error occurred: CODE` is how SurrealDB words a `THROW "CODE"`.
fn thrown_code(message: &str) -> &str {
    message
        .strip_prefix("An error occurred: ")
        .unwrap_or(message)
}

/// The index in "Database index `NAME` already contains …".
fn unique_index(message: &str) -> Option<&str> {
    let rest = message.split_once("Database index `")?.1;
    let (name, rest) = rest.split_once('`')?;
    rest.trim_start()
        .starts_with("already contains")
        .then_some(name)
}

/// A transaction's results when it committed (to read what its statements
/// returned), else the error of the statement that made it fail.
pub fn committed(
    result: Result<IndexedResults, surrealdb::Error>,
) -> Result<IndexedResults, TransactionError> {
    let mut results = result?;
    let mut errors: Vec<(usize, surrealdb::Error)> = results.take_errors().into_iter().collect();
    if errors.is_empty() {
        return Ok(results);
    }
    errors.sort_by_key(|(index, _)| *index);
    let causes = errors.iter().filter(|(_, e)| !is_echo(e));
    let all = errors.iter();
    let pick = |it: &mut dyn Iterator<Item = &(usize, surrealdb::Error)>| {
        it.map(|(_, e)| TransactionError::from(e.clone()))
            .reduce(|best, e| if e.rank() > best.rank() { e } else { best })
    };
    let cause = pick(&mut causes.into_iter())
        .or_else(|| pick(&mut all.into_iter()))
        .unwrap_or_else(|| TransactionError::Other("the transaction failed".into()));
    Err(cause)
}

/// A transaction's outcome, as [`committed`] judges it, when what its
/// statements returned is not needed.
pub fn transaction_errors(
    result: Result<IndexedResults, surrealdb::Error>,
) -> Result<(), TransactionError> {
    committed(result).map(|_| ())
}

/// An error that may say the work collided with someone else's, so doing it
/// again is right. Node errors carrying a [`TransactionError`] say so too.
pub trait Retryable {
    fn is_retryable(&self) -> bool;
}

impl Retryable for TransactionError {
    fn is_retryable(&self) -> bool {
        TransactionError::is_retryable(self)
    }
}

/// Runs `attempt` up to `attempts` times while it fails with a retryable
/// error, waiting a little longer (and randomly spread, so the racers do not
/// meet again at once) before each new try. Returns the first success, the
/// first error that is not retryable, or the last error.
pub async fn retry_transaction<T, E, F, Fut>(attempts: u32, mut attempt: F) -> Result<T, E>
where
    E: Retryable,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut tried = 0;
    loop {
        tried += 1;
        match attempt().await {
            Err(e) if e.is_retryable() && tried < attempts => {
                tokio::time::sleep(backoff(tried)).await;
            }
            done => return done,
        }
    }
}

/// 2–4 ms after the first try, doubling up to 32–64 ms.
fn backoff(tried: u32) -> Duration {
    let base = 2u64 << tried.saturating_sub(1).min(4);
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    Duration::from_millis(base + random % base)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Db, connect};

    async fn db() -> Db {
        let db = connect("mem://", None).await.unwrap();
        db.query(
            "DEFINE TABLE thing SCHEMALESS;
             DEFINE INDEX thing_name ON thing FIELDS name UNIQUE;",
        )
        .await
        .unwrap()
        .check()
        .unwrap();
        db
    }

    #[tokio::test]
    async fn a_throw_is_its_code() {
        let db = db().await;
        let result = db
            .query(
                "BEGIN TRANSACTION;
                 CREATE thing:a SET name = 'a';
                 IF true { THROW 'short:p1'; };
                 COMMIT TRANSACTION;",
            )
            .await;
        let err = committed(result).unwrap_err();
        assert_eq!(err, TransactionError::Thrown("short:p1".into()));
        assert_eq!(err.thrown(), Some("short:p1"));
        assert!(!err.is_retryable());
        // Nothing of the transaction stayed.
        let mut res = db.query("SELECT VALUE name FROM thing").await.unwrap();
        let names: Vec<String> = res.take(0).unwrap();
        assert!(names.is_empty(), "{names:?}");
    }

    #[tokio::test]
    async fn a_unique_index_violation_names_the_index() {
        let db = db().await;
        transaction_errors(db.query("CREATE thing:a SET name = 'x'").await).unwrap();
        let result = db
            .query(
                "BEGIN TRANSACTION;
                 CREATE thing:b SET name = 'x';
                 COMMIT TRANSACTION;",
            )
            .await;
        let err = transaction_errors(result).unwrap_err();
        assert_eq!(err.unique_index(), Some("thing_name"), "{err:?}");
        // Outside a transaction, the same.
        let single = db.query("CREATE thing:c SET name = 'x'").await;
        assert_eq!(
            transaction_errors(single).unwrap_err().unique_index(),
            Some("thing_name")
        );
    }

    #[tokio::test]
    async fn a_record_that_exists_is_told_apart() {
        let db = db().await;
        transaction_errors(db.query("CREATE thing:a SET name = 'a'").await).unwrap();
        let result = db
            .query(
                "BEGIN TRANSACTION;
                 CREATE thing:a SET name = 'b';
                 COMMIT TRANSACTION;",
            )
            .await;
        let err = transaction_errors(result).unwrap_err();
        assert!(matches!(err, TransactionError::Exists(_)), "{err:?}");
    }

    #[tokio::test]
    async fn other_failures_are_other() {
        let db = db().await;
        let result = db
            .query(
                "BEGIN TRANSACTION;
                 CREATE thing:a SET name = 'a';
                 RETURN 1 + 'x' - [];
                 COMMIT TRANSACTION;",
            )
            .await;
        let err = transaction_errors(result).unwrap_err();
        assert!(matches!(err, TransactionError::Other(_)), "{err:?}");
        assert!(!err.is_retryable());
    }

    #[tokio::test]
    async fn a_committed_transaction_hands_back_its_results() {
        let db = db().await;
        let result = db
            .query(
                "BEGIN TRANSACTION;
                 CREATE thing:a SET name = 'a' RETURN NONE;
                 SELECT VALUE name FROM thing;
                 COMMIT TRANSACTION;",
            )
            .await;
        let mut res = committed(result).unwrap();
        let last = crate::before_commit(&res);
        let names: Vec<String> = res.take(last).unwrap();
        assert_eq!(names, ["a"]);
    }

    /// Racing read-modify-write transactions on one record on embedded
    /// storage: the losers see a conflict, and retrying makes every one count.
    #[tokio::test]
    async fn conflicts_are_retryable_and_retried() {
        let db = db().await;
        transaction_errors(db.query("CREATE thing:n SET name = 'n', n = 0").await).unwrap();
        let bump = |db: Db| async move {
            retry_transaction(50, || {
                let db = db.clone();
                async move {
                    transaction_errors(
                        db.query(
                            "BEGIN TRANSACTION;
                             LET $n = (SELECT VALUE n FROM ONLY thing:n);
                             UPDATE thing:n SET n = $n + 1;
                             COMMIT TRANSACTION;",
                        )
                        .await,
                    )
                }
            })
            .await
        };
        let results = futures_join(db.clone(), bump).await;
        let conflicts = results.iter().filter(|r| r.is_err()).count();
        assert_eq!(conflicts, 0, "{results:?}");
        let mut res = db.query("SELECT VALUE n FROM ONLY thing:n").await.unwrap();
        let n: Option<i64> = res.take(0).unwrap();
        assert_eq!(n, Some(results.len() as i64));
    }

    async fn futures_join<F, Fut>(db: Db, f: F) -> Vec<Result<(), TransactionError>>
    where
        F: Fn(Db) -> Fut,
        Fut: Future<Output = Result<(), TransactionError>> + Send + 'static,
    {
        let tasks: Vec<_> = (0..8).map(|_| tokio::spawn(f(db.clone()))).collect();
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap());
        }
        out
    }

    #[tokio::test]
    async fn the_retry_gives_up_after_its_attempts() {
        let mut calls = 0;
        let result: Result<(), TransactionError> = retry_transaction(3, || {
            calls += 1;
            async { Err(TransactionError::Conflict("again".into())) }
        })
        .await;
        assert!(result.unwrap_err().is_retryable());
        assert_eq!(calls, 3);
        let mut calls = 0;
        let result: Result<(), TransactionError> = retry_transaction(3, || {
            calls += 1;
            async { Err(TransactionError::Thrown("no".into())) }
        })
        .await;
        assert_eq!(result.unwrap_err().thrown(), Some("no"));
        assert_eq!(calls, 1);
    }
}
