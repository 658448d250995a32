//! Group commit: writes of one kind that arrive while such a write is
//! running wait for it, then go together in one transaction. A busy node
//! pays one parse, one plan and one commit for many requests; an idle one
//! writes each request at once, as before.
//!
//! The statements of one write stay as they are: [`batch_sql`] wraps them
//! in a `FOR` over the waiting writes, each write's variables set from its
//! own object. When the batch fails as a whole (a `THROW`, a unique index,
//! a conflict that keeps coming back), every write is tried again on its
//! own, so each one gets its own answer and no write is judged by another.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::{Semaphore, mpsc, oneshot};

use crate::Db;

/// Writes grouped, and the batches they went in: their ratio is how many
/// writes a transaction carried on average.
pub const GROUP_WRITES: &str = "bazaar_db_group_writes_total";
pub const GROUP_BATCHES: &str = "bazaar_db_group_batches_total";

/// Batches of one kind being written at once, at most: what arrives while
/// every one of them is busy joins the next batch. More than one, so a
/// batch waiting on a database server's round trip does not hold up the
/// rest.
pub const IN_FLIGHT: usize = 4;

type Write<I, O> =
    dyn Fn(Vec<I>) -> std::pin::Pin<Box<dyn Future<Output = Vec<O>> + Send>> + Send + Sync;

/// Writes waiting for a transaction, and the task that writes them.
pub struct GroupCommit<I, O> {
    /// `None` when writes are not grouped (a batch of at most one).
    queue: Option<mpsc::Sender<(I, oneshot::Sender<O>)>>,
    write: Arc<Write<I, O>>,
}

impl<I, O> Clone for GroupCommit<I, O> {
    fn clone(&self) -> Self {
        Self {
            queue: self.queue.clone(),
            write: self.write.clone(),
        }
    }
}

/// The group's task has stopped (the runtime is shutting down).
#[derive(Debug, thiserror::Error)]
#[error("the group commit task has stopped")]
pub struct Stopped;

