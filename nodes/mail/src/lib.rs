//! The mail node: renders and delivers every email Bazaar sends.
//!
//! Other nodes queue a [`SendEmail`] job with
//! [`bazaar_runtime::jetstream::enqueue_job`] on the `MAIL_JOBS` work queue.
//! Every copy of this node pulls from one durable consumer (`mail-sender`), so
//! each job is sent by one copy. A job is acknowledged only after delivery:
//!
//! * delivered: acknowledged, and the work queue forgets it;
//! * a transient failure (server away, 4xx reply): negatively acknowledged
//!   with a delay that doubles each attempt (`retry_base_ms`, capped at five
//!   minutes), for up to [`MAX_DELIVER`] attempts;
//! * a permanent failure (not an address, 5xx reply): terminated and logged;
//! * a copy that dies mid-delivery: JetStream offers the job again after the
//!   30-second ack wait.
//!
//! The retry schedule is ours, sent with each NAK, not a consumer `backoff`
//! list: with one, nats-server (2.15) stops honouring the NAK's own delay
//! (measured: a job NAKed for 400 ms on its second try was not offered again
//! within 15 s), so tests could not make retries fast.
//!
//! While a delivery is in flight the copy tells JetStream it is still working
//! on it, so a slow SMTP server never makes another copy send it twice.
//! Bodies, codes and full addresses never reach the logs: a job is logged by
//! id, template and recipient domain.

#![cfg_attr(test, allow(clippy::unwrap_used))]

mod deliver;
mod render;

pub use render::{Rendered, render, template_name};

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::PullConsumer;
use async_nats::jetstream::{AckKind, Message};
use bazaar_runtime::jetstream::{SharedConsumer, ensure_work_queue};
use bazaar_runtime::{Node, NodeContext, NodeError, Request, Shutdown};
use bazaar_subjects::mail::{self, ListMailbox, Mailbox, SendEmail};
use bazaar_subjects::{Domain, Empty, ErrorEnvelope, Job};
use futures::StreamExt;
use tokio::task::JoinSet;
use tracing::Instrument;

use deliver::{DeliveryError, Transport};

/// The durable consumer every copy shares.
pub const CONSUMER: &str = "mail-sender";
/// Deliveries of one job before it is given up.
pub const MAX_DELIVER: i64 = 10;
/// How long a job may go unacknowledged before JetStream offers it again.
const ACK_WAIT: Duration = Duration::from_secs(30);
/// While a delivery is in flight, "still working on it" this often.
const PROGRESS_EVERY: Duration = Duration::from_secs(10);
/// Jobs one copy delivers at once (each pulls one job at a time, so no job
/// waits in a copy's buffer while its ack wait runs out).
const WORKERS: usize = 4;
/// How long one pull waits for a job before it is renewed.
const PULL_EXPIRES: Duration = Duration::from_secs(20);
/// How long a stopping copy lets deliveries in flight finish.
const STOP_GRACE: Duration = Duration::from_secs(10);
/// The longest retry delay.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(300);
/// The most messages `mail.mailbox.list` returns.
pub const MAILBOX_LIMIT: usize = 50;

/// How mail leaves: SMTP when a URL is set, else files in the data dir.
#[derive(Clone, clap::Args)]
pub struct MailConfig {
    /// SMTP server: smtp://user@host:587?tls=required (STARTTLS),
    /// smtps://user@host:465 (TLS), smtp://127.0.0.1:2525 (plain, local only).
    /// Unset: messages are written under the data dir (one-box mode).
    #[arg(long, env = "BAZAAR_SMTP_URL")]
    pub smtp_url: Option<String>,

    /// SMTP password for the URL's user (kept out of the URL so it never shows
    /// in logs or the Nix store).
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

    /// Serve `mail.mailbox.list` (the file mailbox, shown at
    /// `/dev/mailbox`): `bazaar dev` turns it on itself; set it on a mail
    /// node only for a local cluster that benchmarks sign up through. It
    /// shows everyone every message (sign-in codes included), so it is never
    /// served when mail goes out by SMTP.
    #[arg(
        long,
        env = "BAZAAR_SERVE_MAILBOX",
        default_value_t = false,
        action = clap::ArgAction::Set,
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub serve_mailbox: bool,
}

