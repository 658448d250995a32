//! Getting a rendered email out: SMTP (lettre) or files in the data dir.
//!
//! File mode appends each message, as an SMTP server would have received
//! it, to `mailbox.mbox` (mboxrd: a mail client opens it as a folder), then
//! a line about it to `mailbox.jsonl`, the one-box mailbox that
//! `mail.mailbox.list` and `/dev/mailbox` show. Two appends and no new file
//! a message: under a checkout load, creating a file a message took 8 % of
//! the process's CPU (ext4 looking for a free inode).

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
        let index = dir.join(INDEX);
        let tail = tokio::task::spawn_blocking(move || read_tail(&index, INDEX_TAIL))
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default();
        // Lines are appended as messages go out: the newest is the last.
        let messages = tail
            .split(|b| *b == b'\n')
            .rev()
            .filter_map(|line| serde_json::from_slice::<MailboxMessage>(line).ok())
            .take(limit)
            .collect();
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

/// A job id as it may appear in a Message-ID.
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
    let entry = MailboxMessage {
        id: id.to_owned(),
        to: to.to_owned(),
        subject: mail.subject.clone(),
        text: mail.text.clone(),
        sent_at: stamp
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
    };
    let mut line = serde_json::to_vec(&entry)?;
    line.push(b'\n');
    let sender = message
        .envelope()
        .from()
        .map_or_else(|| "MAILER-DAEMON".to_owned(), ToString::to_string);
    let raw = mbox_entry(&sender, stamp, &message.formatted());
    let (mbox, index) = (dir.join(MBOX), dir.join(INDEX));
    // The index line last: a listed message is always in the mbox. Each
    // is one `write` in append mode, so the entries of mail nodes sharing
    // the dir never interleave.
    tokio::task::spawn_blocking(move || {
        append(&mbox, &raw)?;
        append(&index, &line)
    })
    .await
    .map_err(std::io::Error::other)?
}

fn append(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?
        .write_all(bytes)
}

/// Every message sent, one after the other, as mboxrd.
const MBOX: &str = "mailbox.mbox";

/// `raw` as one mboxrd entry: a `From ` line with the envelope sender and
/// the time, the message with every line that starts with `>`s and `From `
/// given one `>` more (so no line of it reads as the next entry's start),
/// and a blank line.
fn mbox_entry(sender: &str, at: time::OffsetDateTime, raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + 128);
    out.extend_from_slice(b"From ");
    out.extend_from_slice(sender.as_bytes());
    out.push(b' ');
    // asctime(3): "Mon Dec  7 09:05:03 2026".
    let asctime = format!(
        "{:.3} {:.3} {:2} {:02}:{:02}:{:02} {}",
        at.weekday().to_string(),
        at.month().to_string(),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        at.year()
    );
    out.extend_from_slice(asctime.as_bytes());
    out.push(b'\n');
    for line in raw.split_inclusive(|b| *b == b'\n') {
        let quoted = line.iter().position(|b| *b != b'>').unwrap_or(line.len());
        if line[quoted..].starts_with(b"From ") {
            out.push(b'>');
        }
        out.extend_from_slice(line);
    }
    if !out.ends_with(b"\n") {
        out.push(b'\n');
    }
    out.push(b'\n');
    out
}

/// The mailbox's index: a JSON line per message, oldest first.
const INDEX: &str = "mailbox.jsonl";

/// How much of the index's end a listing reads: thousands of messages, and
/// a listing never reads more however long the mailbox grows.
const INDEX_TAIL: u64 = 4 << 20;

/// The last `max` bytes of `path`, from the first whole line in them.
fn read_tail(path: &Path, max: u64) -> std::io::Result<Vec<u8>> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    // One byte early, to see whether the cut falls at a line's start.
    let start = len.saturating_sub(max).saturating_sub(1);
    file.seek(SeekFrom::Start(start))?;
    let mut bytes = Vec::with_capacity((len - start) as usize);
    file.read_to_end(&mut bytes)?;
    if start > 0 {
        // Drop what comes before the first line break: a partial line, or
        // just the break ending the line before the cut.
        let first = bytes
            .iter()
            .position(|b| *b == b'\n')
            .map_or(bytes.len(), |i| i + 1);
        bytes.drain(..first);
    }
    Ok(bytes)
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
    async fn file_mode_appends_to_an_mbox_and_lists_newest_first() {
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

        let mbox = std::fs::read_to_string(dir.path().join("mailbox").join(MBOX)).unwrap();
        let entries: Vec<&str> = mbox.split("\n\nFrom ").collect();
        assert_eq!(entries.len(), 3, "{mbox}");
        assert!(
            mbox.starts_with("From shop@bazaar.test "),
            "the envelope sender and the time: {mbox}"
        );
        let raw = entries[2];
        assert!(raw.contains("333333"), "oldest first: {raw}");
        assert!(raw.contains("multipart/alternative"), "{raw}");
        assert!(raw.contains("text/plain") && raw.contains("text/html"));
        assert!(
            raw.contains("@bazaar.test>"),
            "Message-ID on the sender's domain"
        );
        assert!(
            !dir.path()
                .join("mailbox")
                .read_dir()
                .unwrap()
                .flatten()
                .any(|e| e.path().extension().is_some_and(|x| x == "eml")),
            "no file a message"
        );
    }

    #[test]
    fn an_mbox_entry_quotes_lines_that_would_start_another() {
        let at = time::OffsetDateTime::from_unix_timestamp(1_796_634_303).unwrap();
        let entry = mbox_entry(
            "shop@bazaar.test",
            at,
            b"Subject: hi\r\n\r\nFrom here on\r\n>From there\r\nNot From\r\n",
        );
        assert_eq!(
            String::from_utf8(entry).unwrap(),
            "From shop@bazaar.test Mon Dec  7 09:05:03 2026\n\
             Subject: hi\r\n\r\n>From here on\r\n>>From there\r\nNot From\r\n\n"
        );
    }

    #[test]
    fn a_long_index_is_read_from_its_first_whole_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(INDEX);
        let lines = b"{\"a\":1}\n{\"b\":2}\n{\"c\":3}\n";
        std::fs::write(&path, lines).unwrap();
        assert_eq!(read_tail(&path, 1000).unwrap(), lines);
        // 10 bytes from the end fall inside the second line.
        assert_eq!(read_tail(&path, 10).unwrap(), b"{\"c\":3}\n");
        // 16 bytes from the end are exactly the last two lines.
        assert_eq!(read_tail(&path, 16).unwrap(), b"{\"b\":2}\n{\"c\":3}\n");
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
        let mut names: Vec<String> = std::fs::read_dir(dir.path().join("mailbox"))
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, [INDEX, MBOX], "no file of its own, anywhere");
        let mbox = std::fs::read_to_string(dir.path().join("mailbox").join(MBOX)).unwrap();
        assert!(mbox.contains("<escapeBccxy@bazaar.test>"), "{mbox}");
        assert!(!mbox.contains("\nBcc:"), "no header slipped in: {mbox}");
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