impl<I: Send + 'static, O: Send + 'static> GroupCommit<I, O> {
    /// Starts the group of `kind` (a metrics label): `write` gets up to
    /// `max_batch` waiting writes and answers each, in order; at most
    /// [`IN_FLIGHT`] batches run at once. With `max_batch` 1 every write
    /// goes at once, alone, in its asker's task.
    pub fn start<F, Fut>(kind: &'static str, max_batch: usize, write: F) -> Self
    where
        F: Fn(Vec<I>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Vec<O>> + Send + 'static,
    {
        let write: Arc<Write<I, O>> = Arc::new(move |batch| Box::pin(write(batch)));
        if max_batch <= 1 {
            return Self { queue: None, write };
        }
        metrics::describe_counter!(
            GROUP_WRITES,
            "writes put in a database transaction by group commit"
        );
        metrics::describe_counter!(
            GROUP_BATCHES,
            "database transactions group commit wrote (writes / batches: writes a transaction)"
        );
        let (queue, mut waiting) = mpsc::channel::<(I, oneshot::Sender<O>)>(max_batch * 64);
        let slots = Arc::new(Semaphore::new(IN_FLIGHT));
        let batches = write.clone();
        tokio::spawn(async move {
            while let Some(first) = waiting.recv().await {
                // A slot first: what arrives while every slot is busy joins
                // this batch.
                let Ok(slot) = slots.clone().acquire_owned().await else {
                    return;
                };
                let mut batch = vec![first];
                while batch.len() < max_batch {
                    match waiting.try_recv() {
                        Ok(next) => batch.push(next),
                        Err(_) => break,
                    }
                }
                metrics::counter!(GROUP_WRITES, "kind" => kind).increment(batch.len() as u64);
                metrics::counter!(GROUP_BATCHES, "kind" => kind).increment(1);
                let write = batches.clone();
                tokio::spawn(async move {
                    let (items, replies): (Vec<I>, Vec<oneshot::Sender<O>>) =
                        batch.into_iter().unzip();
                    let answers = write(items).await;
                    for (reply, answer) in replies.into_iter().zip(answers) {
                        // The asker may have given up (a timeout): the
                        // write stands, as a retry will find.
                        let _ = reply.send(answer);
                    }
                    drop(slot);
                });
            }
        });
        Self {
            queue: Some(queue),
            write,
        }
    }

    /// [`GroupCommit::start`] for writes to the database: `write` gets the
    /// group's one handle with each batch, shared, since a clone of a [`Db`]
    /// opens another session (on a server, a round trip and a session held
    /// there).
    pub fn on_db<F, Fut>(kind: &'static str, db: Db, max_batch: usize, write: F) -> Self
    where
        F: Fn(Arc<Db>, Vec<I>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Vec<O>> + Send + 'static,
    {
        let db = Arc::new(db);
        Self::start(kind, max_batch, move |batch| write(db.clone(), batch))
    }

    /// Writes `item` with whatever else is waiting; its own answer.
    pub async fn write(&self, item: I) -> Result<O, Stopped> {
        let Some(queue) = &self.queue else {
            return (self.write)(vec![item]).await.pop().ok_or(Stopped);
        };
        let (reply, answer) = oneshot::channel();
        queue.send((item, reply)).await.map_err(|_| Stopped)?;
        answer.await.map_err(|_| Stopped)
    }
}

/// Writes a batch in one go (`together`, answering every write in order)
/// when it holds several writes and that succeeds; else each write on its
/// own (`alone`, all at once), so that each gets its own answer.
pub async fn together_or_alone<'a, I, T, E, Tog, TogFut, One, OneFut>(
    kind: &str,
    batch: &'a [I],
    together: Tog,
    alone: One,
) -> Vec<Result<T, E>>
where
    E: std::fmt::Display,
    Tog: FnOnce() -> TogFut,
    TogFut: Future<Output = Result<Vec<T>, E>>,
    One: Fn(&'a I) -> OneFut,
    OneFut: Future<Output = Result<T, E>>,
{
    if batch.len() > 1 {
        match together().await {
            Ok(done) => return done.into_iter().map(Ok).collect(),
            Err(e) => tracing::debug!(kind, writes = batch.len(), error = %e, "written one by one"),
        }
    }
    futures::future::join_all(batch.iter().map(alone)).await
}

/// The statements of one write (`body`, which reads its variables as
/// `$name`) as one transaction over `$writes`, an array of objects holding
/// those variables (`names`), followed by `after` (statements that read
/// back what the batch wrote, answering as the transaction's last
/// results).
pub fn batch_sql(body: &str, names: &[&str], after: &str) -> String {
    let lets: String = names
        .iter()
        .map(|n| format!("LET ${n} = $write.{n};\n"))
        .collect();
    format!(
        "BEGIN TRANSACTION;\nFOR $write IN $writes {{\n{lets}{body}\n}};\n{after}\nCOMMIT TRANSACTION;"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn writes_arriving_together_share_a_batch_and_each_gets_its_answer() {
        let sizes = Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = sizes.clone();
        let group = GroupCommit::start("test", 8, move |items: Vec<u32>| {
            let seen = seen.clone();
            async move {
                seen.lock().unwrap().push(items.len());
                // Long enough for the others to queue behind this batch.
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                items.into_iter().map(|i| i * 10).collect()
            }
        });
        let answers = futures::future::join_all((0..20u32).map(|i| {
            let group = group.clone();
            async move { group.write(i).await.unwrap() }
        }))
        .await;
        assert_eq!(answers, (0..20u32).map(|i| i * 10).collect::<Vec<_>>());
        let sizes = sizes.lock().unwrap().clone();
        assert_eq!(sizes.iter().sum::<usize>(), 20);
        assert!(sizes.iter().all(|&n| n <= 8), "{sizes:?}");
        assert!(sizes.len() < 20, "some writes went together: {sizes:?}");
    }

    #[tokio::test]
    async fn a_batch_of_one_writes_each_at_once_in_its_askers_task() {
        let group = GroupCommit::start("test", 1, |items: Vec<u32>| async move {
            assert_eq!(items.len(), 1);
            items
        });
        assert!(group.queue.is_none());
        let answers = futures::future::join_all((0..5u32).map(|i| group.write(i))).await;
        let answers: Vec<u32> = answers.into_iter().map(Result::unwrap).collect();
        assert_eq!(answers, [0, 1, 2, 3, 4]);
    }

    #[tokio::test]
    async fn a_batch_runs_each_write_with_its_own_variables() {
        let db = crate::connect("mem://", None).await.unwrap();
        let sql = batch_sql(
            "CREATE type::record('note', $id) SET text = $text RETURN NONE;",
            &["id", "text"],
            "SELECT VALUE text FROM array::map($ids, |$i| type::record('note', $i));",
        );
        let res = db
            .query(sql)
            .bind((
                "writes",
                serde_json::json!([{ "id": "a", "text": "one" }, { "id": "b", "text": "two" }]),
            ))
            .bind(("ids", vec!["a", "b"]))
            .await;
        let mut res = crate::committed(res).unwrap();
        let texts: Vec<String> = res.take(crate::before_commit(&res)).unwrap();
        assert_eq!(texts, ["one", "two"]);
    }

    #[tokio::test]
    async fn a_throw_in_one_write_undoes_the_whole_batch() {
        let db = crate::connect("mem://", None).await.unwrap();
        db.query("DEFINE TABLE note SCHEMALESS")
            .await
            .unwrap()
            .check()
            .unwrap();
        let sql = batch_sql(
            "IF $bad { THROW 'bad'; }; CREATE type::record('note', $id) RETURN NONE;",
            &["id", "bad"],
            "",
        );
        let res = db
            .query(sql)
            .bind((
                "writes",
                serde_json::json!([{ "id": "a", "bad": false }, { "id": "b", "bad": true }]),
            ))
            .await;
        assert_eq!(
            crate::committed(res).unwrap_err(),
            crate::TransactionError::Thrown("bad".into())
        );
        let mut res = db.query("SELECT VALUE id FROM note").await.unwrap();
        let ids: Vec<serde_json::Value> = res.take(0).unwrap();
        assert!(ids.is_empty(), "{ids:?}");
    }
}
