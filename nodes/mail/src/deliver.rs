//! Getting a rendered email out: SMTP (lettre) or files in the data dir.

use std::path::PathBuf;

use bazaar_subjects::mail::{Mailbox, MailboxMessage};
use lettre::message::{Mailbox as Address, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::MailConfig;
use crate::render::Rendered;

/// Whether trying again could help.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// The address or message can never be sent (bad address, 5xx reply).
    #[error("permanent: {0}")]
    Permanent(String),
    /// The server is away or busy; retry later.
    #[error("transient: {0}")]
    Transient(String),
}

pub enum Transport {
    Smtp {
        smtp: AsyncSmtpTransport<Tokio1Executor>,
        from: Address,
    },
    Files {
        dir: PathBuf,
        from: Address,
    },
}

impl Transport {
    pub fn from_config(config: &MailConfig, data_dir: &std::path::Path) -> Result<Self, String> {
        let from: Address = config
            .from
            .parse()
            .map_err(|e| format!("BAZAAR_MAIL_FROM `{}` is not an address: {e}", config.from))?;
        match &config.smtp_url {
            Some(url) => {
                let mut parsed = url::Url::parse(url)
                    .map_err(|e| format!("BAZAAR_SMTP_URL is not a URL: {e}"))?;
                let user = parsed.username().to_owned();
                let _ = parsed.set_username("");
                let _ = parsed.set_password(None);
                let mut builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(parsed.as_str())
                    .map_err(|e| format!("BAZAAR_SMTP_URL: {e}"))?;
                if let Some(password) = &config.smtp_password {
                    builder = builder.credentials(Credentials::new(user, password.clone()));
                }
                Ok(Transport::Smtp {
                    smtp: builder.build(),
                    from,
                })
            }
            None => {
                let dir = config
                    .mailbox_dir
                    .clone()
                    .unwrap_or_else(|| data_dir.join("mailbox"));
                std::fs::create_dir_all(&dir)
                    .map_err(|e| format!("cannot create the mailbox dir {}: {e}", dir.display()))?;
                Ok(Transport::Files { dir, from })
            }
        }
    }

    fn from(&self) -> &Address {
        match self {
            Transport::Smtp { from, .. } | Transport::Files { from, .. } => from,
        }
    }

    pub async fn send(&self, id: &str, to: &str, mail: &Rendered) -> Result<(), DeliveryError> {
        let to_addr: Address = to
            .parse()
            .map_err(|e| DeliveryError::Permanent(format!("bad recipient: {e}")))?;
        let message = Message::builder()
            .from(self.from().clone())
            .to(to_addr)
            .subject(&mail.subject)
            .message_id(Some(format!("<{id}@bazaar>")))
            .multipart(MultiPart::alternative_plain_html(
                mail.text.clone(),
                mail.html.clone(),
            ))
            .map_err(|e| DeliveryError::Permanent(e.to_string()))?;
        match self {
            Transport::Smtp { smtp, .. } => smtp.send(message).await.map(|_| ()).map_err(|e| {
                if e.is_permanent() {
                    DeliveryError::Permanent(e.to_string())
                } else {
                    DeliveryError::Transient(e.to_string())
                }
            }),
            Transport::Files { dir, .. } => {
                let stamp = time::OffsetDateTime::now_utc();
                let name = format!("{}-{id}", stamp.unix_timestamp_nanos());
                let entry = MailboxMessage {
                    id: id.to_owned(),
                    to: to.to_owned(),
                    subject: mail.subject.clone(),
                    text: mail.text.clone(),
                    sent_at: stamp
                        .format(&time::format_description::well_known::Rfc3339)
                        .unwrap_or_default(),
                };
                let json = serde_json::to_vec_pretty(&entry)
                    .map_err(|e| DeliveryError::Permanent(e.to_string()))?;
                let write = async {
                    tokio::fs::write(dir.join(format!("{name}.eml")), message.formatted()).await?;
                    // The index entry last: a listed message always has its .eml.
                    tokio::fs::write(dir.join(format!("{name}.json")), json).await
                };
                write
                    .await
                    .map_err(|e| DeliveryError::Transient(e.to_string()))
            }
        }
    }

    /// The newest `limit` messages written to the mailbox dir.
    pub async fn mailbox(&self, limit: usize) -> Mailbox {
        let Transport::Files { dir, .. } = self else {
            return Mailbox {
                messages: Vec::new(),
            };
        };
        let mut names = Vec::new();
        if let Ok(mut entries) = tokio::fs::read_dir(dir).await {
            while let Ok(Some(e)) = entries.next_entry().await {
                let name = e.file_name().to_string_lossy().into_owned();
                if name.ends_with(".json") {
                    names.push(name);
                }
            }
        }
        // Names start with a nanosecond timestamp: newest last, so reverse.
        names.sort_unstable_by(|a, b| b.cmp(a));
        let mut messages = Vec::new();
        for name in names.into_iter().take(limit) {
            if let Ok(bytes) = tokio::fs::read(dir.join(&name)).await
                && let Ok(m) = serde_json::from_slice::<MailboxMessage>(&bytes)
            {
                messages.push(m);
            }
        }
        Mailbox { messages }
    }
}
