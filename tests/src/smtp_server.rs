//! A real SMTP server for mail tests: Debian's aiosmtpd on a free loopback
//! port, with a small handler that decodes every message it accepts with
//! Python's own MIME parser (so tests see the parts as a mail client would,
//! independent of how lettre encoded them). Killed when dropped.
//!
//! Like a real server it can refuse: recipients whose local part starts with
//! `reject` get `550 5.1.1` (a permanent failure), and those starting with
//! `greylist` get `451 4.7.1` the first time (a transient one), then succeed.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

/// The handler: `python3 -c HANDLER PORT DIR`.
const HANDLER: &str = r#"
import json, os, sys, threading, uuid
from email import message_from_bytes, policy
from aiosmtpd.controller import Controller

port, out = int(sys.argv[1]), sys.argv[2]

class Handler:
    def __init__(self):
        self.greylisted = set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split('@')[0].lower()
        if local.startswith('reject'):
            return '550 5.1.1 <%s>: no such user here' % address
        if local.startswith('greylist') and address not in self.greylisted:
            self.greylisted.add(address)
            return '451 4.7.1 <%s>: greylisted, try again later' % address
        envelope.rcpt_tos.append(address)
        return '250 OK'

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        msg = message_from_bytes(raw, policy=policy.default)
        def body(kind):
            part = msg.get_body(preferencelist=(kind,))
            return part.get_content() if part is not None else ''
        record = {
            'rcpt_to': envelope.rcpt_tos,
            'mail_from': envelope.mail_from,
            'from': str(msg['From'] or ''),
            'to': str(msg['To'] or ''),
            'subject': str(msg['Subject'] or ''),
            'message_id': str(msg['Message-ID'] or ''),
            'content_type': msg.get_content_type(),
            'text': body('plain'),
            'html': body('html'),
        }
        name = uuid.uuid4().hex
        with open(os.path.join(out, name + '.eml'), 'wb') as f:
            f.write(raw)
        tmp = os.path.join(out, name + '.tmp')
        with open(tmp, 'w') as f:
            json.dump(record, f)
        os.rename(tmp, os.path.join(out, name + '.json'))
        return '250 Message accepted for delivery'

controller = Controller(Handler(), hostname='127.0.0.1', port=port)
controller.start()
threading.Event().wait()
"#;

/// A running aiosmtpd; it stops when dropped.
pub struct SmtpServer {
    pub port: u16,
    dir: tempfile::TempDir,
    _child: tokio::process::Child,
}

/// One accepted message, decoded by Python's `email` package.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct ReceivedEmail {
    /// The envelope recipients (RCPT TO).
    pub rcpt_to: Vec<String>,
    /// The envelope sender (MAIL FROM).
    pub mail_from: String,
    pub from: String,
    pub to: String,
    pub subject: String,
    pub message_id: String,
    /// The top-level content type, e.g. `multipart/alternative`.
    pub content_type: String,
    /// The decoded `text/plain` part ("" if none).
    pub text: String,
    /// The decoded `text/html` part ("" if none).
    pub html: String,
}

impl ReceivedEmail {
    /// The one-time code in the plain-text part.
    pub fn code(&self) -> Option<String> {
        crate::six_digit_code(&self.text)
    }

    fn is_for(&self, to: &str) -> bool {
        self.rcpt_to.iter().any(|r| r.eq_ignore_ascii_case(to))
    }
}

/// The first python3 that has aiosmtpd (a pyenv `python3` on PATH may not;
/// Debian's `/usr/bin/python3` with `python3-aiosmtpd` does).
fn python_with_aiosmtpd() -> &'static str {
    ["python3", "/usr/bin/python3"]
        .into_iter()
        .find(|py| {
            std::process::Command::new(py)
                .args(["-c", "import aiosmtpd.controller"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
        .expect("no python3 with aiosmtpd: scripts/setup installs Debian's python3-aiosmtpd")
}

impl SmtpServer {
    /// Starts on a free port.
    pub async fn start() -> Self {
        Self::start_on(bazaar::natsd::free_port().expect("a free port")).await
    }

    /// Starts on `port` (e.g. one a mail node was already told about) and
    /// waits until it accepts connections.
    pub async fn start_on(port: u16) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut child = tokio::process::Command::new(python_with_aiosmtpd())
            .args(["-c", HANDLER, &port.to_string()])
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(if std::env::var_os("BAZAAR_TEST_LOG").is_some() {
                Stdio::inherit()
            } else {
                Stdio::null()
            })
            .kill_on_drop(true)
            .spawn()
            .expect("aiosmtpd starts");
        for _ in 0..200 {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("aiosmtpd exited ({status}) before listening on {port}");
            }
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return Self {
                    port,
                    dir,
                    _child: child,
                };
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("aiosmtpd did not start on {port}");
    }

    /// A mail config that sends through this server.
    pub fn mail_config(&self) -> bazaar_mail::MailConfig {
        smtp_config(self.port)
    }

    /// Where the raw `.eml` files and their decoded `.json` records land.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Every message accepted so far.
    pub fn messages(&self) -> Vec<ReceivedEmail> {
        read_records(self.dir.path())
    }

    /// The messages accepted so far for recipient `to`.
    pub fn received_by(&self, to: &str) -> Vec<ReceivedEmail> {
        self.messages()
            .into_iter()
            .filter(|m| m.is_for(to))
            .collect()
    }

    /// The first message to `to`, waiting up to 20 s for it.
    pub async fn wait_for(&self, to: &str) -> ReceivedEmail {
        self.wait_for_count(to, 1, Duration::from_secs(20))
            .await
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("no email to {to} arrived"))
    }

    /// The messages to `to` once there are at least `n`, or whatever
    /// arrived when `timeout` is up.
    pub async fn wait_for_count(
        &self,
        to: &str,
        n: usize,
        timeout: Duration,
    ) -> Vec<ReceivedEmail> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let found = self.received_by(to);
            if found.len() >= n || tokio::time::Instant::now() >= deadline {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn read_records(dir: &Path) -> Vec<ReceivedEmail> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .collect()
        })
        .unwrap_or_default();
    paths.sort();
    paths
        .iter()
        .filter_map(|p| std::fs::read(p).ok())
        .map(|bytes| serde_json::from_slice(&bytes).expect("the handler writes valid records"))
        .collect()
}

/// A plain-SMTP mail config for a local server on `port`, retrying fast.
pub fn smtp_config(port: u16) -> bazaar_mail::MailConfig {
    bazaar_mail::MailConfig {
        smtp_url: Some(format!("smtp://127.0.0.1:{port}")),
        smtp_password: None,
        from: "Bazaar Test <shop@bazaar.test>".into(),
        mailbox_dir: None,
        retry_base_ms: 200,
        serve_mailbox: false,
    }
}
