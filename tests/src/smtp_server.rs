//! A real SMTP server for mail tests: Debian's aiosmtpd, saving every message
//! into a Maildir. Killed when dropped.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

pub struct SmtpServer {
    pub port: u16,
    dir: PathBuf,
    _child: tokio::process::Child,
}

/// One delivered message, as raw as it arrived.
#[derive(Debug, Clone)]
pub struct Delivered {
    pub raw: String,
}

impl Delivered {
    pub fn header(&self, name: &str) -> Option<String> {
        let prefix = format!("{}:", name.to_ascii_lowercase());
        self.raw
            .lines()
            .take_while(|l| !l.is_empty())
            .find(|l| l.to_ascii_lowercase().starts_with(&prefix))
            .map(|l| l[prefix.len()..].trim().to_owned())
    }

    /// The body of the MIME part with this content type (e.g. `text/plain`).
    pub fn part(&self, content_type: &str) -> Option<String> {
        let lower = self.raw.to_ascii_lowercase();
        let start = lower.find(&format!("content-type: {content_type}"))?;
        let body_start = self.raw[start..]
            .find("\r\n\r\n")
            .or_else(|| self.raw[start..].find("\n\n"))?
            + start;
        let rest = &self.raw[body_start..];
        let end = rest.find("\n--").unwrap_or(rest.len());
        Some(
            rest[..end]
                .replace("=\r\n", "")
                .replace("=\n", "")
                .trim()
                .to_owned(),
        )
    }
}

fn python_with_aiosmtpd() -> String {
    ["python3", "/usr/bin/python3"]
        .into_iter()
        .find(|py| {
            std::process::Command::new(py)
                .args(["-c", "import aiosmtpd"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
        .expect("no python3 with aiosmtpd: scripts/setup installs Debian's python3-aiosmtpd")
        .to_owned()
}

impl SmtpServer {
    pub async fn start(dir: &Path) -> Self {
        Self::start_on(dir, bazaar::natsd::free_port().expect("port")).await
    }

    /// Starts on `port` and waits until it accepts connections.
    pub async fn start_on(dir: &Path, port: u16) -> Self {
        for sub in ["tmp", "new", "cur"] {
            std::fs::create_dir_all(dir.join(sub)).expect("maildir");
        }
        let child = tokio::process::Command::new(python_with_aiosmtpd())
            .args([
                "-m",
                "aiosmtpd",
                "-n",
                "-l",
                &format!("127.0.0.1:{port}"),
                "-c",
                "aiosmtpd.handlers.Mailbox",
            ])
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("aiosmtpd starts");
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return Self {
                    port,
                    dir: dir.to_path_buf(),
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

    /// Every message delivered so far.
    pub fn messages(&self) -> Vec<Delivered> {
        let mut out = Vec::new();
        for sub in ["new", "cur"] {
            if let Ok(entries) = std::fs::read_dir(self.dir.join(sub)) {
                for e in entries.flatten() {
                    if let Ok(raw) = std::fs::read_to_string(e.path()) {
                        out.push(Delivered { raw });
                    }
                }
            }
        }
        out
    }

    /// Messages to `to`, waiting up to `timeout` for at least one.
    pub async fn wait_for(&self, to: &str, timeout: Duration) -> Vec<Delivered> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let found: Vec<_> = self
                .messages()
                .into_iter()
                .filter(|m| m.header("To").is_some_and(|t| t.contains(to)))
                .collect();
            if !found.is_empty() || tokio::time::Instant::now() > deadline {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
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
