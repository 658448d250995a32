//! The mail node (being written).

use std::path::PathBuf;

use bazaar_runtime::{NodeContext, NodeError, Shutdown};

/// How mail leaves: SMTP when a URL is set, else files in the data dir.
#[derive(Debug, Clone, clap::Args)]
pub struct MailConfig {
    /// SMTP server, e.g. smtp://user@mail.example.com:587 (STARTTLS),
    /// smtps://…:465 (TLS) or smtp://127.0.0.1:2525?tls=none (tests).
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
            serve_mailbox: false,
        }
    }
}

/// Serves the mail domain until `shutdown`.
pub async fn run(
    ctx: NodeContext,
    config: MailConfig,
    shutdown: Shutdown,
) -> Result<(), NodeError> {
    let _ = (ctx, config);
    shutdown.cancelled().await;
    Ok(())
}
