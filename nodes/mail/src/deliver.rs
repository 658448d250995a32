//! Getting a rendered email out: SMTP (lettre) or files in the data dir.
//!
//! File mode writes each message as `<time>-<id>.eml` (what an SMTP server
//! would have received) plus a `<time>-<id>.json` index entry, the one-box
//! mailbox that `mail.mailbox.list` and `/dev/mailbox` show.

use std::path::{Path, PathBuf};

use bazaar_subjects::mail::{Mailbox, MailboxMessage};
use lettre::message::{Mailbox as Address, MultiPart};
use lettre::transport::smtp;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::MailConfig;
use crate::render::Rendered;

/// Whether trying again could help. The reasons are safe to log: they never
/// carry an address, a body or the server's own words.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// The address or message can never be sent (bad address, 5xx reply).
    #[error("permanent: {0}")]
    Permanent(String),
    /// The server is away, busy or refused our credentials; retry later.
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
    /// SMTP when `smtp_url` is set, else files under the mailbox dir. The
    /// errors name the setting at fault and never echo a password.
    pub fn from_config(config: &MailConfig, data_dir: &Path) -> Result<Self, String> {
        let from: Address = config
            .from
            .parse()
            .map_err(|e| format!("BAZAAR_MAIL_FROM `{}` is not an address: {e}", config.from))?;
        match &config.smtp_url {
            Some(url) => Ok(Transport::Smtp {
                smtp: smtp_transport(url, config.smtp_password.as_deref())?,
                from,
            }),
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

    /// `smtp` or `files`, for the start-up log line.
    pub fn kind(&self) -> &'static str {
        match self {
            Transport::Smtp { .. } => "smtp",
            Transport::Files { .. } => "files",
        }
    }

    fn from(&self) -> &Address {
        match self {
            Transport::Smtp { from, .. } | Transport::Files { from, .. } => from,
        }
    }

    /// The message as it goes on the wire: multipart/alternative, plain text
    /// first, HTML second (clients show the last part they understand).
    fn message(&self, id: &str, to: &str, mail: &Rendered) -> Result<Message, DeliveryError> {
        let to: Address = to.parse().map_err(|_| {
            DeliveryError::Permanent("the recipient is not an email address".into())
        })?;
        let from = self.from().clone();
        let message_id = format!("<{}@{}>", safe_id(id), from.email.domain());
        Message::builder()
            .from(from)
            .to(to)
            .subject(&mail.subject)
            .message_id(Some(message_id))
            .multipart(MultiPart::alternative_plain_html(
                mail.text.clone(),
                mail.html.clone(),
            ))
            .map_err(|e| DeliveryError::Permanent(format!("cannot build the message: {e}")))
    }

    pub async fn send(&self, id: &str, to: &str, mail: &Rendered) -> Result<(), DeliveryError> {
        let message = self.message(id, to, mail)?;
        match self {
            Transport::Smtp { smtp, .. } => {
                smtp.send(message).await.map(drop).map_err(|e| classify(&e))
            }
            Transport::Files { dir, .. } => write_files(dir, id, to, mail, &message)
                .await
                .map_err(|e| DeliveryError::Transient(format!("cannot write the mailbox: {e}"))),
        }
    }

    /// The newest `limit` messages written to the mailbox dir, newest first.
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
        // Names start with a zero-padded nanosecond timestamp.
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

/// lettre's transport from `url`, with `password` for the URL's user.
fn smtp_transport(
    url: &str,
    password: Option<&str>,
) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
    let mut url = url::Url::parse(url).map_err(|e| format!("BAZAAR_SMTP_URL is not a URL: {e}"))?;
    if let Some(password) = password {
        if url.username().is_empty() {
            return Err(
                "BAZAAR_SMTP_PASSWORD is set but BAZAAR_SMTP_URL names no user (smtp://USER@host:587?tls=required)"
                    .into(),
            );
        }
        // Percent-encoded here, decoded by lettre, which then authenticates.
        url.set_password(Some(password))
            .map_err(|()| "BAZAAR_SMTP_URL cannot carry credentials".to_owned())?;
    }
    let builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(url.as_str())
        .map_err(|e| format!("BAZAAR_SMTP_URL: {e}"))?;
    Ok(builder.build())
}

/// Sorts a failed SMTP send into retry-or-not, keeping the server's reply
/// text (which may quote the recipient) out of the reason.
fn classify(e: &smtp::Error) -> DeliveryError {
    match e.status() {
        Some(code) => classify_reply(&code.to_string(), e.is_permanent()),
        None if e.is_timeout() => DeliveryError::Transient("the SMTP server timed out".into()),
        None if e.is_response() => {
            DeliveryError::Transient("the SMTP server sent a reply we cannot read".into())
        }
        None => DeliveryError::Transient(format!("cannot talk to the SMTP server: {e}")),
    }
}

/// An SMTP reply code: 4xx retry, 5xx give up, except for authentication
/// replies, which are about our settings rather than this email, so the job
/// waits (and retries) for them to be fixed.
fn classify_reply(code: &str, permanent: bool) -> DeliveryError {
    const AUTHENTICATION: [&str; 4] = ["530", "534", "535", "538"];
    if AUTHENTICATION.contains(&code) {
        DeliveryError::Transient(format!(
            "the SMTP server refused our credentials ({code}): check BAZAAR_SMTP_URL and BAZAAR_SMTP_PASSWORD"
        ))
    } else if permanent {
        DeliveryError::Permanent(format!("the SMTP server refused the message ({code})"))
    } else {
        DeliveryError::Transient(format!("the SMTP server asked us to retry ({code})"))
    }
}

