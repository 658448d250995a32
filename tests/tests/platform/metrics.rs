//! An operator points a real Prometheus at Bazaar and sees what shoppers
//! did: requests by route and status, the NATS requests behind them, the
//! queues, the process' memory.

use std::time::Duration;

use bazaar_tests::prometheus::Prometheus;

#[cfg(unix)]
#[tokio::test]
async fn prometheus_scrapes_bazaar_dev_and_counts_what_shoppers_asked_for() {
    bazaar_tests::install_crypto();
    let dir = tempfile::tempdir().unwrap();
    let port = bazaar::natsd::free_port().unwrap();
    let dead_nats = bazaar::natsd::free_port().unwrap();
    let mut bazaar = tokio::process::Command::new(bazaar_tests::bazaar_binary())
        .args([
            "dev",
            "--no-seed",
            "--port",
            &port.to_string(),
            "--data-dir",
        ])
        .arg(dir.path())
        .env("BAZAAR_NATS_URL", format!("nats://127.0.0.1:{dead_nats}"))
        .env_remove("BAZAAR_METRICS_ADDR")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    bazaar_tests::ready_at(&http, &base).await;

    // `bazaar dev` serves its metrics on the edge, in Prometheus' text format.
    let text = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        "# TYPE bazaar_http_request_duration_seconds histogram",
        "# TYPE bazaar_log_records_dropped_total counter",
        "bazaar_build_info{version=",
    ] {
        assert!(text.contains(line), "no `{line}` in:\n{text}");
    }

    let prometheus = Prometheus::start(&[format!("127.0.0.1:{port}")]).await;

    // A shopper tries five categories that do not exist.
    for slug in ["books", "garden", "toys", "tools", "music"] {
        let r = http
            .get(format!("{base}/api/categories/{slug}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404);
    }

    // Prometheus has them, under the route's template and the status.
    let answered = prometheus
        .eventually(
            r#"sum(bazaar_http_requests_total{route="/api/categories/{slug}",status="404"})"#,
            |v| v >= 5.0,
        )
        .await;
    assert_eq!(answered, 5.0);
    // No series is named after a URL as asked.
    assert!(
        prometheus
            .query(r#"bazaar_http_requests_total{route=~".*(books|garden).*"}"#)
            .await
            .is_empty()
    );
    prometheus
        .eventually(
            r#"sum(bazaar_http_request_duration_seconds_count{route="/api/categories/{slug}"})"#,
            |v| v >= 5.0,
        )
        .await;
    // The edge asked the admin node, and the admin node answered, five times.
    for side in ["made", "served"] {
        let asked = prometheus
            .eventually(
                &format!(
                    r#"sum(bazaar_nats_requests_total{{side="{side}",subject="admin.category.get",status="404"}})"#
                ),
                |v| v >= 5.0,
            )
            .await;
        assert_eq!(asked, 5.0, "{side}");
    }
    prometheus
        .eventually(
            r#"sum(bazaar_nats_request_duration_seconds_count{side="served",subject="admin.category.get"})"#,
            |v| v >= 5.0,
        )
        .await;
    // Nothing failed on the server side.
    assert!(
        prometheus
            .query(r#"bazaar_nats_request_errors_total{subject="admin.category.get"}"#)
            .await
            .is_empty()
    );

    // The queues, the process and the log publisher.
    prometheus
        .eventually("bazaar_mail_queue_depth", |v| v == 0.0)
        .await;
    prometheus
        .eventually(
            r#"bazaar_jetstream_consumer_pending{stream="MAIL_JOBS",consumer="mail-sender"}"#,
            |v| v == 0.0,
        )
        .await;
    prometheus
        .eventually("bazaar_process_resident_memory_bytes", |v| v > 1_000_000.0)
        .await;
    // Registered from the start, so a dashboard shows 0 rather than nothing.
    prometheus
        .eventually("bazaar_log_records_dropped_total", |v| v >= 0.0)
        .await;
    prometheus.stop().await;
    bazaar_tests::terminate(&mut bazaar).await;
}

#[cfg(unix)]
#[tokio::test]
async fn an_edge_of_its_own_serves_its_metrics_on_the_metrics_address() {
    let p = bazaar_tests::Platform::spawn().await;
    let http_port = bazaar::natsd::free_port().unwrap();
    let metrics_port = bazaar::natsd::free_port().unwrap();
    let _edge = tokio::process::Command::new(bazaar_tests::bazaar_binary())
        .arg("edge")
        .env("BAZAAR_NATS_URL", p.nats_server.url())
        .env("BAZAAR_NATS_CREDENTIALS_DIR", p.data_dir().join("nats-bus"))
        .env("BAZAAR_HTTP_ADDR", format!("127.0.0.1:{http_port}"))
        .env("BAZAAR_METRICS_ADDR", format!("127.0.0.1:{metrics_port}"))
        .env("BAZAAR_DATA_DIR", p.data_dir())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{http_port}");
    bazaar_tests::ready_at(&http, &base).await;
    let r = http
        .get(format!("{base}/api/categories/lamps"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    // Its metrics are on their own address, not on the web.
    let text = http
        .get(format!("http://127.0.0.1:{metrics_port}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains(r#"bazaar_http_requests_total{route="/api/categories/{slug}",method="GET",status="404"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(
            r#"bazaar_nats_requests_total{side="made",subject="admin.category.get",status="404"} 1"#
        ),
        "{text}"
    );
    assert!(text.contains("bazaar_process_resident_memory_bytes"));
    let web = http.get(format!("{base}/metrics")).send().await.unwrap();
    assert_eq!(web.status(), 404);
}