/// The password stays out of `{:?}` (and so out of any log line).
impl std::fmt::Debug for MailConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailConfig")
            .field("smtp_url", &self.smtp_url)
            .field(
                "smtp_password",
                &self.smtp_password.as_ref().map(|_| "(hidden)"),
            )
            .field("from", &self.from)
            .field("mailbox_dir", &self.mailbox_dir)
            .field("retry_base_ms", &self.retry_base_ms)
            .field("serve_mailbox", &self.serve_mailbox)
            .finish()
    }
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

    /// The delay before the next try after attempt `delivered` (1-based) failed.
    pub fn retry_delay(&self, delivered: i64) -> Duration {
        let exp = (delivered.max(1) - 1).min(16) as u32;
        Duration::from_millis(self.retry_base_ms.saturating_mul(2u64.saturating_pow(exp)))
            .min(MAX_RETRY_DELAY)
    }
}

/// Serves the mail domain until `shutdown`: delivers queued jobs and, when
/// `serve_mailbox` is on, answers `mail.mailbox.list`.
pub async fn run(
    ctx: NodeContext,
    config: MailConfig,
    shutdown: Shutdown,
) -> Result<(), NodeError> {
    let transport =
        Arc::new(Transport::from_config(&config, &ctx.data_dir).map_err(NodeError::Config)?);
    let consumer = mail_consumer(&ctx.jetstream).await?;
    tracing::info!(
        transport = transport.kind(),
        workers = WORKERS,
        "mail queue open"
    );

    // Ends with `shutdown`, or earlier if the node cannot serve.
    let stop = shutdown.child_token();
    let config = Arc::new(config);
    let mut workers = JoinSet::new();
    for _ in 0..WORKERS {
        workers.spawn(work(
            consumer.clone(),
            transport.clone(),
            config.clone(),
            stop.clone(),
        ));
    }

    let node = Node::new(ctx, Domain::Mail, "renders and delivers email").with_state(transport);
    let node = if config.serve_mailbox && config.smtp_url.is_none() {
        node.serve::<ListMailbox>(list_mailbox)
    } else {
        node
    };
    let served = node.run(shutdown).await;
    stop.cancel();
    let finished = tokio::time::timeout(STOP_GRACE, async {
        while workers.join_next().await.is_some() {}
    })
    .await;
    if finished.is_err() {
        // Dropping the set aborts them; JetStream offers their jobs again.
        tracing::warn!("mail still being delivered after {STOP_GRACE:?}; stopping anyway");
    }
    served
}

/// `mail.mailbox.list`: the newest messages in the file mailbox.
async fn list_mailbox(
    transport: &Arc<Transport>,
    _: Request<Empty>,
) -> Result<Mailbox, ErrorEnvelope> {
    Ok(transport.mailbox(MAILBOX_LIMIT).await)
}

/// The work queue and its shared durable consumer, created by the first copy.
async fn mail_consumer(js: &async_nats::jetstream::Context) -> Result<PullConsumer, NodeError> {
    let stream = ensure_work_queue(js, mail::JOBS).await?;
    bazaar_runtime::metrics::watch_depth(bazaar_runtime::metrics::MAIL_QUEUE_DEPTH, &stream);
    SharedConsumer::new(CONSUMER, SendEmail::SUBJECT)
        .description("every mail node copy delivers from here")
        .ack_wait(ACK_WAIT)
        .max_deliver(MAX_DELIVER)
        .open(&stream)
        .await
}

/// One delivery worker: pulls one job at a time until `stop`.
async fn work(
    consumer: PullConsumer,
    transport: Arc<Transport>,
    config: Arc<MailConfig>,
    stop: Shutdown,
) {
    loop {
        let pulled = tokio::select! {
            () = stop.cancelled() => return,
            pulled = next_job(&consumer) => pulled,
        };
        match pulled {
            Ok(Some(msg)) => handle(msg, &transport, &config).await,
            // The pull expired with nothing to do.
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(error = %e, "cannot pull from the mail queue; trying again");
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(Duration::from_secs(2)) => {}
                }
            }
        }
    }
}

/// Waits up to [`PULL_EXPIRES`] for one job.
async fn next_job(consumer: &PullConsumer) -> Result<Option<Message>, async_nats::Error> {
    let mut batch = consumer
        .batch()
        .max_messages(1)
        .expires(PULL_EXPIRES)
        .messages()
        .await?;
    batch.next().await.transpose()
}

