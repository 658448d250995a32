//! The index on disk, its one writer and its reader.

use std::path::Path;
use std::sync::{Arc, Mutex};

use bazaar_subjects::catalog::{SearchProducts, SearchResults, SuggestRequest, Suggestions};
use serde::{Deserialize, Serialize};
use tantivy::directory::MmapDirectory;
use tantivy::query::FuzzyTermQuery;
use tantivy::tokenizer::TextAnalyzer;
use tantivy::{Index, IndexReader, IndexSettings, IndexWriter, ReloadPolicy, Term, Warmer};

use crate::doc::ProductDoc;
use crate::error::SearchError;
use crate::query::Queries;
use crate::schema::{self, Fields};
use crate::text;

/// How much the writer may buffer before it flushes a segment, and with how
/// many threads it indexes.
#[derive(Debug, Clone, Copy)]
pub struct WriterOptions {
    pub threads: usize,
    pub memory_bytes: usize,
}

impl Default for WriterOptions {
    fn default() -> Self {
        let threads = std::thread::available_parallelism()
            .map_or(1, usize::from)
            .min(4);
        WriterOptions {
            threads,
            memory_bytes: 128_000_000 * threads,
        }
    }
}

/// Blocks of stored documents, compressed one by one: a page of results
/// decompresses a block for each of its products. Set when an index is
/// created; an index keeps the size it was made with.
const DOCSTORE_BLOCK_BYTES: usize = 4_096;

/// What a commit records besides the documents.
#[derive(Debug, Default, Serialize, Deserialize)]
struct CommitPayload {
    /// The last event-stream sequence applied before this commit.
    last_applied_sequence: Option<u64>,
}

struct WriterState {
    /// `None` only if a fresh writer could not be had after merges.
    writer: Option<IndexWriter>,
    /// Changes since the last commit.
    dirty: bool,
    /// What the next commit will record.
    pending_sequence: Option<u64>,
    /// What the last commit recorded.
    committed_sequence: Option<u64>,
}

/// A product index in one directory: one writer, one reader.
///
/// Writes go through `&self` (the writer sits behind a lock), so one
/// `SearchIndex` is shared by the task applying events and the tasks
/// answering queries; a search never waits for a write.
pub struct SearchIndex {
    index: Index,
    fields: Fields,
    reader: IndexReader,
    writer: Mutex<WriterState>,
    options: WriterOptions,
    /// Cuts documents into the words the title prefixes are made of.
    words: TextAnalyzer,
    /// How queries read the index.
    queries: Queries,
}

impl SearchIndex {
    /// Opens the index in `dir`, creating the directory and an empty index
    /// when there is none. A directory holding an index of another schema
    /// is an error: wipe it and rebuild.
    pub fn open_or_create(dir: &Path) -> Result<SearchIndex, SearchError> {
        SearchIndex::open_with(dir, WriterOptions::default())
    }

    pub fn open_with(dir: &Path, options: WriterOptions) -> Result<SearchIndex, SearchError> {
        std::fs::create_dir_all(dir)?;
        let (schema, fields) = schema::build();
        let settings = IndexSettings {
            docstore_blocksize: DOCSTORE_BLOCK_BYTES,
            ..IndexSettings::default()
        };
        let index = Index::builder()
            .schema(schema)
            .settings(settings)
            .open_or_create(MmapDirectory::open(dir)?)?;
        let tokenizers = index.tokenizers();
        tokenizers.register(text::ENGLISH, text::english());
        tokenizers.register(text::WORDS, text::words());
        tokenizers.register(text::VERBATIM, text::verbatim());
        let committed_sequence = match index.load_metas()?.payload {
            Some(p) => serde_json::from_str::<CommitPayload>(&p)?.last_applied_sequence,
            None => None,
        };
        let writer = index.writer_with_num_threads(options.threads, options.memory_bytes)?;
        // Tantivy builds its one-edit automaton builder once per process,
        // on the first typo-tolerant query, which takes ~130 ms; every
        // query arriving meanwhile waits for it. Build it now instead.
        FuzzyTermQuery::new(Term::from_field_text(fields.title, "warm"), 1, true).automaton()?;
        let queries = Queries::new(fields);
        // The facet masks and price ladders of every new segment are built
        // before a reload publishes it, so no query waits for them.
        let masks: Arc<dyn Warmer> = queries.masks.clone();
        let ladders: Arc<dyn Warmer> = queries.ladders.clone();
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .warmers(vec![Arc::downgrade(&masks), Arc::downgrade(&ladders)])
            .try_into()?;
        Ok(SearchIndex {
            index,
            fields,
            reader,
            options,
            writer: Mutex::new(WriterState {
                writer: Some(writer),
                dirty: false,
                pending_sequence: committed_sequence,
                committed_sequence,
            }),
            words: text::words(),
            queries,
        })
    }

