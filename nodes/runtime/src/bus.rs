//! Reaching the NATS bus as one identity.
//!
//! A deployment's credentials are one nkey seed per [`Principal`], written
//! by `bazaar nats-setup` as `<name>.nk` in one directory; the server knows
//! only their public keys and the permissions the contract gives each. A
//! process reads the seeds of the identities it runs (a node process one, the
//! one-process platform all of them). Without a credentials directory the
//! connection carries none, for a server that asks for none.

use std::path::PathBuf;
use std::time::Duration;

use bazaar_subjects::bus::Principal;

use crate::NodeError;

/// Where the bus is and how to prove who we are.
#[derive(Debug, Clone, Default)]
pub struct BusAccess {
    /// NATS server URL(s), comma separated.
    pub url: String,
    /// The directory holding `<identity>.nk` seed files.
    pub credentials_dir: Option<PathBuf>,
    /// The CA that signed the servers' TLS certificates (TLS is required then).
    pub ca_file: Option<PathBuf>,
}

impl BusAccess {
    pub fn open(url: &str) -> Self {
        Self {
            url: url.to_owned(),
            ..Self::default()
        }
    }

    /// Every server address in [`url`](Self::url): async-nats reads one
    /// string as one address, so a cluster's list is split here, and the
    /// client then moves to another member when its server goes.
    pub fn servers(&self) -> Vec<&str> {
        self.url
            .split(',')
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .collect()
    }

    /// The seed file of one identity, when credentials are configured.
    pub fn seed_file(&self, principal: Principal) -> Option<PathBuf> {
        self.credentials_dir
            .as_ref()
            .map(|dir| dir.join(format!("{}.nk", principal.name())))
    }

    /// Connects as `principal`, with reconnects on and a name (`name`) that
    /// shows in `nats server report`.
    pub async fn connect(
        &self,
        principal: Principal,
        name: &str,
    ) -> Result<async_nats::Client, NodeError> {
        let mut options = async_nats::ConnectOptions::new()
            .name(name)
            .custom_inbox_prefix(principal.inbox_prefix())
            .max_reconnects(None)
            .connection_timeout(Duration::from_secs(5))
            .event_callback(|event| async move {
                match event {
                    async_nats::Event::Disconnected => {
                        tracing::warn!("NATS disconnected, reconnecting")
                    }
                    async_nats::Event::Connected => tracing::info!("NATS connected"),
                    // A permission the contract does not grant: a bug in the
                    // grants or an attempt at something not ours to do.
                    async_nats::Event::ServerError(e) => {
                        tracing::error!(error = %e, "NATS server error")
                    }
                    other => tracing::debug!(event = %other, "NATS event"),
                }
            });
        if let Some(path) = self.seed_file(principal) {
            let seed = std::fs::read_to_string(&path).map_err(|e| {
                NodeError::Config(format!(
                    "cannot read the NATS credentials of `{principal}` at {}: {e} \
                     (`bazaar nats-setup --out DIR` writes them)",
                    path.display()
                ))
            })?;
            options = options.nkey(seed.trim().to_owned());
        }
        if let Some(ca) = &self.ca_file {
            options = options.add_root_certificates(ca.clone()).require_tls(true);
        }
        options
            .connect(self.servers())
            .await
            .map_err(|source| NodeError::Connect {
                url: self.url.clone(),
                source,
            })
    }
}