/// Delivers one job and settles it with JetStream.
async fn handle(msg: Message, transport: &Transport, config: &MailConfig) {
    let attempt = msg.info().map(|i| i.delivered).unwrap_or(1);
    let job: SendEmail = match serde_json::from_slice(&msg.payload) {
        Ok(job) => job,
        Err(e) => {
            tracing::error!(error = %e, "unreadable mail job; dropped");
            settle(&msg, AckKind::Term).await;
            return;
        }
    };
    let span = tracing::info_span!(
        "mail",
        id = %job.id,
        template = template_name(&job.email),
        to_domain = %recipient_domain(&job.to),
        attempt,
    );
    async {
        let delivery = async {
            let rendered =
                render(&job.email).map_err(|e| DeliveryError::Permanent(e.to_string()))?;
            transport.send(&job.id, &job.to, &rendered).await
        };
        match while_in_progress(&msg, delivery).await {
            Ok(()) => {
                if let Err(e) = msg.double_ack().await {
                    tracing::warn!(error = %e, "mail sent but its ack was lost; it may be sent again");
                } else {
                    tracing::info!("mail sent");
                }
            }
            Err(DeliveryError::Permanent(reason)) => {
                tracing::error!(%reason, "mail cannot be delivered; dropped");
                settle(&msg, AckKind::Term).await;
            }
            Err(DeliveryError::Transient(reason)) if attempt >= MAX_DELIVER => {
                tracing::error!(%reason, "mail not delivered after {MAX_DELIVER} attempts; given up");
                settle(&msg, AckKind::Term).await;
            }
            Err(DeliveryError::Transient(reason)) => {
                let delay = config.retry_delay(attempt);
                tracing::warn!(%reason, retry_in_ms = delay.as_millis() as u64, "mail not delivered yet");
                settle(&msg, AckKind::Nak(Some(delay))).await;
            }
        }
    }
    .instrument(span)
    .await
}

/// Runs `work`, telling JetStream every [`PROGRESS_EVERY`] that the job is
/// still being worked on, so its ack wait does not run out meanwhile.
async fn while_in_progress<F: Future>(msg: &Message, work: F) -> F::Output {
    let mut work = std::pin::pin!(work);
    let start = tokio::time::Instant::now() + PROGRESS_EVERY;
    let mut ticks = tokio::time::interval_at(start, PROGRESS_EVERY);
    loop {
        tokio::select! {
            out = &mut work => return out,
            _ = ticks.tick() => settle(msg, AckKind::Progress).await,
        }
    }
}

async fn settle(msg: &Message, kind: AckKind) {
    if let Err(e) = msg.ack_with(kind).await {
        tracing::warn!(error = %e, ?kind, "cannot tell JetStream how the job went");
    }
}

/// The part of an address after `@`, lowercased: all a log line may carry.
fn recipient_domain(to: &str) -> String {
    to.rsplit_once('@')
        .map(|(_, domain)| domain.trim().to_ascii_lowercase())
        .unwrap_or_else(|| "-".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serving_the_mailbox_is_off_unless_asked_and_reads_as_a_shell_says_yes() {
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            mail: MailConfig,
        }
        use clap::Parser;
        let serves = |args: &[&str]| {
            let all = std::iter::once("bazaar").chain(args.iter().copied());
            Cli::try_parse_from(all).map(|c| c.mail.serve_mailbox)
        };
        assert!(!serves(&[]).unwrap());
        for yes in ["1", "true", "yes"] {
            assert!(serves(&["--serve-mailbox", yes]).unwrap(), "{yes}");
        }
        assert!(!serves(&["--serve-mailbox", "0"]).unwrap());
    }

    #[test]
    fn retries_back_off_exponentially_up_to_five_minutes() {
        let c = MailConfig::in_data_dir(std::path::Path::new("/tmp"));
        assert_eq!(c.retry_delay(1).as_millis(), 2000);
        assert_eq!(c.retry_delay(2).as_millis(), 4000);
        assert_eq!(c.retry_delay(4).as_millis(), 16000);
        assert_eq!(c.retry_delay(30).as_secs(), 300);
        assert_eq!(
            c.retry_delay(0).as_millis(),
            2000,
            "a missing count is the first try"
        );
    }

    #[test]
    fn a_delivery_in_flight_reports_progress_well_within_the_ack_wait() {
        assert!(PROGRESS_EVERY * 2 < ACK_WAIT);
    }

    #[test]
    fn logs_see_only_the_recipient_domain() {
        assert_eq!(recipient_domain("Ann.Lee@Example.COM"), "example.com");
        assert_eq!(recipient_domain("not an address"), "-");
    }

    #[test]
    fn the_smtp_password_never_shows_in_debug_output() {
        let mut c = MailConfig::in_data_dir(std::path::Path::new("/tmp"));
        c.smtp_url = Some("smtp://mailer@smtp.example.com:587?tls=required".into());
        c.smtp_password = Some("hunter2-very-secret".into());
        let shown = format!("{c:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("(hidden)"));
    }
}