    fn writer(&self) -> std::sync::MutexGuard<'_, WriterState> {
        // A panic while holding the lock leaves nothing half-written that
        // the next commit could not carry: keep going.
        self.writer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Replaces the product's document (a product no longer live is only
    /// removed). Visible after the next commit.
    pub fn upsert(&self, doc: &ProductDoc) -> Result<(), SearchError> {
        let document = if doc.live {
            Some(doc.to_document(&self.fields, &mut self.words.clone())?)
        } else {
            None
        };
        let mut w = self.writer();
        let writer = w.get()?;
        writer.delete_term(Term::from_field_text(self.fields.id, &doc.id));
        if let Some(document) = document {
            writer.add_document(document)?;
        }
        w.dirty = true;
        Ok(())
    }

    /// Removes a product. Visible after the next commit.
    pub fn delete(&self, id: &str) -> Result<(), SearchError> {
        let mut w = self.writer();
        w.get()?
            .delete_term(Term::from_field_text(self.fields.id, id));
        w.dirty = true;
        Ok(())
    }

    /// Removes every product (before a rebuild). Visible after the next
    /// commit, which also forgets the applied sequence unless one is marked.
    pub fn delete_all(&self) -> Result<(), SearchError> {
        let mut w = self.writer();
        w.get()?.delete_all_documents()?;
        w.pending_sequence = None;
        w.dirty = true;
        Ok(())
    }

    /// Records that every event up to `sequence` has been applied; the
    /// next commit stores it.
    pub fn mark_applied(&self, sequence: u64) {
        let mut w = self.writer();
        if w.pending_sequence != Some(sequence) {
            w.pending_sequence = Some(sequence);
            w.dirty = true;
        }
    }

    /// Commits the changes since the last commit, if any, with the last
    /// applied sequence, and makes them visible to searches. Meant to run
    /// every ~500 ms; returns whether there was anything to commit.
    pub fn commit_if_dirty(&self) -> Result<bool, SearchError> {
        let mut w = self.writer();
        if !w.dirty {
            return Ok(false);
        }
        let payload = serde_json::to_string(&CommitPayload {
            last_applied_sequence: w.pending_sequence,
        })?;
        let mut prepared = w.get()?.prepare_commit()?;
        prepared.set_payload(&payload);
        prepared.commit()?;
        w.committed_sequence = w.pending_sequence;
        w.dirty = false;
        drop(w);
        self.reader.reload()?;
        Ok(true)
    }

    /// The last event-stream sequence the committed index reflects; `None`
    /// for an index built from nothing or rebuilt without events yet.
    pub fn last_applied_sequence(&self) -> Option<u64> {
        self.writer().committed_sequence
    }

    /// Live products searchable now.
    pub fn doc_count(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// Browse or search, exactly as the catalog's `SearchCatalog` endpoint
    /// answers (exact totals and facets).
    pub fn search(&self, request: &SearchProducts) -> Result<SearchResults, SearchError> {
        self.queries.search(
            &self.reader.searcher(),
            request,
            time::OffsetDateTime::now_utc(),
        )
    }

    /// As [`SearchIndex::search`], with flash sales judged at `now`.
    pub fn search_at(
        &self,
        request: &SearchProducts,
        now: time::OffsetDateTime,
    ) -> Result<SearchResults, SearchError> {
        self.queries.search(&self.reader.searcher(), request, now)
    }

    /// Title completions for a search box, best sellers first.
    pub fn suggest(&self, request: &SuggestRequest) -> Result<Suggestions, SearchError> {
        self.queries.suggest(&self.reader.searcher(), request)
    }

    /// Waits for the background merges a bulk load started, so searches
    /// read few segments; the writer is replaced by a fresh one.
    pub fn wait_for_merges(&self) -> Result<(), SearchError> {
        let mut w = self.writer();
        // Tantivy waits for merges only while consuming its writer, and
        // allows one writer per index at a time.
        if let Some(old) = w.writer.take() {
            old.wait_merging_threads()?;
        }
        w.writer = Some(
            self.index
                .writer_with_num_threads(self.options.threads, self.options.memory_bytes)?,
        );
        Ok(())
    }
}

impl WriterState {
    fn get(&mut self) -> Result<&mut IndexWriter, SearchError> {
        self.writer.as_mut().ok_or_else(|| {
            SearchError::Index(tantivy::TantivyError::SystemError(
                "the index writer was lost while waiting for merges".into(),
            ))
        })
    }
}
