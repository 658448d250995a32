//! A real Prometheus server for the metrics stories: Debian's `prometheus`
//! (found on `PATH` or at `/usr/bin/prometheus`; `scripts/setup` installs
//! it) on a free loopback port, with a temp storage dir, scraping the given
//! targets every second. It is killed when dropped.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

/// How long a story waits for Prometheus to show what it scraped: a scrape
/// a second, with plenty of slack for a loaded machine.
pub const SCRAPED_WITHIN: Duration = Duration::from_secs(90);

pub struct Prometheus {
    child: tokio::process::Child,
    pub base_url: String,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

fn binary() -> PathBuf {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join("prometheus"))
        .chain([PathBuf::from("/usr/bin/prometheus")])
        .find(|p| p.is_file())
        .expect("prometheus is not installed: run scripts/setup (Debian's `prometheus` package)")
}

impl Prometheus {
    /// Starts Prometheus scraping `targets` (`host:port`, `/metrics`) every
    /// second and waits until it says it is ready.
    pub async fn start(targets: &[String]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = dir.path().join("prometheus.yml");
        let targets: Vec<String> = targets.iter().map(|t| format!("'{t}'")).collect();
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
                 scrape_configs:\n  - job_name: bazaar\n    static_configs:\n      - targets: [{}]\n",
                targets.join(", ")
            ),
        )
        .expect("prometheus.yml");
        let port = bazaar::natsd::free_port().expect("a free port");
        let child = tokio::process::Command::new(binary())
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("prometheus starts");
        let prometheus = Self {
            child,
            base_url: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .expect("http client"),
            _dir: dir,
        };
        let started = std::time::Instant::now();
        loop {
            if let Ok(r) = prometheus
                .http
                .get(format!("{}/-/ready", prometheus.base_url))
                .send()
                .await
                && r.status().is_success()
            {
                return prometheus;
            }
            assert!(
                started.elapsed() < SCRAPED_WITHIN,
                "prometheus never became ready"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The instant vector `expr` evaluates to now, through the HTTP API
    /// (`/api/v1/query`): each series' labels and value.
    pub async fn query(&self, expr: &str) -> Vec<(Value, f64)> {
        let body: Value = self
            .http
            .get(format!("{}/api/v1/query", self.base_url))
            .query(&[("query", expr)])
            .send()
            .await
            .expect("query sent")
            .json()
            .await
            .expect("Prometheus answers JSON");
        assert_eq!(body["status"], "success", "{expr}: {body}");
        body["data"]["result"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .map(|series| {
                let value = series["value"][1]
                    .as_str()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(f64::NAN);
                (series["metric"].clone(), value)
            })
            .collect()
    }

    /// Queries `expr` until its first series' value satisfies `done` (within
    /// [`SCRAPED_WITHIN`]) and returns that value.
    pub async fn eventually(&self, expr: &str, done: impl Fn(f64) -> bool) -> f64 {
        let started = std::time::Instant::now();
        loop {
            let found = self.query(expr).await;
            if let Some((_, v)) = found.first()
                && done(*v)
            {
                return *v;
            }
            assert!(
                started.elapsed() < SCRAPED_WITHIN,
                "{expr}: not so after {SCRAPED_WITHIN:?}; last: {found:?}"
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Stops the server.
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}
