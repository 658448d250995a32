//! The mail node: renders and delivers every email Bazaar sends.
//!
//! Other nodes queue a `SendEmail` job on the `MAIL_JOBS` work queue; every
//! copy of this node pulls from one durable consumer, so each job is sent by
//! one copy. A job is acknowledged only after delivery; a transient failure
//! (server away, 4xx) is retried with exponential backoff, a permanent one
//! (bad address, 5xx) is dropped and logged. Bodies and codes never reach the
//! logs.

mod deliver;
mod render;

pub use render::{Rendered, render};

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::AckKind;
use async_nats::jetstream::consumer::{AckPolicy, pull};
use bazaar_runtime::jetstream::ensure_work_queue;
use bazaar_runtime::{Node, NodeContext, NodeError, Shutdown};
use bazaar_subjects::mail::{self, ListMailbox, SendEmail};
use bazaar_subjects::{Domain, Job};
use futures::StreamExt;

use deliver::{DeliveryError, Transport};

/// The durable consumer every copy shares.
const CONSUMER: &str = "mail-sender";
/// Deliveries before a job is given up.
const MAX_DELIVER: i64 = 10;

/// How mail leaves: SMTP when a URL is set, else files in the data dir.
#[derive(Debug, Clone, clap::Args)]
pub struct MailConfig {
    /// SMTP server: smtp://user@host:587?tls=required (STARTTLS),
    /// smtps://user@host:465 (TLS), smtp://127.0.0.1:2525 (plain, local only).
    /// Unset: messages are written under the data dir (one-box mode).
    #[arg(long, env = "BAZAAR_SMTP_URL")]
    pub smtp_url: Option<String>,

    /// SMTP password (kept out of the URL so it never shows in logs or the Nix store).
    #[arg(long, env = "BAZAAR_SMTP_PASSWORD", hide_env_values = true)]
    pub smtp_password: Option<String>,

    /// The From: address.
    #[arg(
        long,
        env = "BAZAAR_MAIL_FROM",
        default_value = "Bazaar <no-reply@localhost>"
    )]
    pub from: String,

    /// Where file-mode messages go; defaults to mailbox/ under the data dir.
    #[arg(long, env = "BAZAAR_MAILBOX_DIR")]
    pub mailbox_dir: Option<PathBuf>,

    /// First retry delay in milliseconds; doubles each time, up to 5 minutes.
    #[arg(long, env = "BAZAAR_MAIL_RETRY_BASE_MS", default_value_t = 2000)]
    pub retry_base_ms: u64,

    /// Serve `mail.mailbox.list` (the file mailbox) — `bazaar dev` only.
    #[arg(skip)]
    pub serve_mailbox: bool,
}

impl MailConfig {
    /// File-mode defaults under `data_dir`.
    pub fn in_data_dir(data_dir: &std::path::Path) -> Self {
        Self {
            smtp_url: None,
            smtp_password: None,
            from: "Bazaar <no-reply@localhost>".into(),
            mailbox_dir: Some(data_dir.join("mailbox")),
            retry_base_ms: 2000,
            serve_mailbox: false,
        }
    }

    fn retry_delay(&self, delivered: i64) -> Duration {
        let exp = (delivered.max(1) - 1).min(16) as u32;
        Duration::from_millis(self.retry_base_ms.saturating_mul(2u64.saturating_pow(exp)))
            .min(Duration::from_secs(300))
    }
}

/// Serves the mail domain until `shutdown`.
pub async fn run(
    ctx: NodeContext,
    config: MailConfig,
    shutdown: Shutdown,
) -> Result<(), NodeError> {
    let transport =
        Arc::new(Transport::from_config(&config, &ctx.data_dir).map_err(NodeError::JetStream)?);
    let stream = ensure_work_queue(&ctx.jetstream, mail::JOBS).await?;
    let consumer = stream
        .get_or_create_consumer(
            CONSUMER,
            pull::Config {
                durable_name: Some(CONSUMER.into()),
                filter_subject: SendEmail::SUBJECT.into(),
                ack_policy: AckPolicy::Explicit,
                ack_wait: Duration::from_secs(60),
                max_deliver: MAX_DELIVER,
                ..Default::default()
            },
        )
        .await
        .map_err(|e| NodeError::JetStream(e.to_string()))?;
    let sender = tokio::spawn(send_loop(
        consumer,
        transport.clone(),
        config.clone(),
        shutdown.clone(),
    ));

    let mut node = Node::new(ctx, Domain::Mail, "renders and delivers email");
    if config.serve_mailbox {
        let t = transport.clone();
        node = node.handle::<ListMailbox, _, _>(move |_req| {
            let t = t.clone();
            async move { Ok(t.mailbox(50).await) }
        });
    }
    let served = node.run(shutdown.clone()).await;
    shutdown.cancel();
    let _ = sender.await;
    served
}

async fn send_loop(
    consumer: async_nats::jetstream::consumer::PullConsumer,
    transport: Arc<Transport>,
    config: MailConfig,
    shutdown: Shutdown,
) {
    let mut messages = match consumer.messages().await {
        Ok(m) => m,
        Err(e) => {
            tracing::error!(error = %e, "cannot read the mail queue");
            return;
        }
    };
    loop {
        let next = tokio::select! {
            () = shutdown.cancelled() => return,
            next = messages.next() => next,
        };
        let msg = match next {
            Some(Ok(m)) => m,
            Some(Err(e)) => {
                tracing::warn!(error = %e, "mail queue hiccup");
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
            None => return,
        };
        let delivered = msg.info().map(|i| i.delivered).unwrap_or(1);
        let job: SendEmail = match serde_json::from_slice(&msg.payload) {
            Ok(j) => j,
            Err(e) => {
                tracing::error!(error = %e, "unreadable mail job dropped");
                let _ = msg.ack_with(AckKind::Term).await;
                continue;
            }
        };
        let domain = job.to.rsplit('@').next().unwrap_or_default().to_owned();
        let span =
            tracing::info_span!("mail", id = %job.id, to_domain = %domain, attempt = delivered);
        let outcome = async {
            let rendered =
                render(&job.email).map_err(|e| DeliveryError::Permanent(e.to_string()))?;
            transport.send(&job.id, &job.to, &rendered).await
        };
        let _enter = span.enter();
        match outcome.await {
            Ok(()) => {
                tracing::info!("mail sent");
                let _ = msg.double_ack().await;
            }
            Err(DeliveryError::Permanent(reason)) => {
                tracing::error!(%reason, "mail cannot be sent; dropped");
                let _ = msg.ack_with(AckKind::Term).await;
            }
            Err(DeliveryError::Transient(reason)) if delivered >= MAX_DELIVER => {
                tracing::error!(%reason, "mail failed {MAX_DELIVER} times; given up");
                let _ = msg.ack_with(AckKind::Term).await;
            }
            Err(DeliveryError::Transient(reason)) => {
                let delay = config.retry_delay(delivered);
                tracing::warn!(%reason, retry_in_ms = delay.as_millis() as u64, "mail not sent yet");
                let _ = msg.ack_with(AckKind::Nak(Some(delay))).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn retries_back_off_exponentially_up_to_five_minutes() {
        let c = super::MailConfig::in_data_dir(std::path::Path::new("/tmp"));
        assert_eq!(c.retry_delay(1).as_millis(), 2000);
        assert_eq!(c.retry_delay(2).as_millis(), 4000);
        assert_eq!(c.retry_delay(4).as_millis(), 16000);
        assert_eq!(c.retry_delay(30).as_secs(), 300);
    }
}