/// A job id as it may appear in a file name or a Message-ID.
fn safe_id(id: &str) -> String {
    let safe: String = id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .take(100)
        .collect();
    let safe = safe.trim_start_matches('.');
    if safe.is_empty() {
        "mail".into()
    } else {
        safe.to_owned()
    }
}

async fn write_files(
    dir: &Path,
    id: &str,
    to: &str,
    mail: &Rendered,
    message: &Message,
) -> std::io::Result<()> {
    let stamp = time::OffsetDateTime::now_utc();
    let name = format!("{:020}-{}", stamp.unix_timestamp_nanos(), safe_id(id));
    let entry = MailboxMessage {
        id: id.to_owned(),
        to: to.to_owned(),
        subject: mail.subject.clone(),
        text: mail.text.clone(),
        sent_at: stamp
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
    };
    let json = serde_json::to_vec_pretty(&entry)?;
    tokio::fs::write(dir.join(format!("{name}.eml")), message.formatted()).await?;
    // The index entry last: a listed message always has its .eml.
    tokio::fs::write(dir.join(format!("{name}.json")), json).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use bazaar_subjects::mail::{CodePurpose, Email};

    fn files(dir: &Path) -> Transport {
        let mut config = MailConfig::in_data_dir(dir);
        config.from = "Shop <shop@bazaar.test>".into();
        Transport::from_config(&config, dir).unwrap()
    }

    fn code_mail(name: &str, code: &str) -> Rendered {
        crate::render(&Email::OneTimeCode {
            name: name.into(),
            code: code.into(),
            purpose: CodePurpose::SignUp,
            valid_minutes: 10,
        })
        .unwrap()
    }

    #[tokio::test]
    async fn file_mode_writes_an_eml_and_lists_newest_first() {
        let dir = tempfile::tempdir().unwrap();
        let t = files(dir.path());
        for (i, code) in ["111111", "222222", "333333"].iter().enumerate() {
            t.send(
                &format!("job-{i}"),
                "ann@example.com",
                &code_mail("Ann", code),
            )
            .await
            .unwrap();
        }
        let listed = t.mailbox(2).await.messages;
        assert_eq!(listed.len(), 2, "capped");
        assert_eq!(listed[0].id, "job-2");
        assert_eq!(listed[1].id, "job-1");
        assert!(listed[0].text.contains("333333"));
        assert_eq!(listed[0].subject, "Your Bazaar sign-up code");

        let mailbox = dir.path().join("mailbox");
        let eml: Vec<_> = std::fs::read_dir(&mailbox)
            .unwrap()
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
            .collect();
        assert_eq!(eml.len(), 3);
        let raw = std::fs::read_to_string(eml[0].path()).unwrap();
        assert!(raw.contains("multipart/alternative"), "{raw}");
        assert!(raw.contains("text/plain") && raw.contains("text/html"));
        assert!(
            raw.contains("@bazaar.test>"),
            "Message-ID on the sender's domain"
        );
    }

    #[tokio::test]
    async fn hostile_ids_stay_inside_the_mailbox_dir() {
        let dir = tempfile::tempdir().unwrap();
        let t = files(dir.path());
        t.send(
            "../../escape\r\nBcc: x@y",
            "ann@example.com",
            &code_mail("Ann", "1"),
        )
        .await
        .unwrap();
        let names: Vec<String> = std::fs::read_dir(dir.path().join("mailbox"))
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
        assert!(names.iter().all(|n| n.contains("escapeBccxy")), "{names:?}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[tokio::test]
    async fn a_malformed_recipient_is_permanent() {
        let dir = tempfile::tempdir().unwrap();
        let err = files(dir.path())
            .send("j", "not an address", &code_mail("Ann", "1"))
            .await
            .unwrap_err();
        assert!(matches!(err, DeliveryError::Permanent(_)), "{err}");
    }

    #[test]
    fn smtp_replies_sort_into_retry_or_give_up() {
        assert!(matches!(
            classify_reply("550", true),
            DeliveryError::Permanent(_)
        ));
        assert!(matches!(
            classify_reply("451", false),
            DeliveryError::Transient(_)
        ));
        // Bad credentials are our settings, not this email: keep retrying.
        assert!(matches!(
            classify_reply("535", true),
            DeliveryError::Transient(_)
        ));
    }

    #[tokio::test]
    async fn smtp_urls_and_credentials_are_checked_without_echoing_the_password() {
        // STARTTLS, TLS and an encoded user; the password may hold URL syntax.
        for url in [
            "smtp://mailer@smtp.example.com:587?tls=required",
            "smtps://mailer%40example.com@smtp.example.com",
        ] {
            assert!(smtp_transport(url, Some("p@ss:w/rd?#")).is_ok(), "{url}");
        }
        assert!(smtp_transport("smtp://127.0.0.1:2525", None).is_ok());
        let err = smtp_transport("smtp://smtp.example.com", Some("hunter2"))
            .err()
            .unwrap();
        assert!(err.contains("names no user") && !err.contains("hunter2"));
        let err = smtp_transport("gopher://x", Some("hunter2")).err().unwrap();
        assert!(!err.contains("hunter2"), "{err}");
        assert!(smtp_transport("not a url", None).is_err());
    }

    #[test]
    fn a_bad_from_address_is_refused_at_start() {
        let mut config = MailConfig::in_data_dir(Path::new("/tmp"));
        config.from = "nobody".into();
        let err = Transport::from_config(&config, Path::new("/tmp"))
            .err()
            .unwrap();
        assert!(err.contains("BAZAAR_MAIL_FROM"));
    }
}
