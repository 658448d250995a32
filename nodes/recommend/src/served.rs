//! The model being served, and moving from one to the next.
//!
//! Requests take a cheap `Arc` of the current model under a read lock held
//! for one pointer copy, so a swap never waits for a request and a request
//! never sees half a model: answers in flight finish on the model they
//! started with.

use std::collections::HashSet;
use std::sync::{Arc, RwLock};

use async_nats::jetstream::{self, kv, object_store::ObjectMetadata};
use bazaar_runtime::NodeError;
use bazaar_runtime::jetstream::{ensure_kv, ensure_object_store};
use bazaar_subjects::recommend::{
    CURRENT_MODEL_KEY, MODEL_POINTER_BUCKET, MODELS_BUCKET, ModelPointer,
};
use futures::StreamExt;
use tokio::io::AsyncReadExt;

use crate::bundle::{Bundle, BundleError};

/// A model ready to answer, with the pointer that named it.
#[derive(Debug)]
pub struct Loaded {
    pub pointer: ModelPointer,
    pub bundle: Bundle,
    /// Products each account bought, for exclusion.
    purchased: std::collections::HashMap<String, HashSet<String>>,
}

impl Loaded {
    pub fn new(pointer: ModelPointer, bundle: Bundle) -> Self {
        let purchased = bundle
            .extras
            .purchased
            .iter()
            .map(|(u, items)| (u.clone(), items.iter().cloned().collect()))
            .collect();
        Self {
            pointer,
            bundle,
            purchased,
        }
    }

    /// What `account` already bought (empty for an unknown account).
    pub fn purchased(&self, account: &str) -> Option<&HashSet<String>> {
        self.purchased.get(account)
    }
}

/// The current model, if any; swapped whole.
#[derive(Debug, Default)]
pub struct Served {
    current: RwLock<Option<Arc<Loaded>>>,
}

impl Served {
    pub fn current(&self) -> Option<Arc<Loaded>> {
        self.current
            .read()
            .map(|c| c.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    /// Puts `next` in place; returns the model it replaced.
    pub fn swap(&self, next: Arc<Loaded>) -> Option<Arc<Loaded>> {
        let mut guard = self.current.write().unwrap_or_else(|p| p.into_inner());
        guard.replace(next)
    }

    /// Decodes `bytes` as the model `pointer` names and swaps it in; a
    /// corrupt or incompatible artifact is refused and the current model kept.
    pub fn try_swap(&self, pointer: ModelPointer, bytes: &[u8]) -> Result<(), BundleError> {
        let bundle = Bundle::from_bytes(bytes)?;
        self.swap(Arc::new(Loaded::new(pointer, bundle)));
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("the model pointer is not valid JSON: {0}")]
    Pointer(#[from] serde_json::Error),
    #[error("cannot fetch model `{version}`: {reason}")]
    Fetch { version: String, reason: String },
    #[error("model `{version}` refused: {source}")]
    Refused {
        version: String,
        source: BundleError,
    },
}

/// The model store and its pointer.
#[derive(Clone)]
pub struct ModelStore {
    pub objects: jetstream::object_store::ObjectStore,
    pub pointer: kv::Store,
}

impl ModelStore {
    pub async fn open(js: &jetstream::Context) -> Result<Self, NodeError> {
        Ok(Self {
            objects: ensure_object_store(js, MODELS_BUCKET).await?,
            pointer: ensure_kv(js, MODEL_POINTER_BUCKET, std::time::Duration::ZERO).await?,
        })
    }

    /// Stores `bytes` as `pointer.version` and then moves the pointer to it.
    pub async fn publish(&self, pointer: &ModelPointer, bytes: Vec<u8>) -> Result<u64, String> {
        let meta = ObjectMetadata {
            name: pointer.version.clone(),
            description: Some("recommender bundle".to_owned()),
            ..Default::default()
        };
        self.objects
            .put(meta, &mut std::io::Cursor::new(bytes))
            .await
            .map_err(|e| e.to_string())?;
        let value = serde_json::to_vec(pointer).map_err(|e| e.to_string())?;
        self.pointer
            .put(CURRENT_MODEL_KEY, value.into())
            .await
            .map_err(|e| e.to_string())
    }

    async fn fetch(&self, version: &str) -> Result<Vec<u8>, LoadError> {
        let fetch_err = |e: &dyn std::fmt::Display| LoadError::Fetch {
            version: version.to_owned(),
            reason: e.to_string(),
        };
        let mut object = self.objects.get(version).await.map_err(|e| fetch_err(&e))?;
        let mut bytes = Vec::new();
        object
            .read_to_end(&mut bytes)
            .await
            .map_err(|e| fetch_err(&e))?;
        Ok(bytes)
    }

    /// Loads what a pointer value names into `served`.
    pub async fn load(&self, value: &[u8], served: &Served) -> Result<ModelPointer, LoadError> {
        let pointer: ModelPointer = serde_json::from_slice(value)?;
        if served
            .current()
            .is_some_and(|c| c.pointer.version == pointer.version)
        {
            return Ok(pointer);
        }
        let bytes = self.fetch(&pointer.version).await?;
        let version = pointer.version.clone();
        let decoded = tokio::task::spawn_blocking(move || Bundle::from_bytes(&bytes))
            .await
            .map_err(|e| LoadError::Fetch {
                version: version.clone(),
                reason: e.to_string(),
            })?
            .map_err(|source| LoadError::Refused {
                version: version.clone(),
                source,
            })?;
        served.swap(Arc::new(Loaded::new(pointer.clone(), decoded)));
        Ok(pointer)
    }

    /// Loads the current model if there is one; returns the pointer
    /// revision to watch after.
    pub async fn load_current(&self, served: &Served) -> u64 {
        match self.pointer.entry(CURRENT_MODEL_KEY).await {
            Ok(Some(entry)) if entry.operation == kv::Operation::Put => {
                report(self.load(&entry.value, served).await);
                entry.revision
            }
            Ok(_) => {
                tracing::info!("no recommender model published yet: answering with best sellers");
                0
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the recommender model pointer");
                0
            }
        }
    }

    /// Follows the pointer until `shutdown`, swapping in each new model.
    pub async fn watch(
        &self,
        served: Arc<Served>,
        after: u64,
        shutdown: bazaar_runtime::Shutdown,
    ) -> Result<(), NodeError> {
        let mut watch = self
            .pointer
            .watch_from_revision(CURRENT_MODEL_KEY, after + 1)
            .await
            .map_err(|e| NodeError::JetStream(e.to_string()))?;
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                next = watch.next() => match next {
                    Some(Ok(entry)) if entry.operation == kv::Operation::Put => {
                        report(self.load(&entry.value, &served).await);
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => tracing::warn!(error = %e, "recommender pointer watch"),
                    None => return Err(NodeError::JetStream("the model pointer watch ended".into())),
                },
            }
        }
    }
}

fn report(outcome: Result<ModelPointer, LoadError>) {
    match outcome {
        Ok(p) => tracing::info!(model.version = %p.version, "recommender model serving"),
        Err(e) => {
            tracing::error!(error = %e, "recommender model not loaded; keeping the current one")
        }
    }
}
