//! The foundation, as people and operators meet it: categories through the
//! edge, errors as envelopes, readiness, scaling a node out and in, the docs,
//! the pages, migrations and the one-box `bazaar dev`.

use std::time::Duration;

use bazaar_subjects::admin::{self, CategoryChanged, CategoryList};
use bazaar_subjects::bus::Principal;
use bazaar_subjects::{Domain, Empty, Endpoint, Role};
use bazaar_tests::story::envelope;
use bazaar_tests::{Options, Platform};
use futures::StreamExt;
use serde_json::{Value, json};

#[tokio::test]
async fn an_admin_adds_a_category_and_shoppers_see_it_at_once() {
    let p = Platform::spawn().await;
    let admin = p.token(Role::Admin);

    // A fresh site has no categories.
    let list: CategoryList = p
        .http
        .get(p.url("/api/categories"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(list.categories.is_empty());

    // Watch the admin event stream like an analytics consumer would.
    let stream = p
        .ctx
        .jetstream
        .get_stream(admin::EVENTS.name)
        .await
        .unwrap();
    let consumer = stream
        .create_consumer(async_nats::jetstream::consumer::pull::Config::default())
        .await
        .unwrap();

    let created = p
        .http
        .post(p.url("/api/categories"))
        .bearer_auth(&admin)
        .json(&json!({ "name": "Home & Garden", "subcategories": ["Kitchen", "Garden Tools"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 200);
    let created: Value = created.json().await.unwrap();
    assert_eq!(created["slug"], "home-garden");
    assert_eq!(created["subcategories"][1]["slug"], "garden-tools");

    // A shopper (no token) sees it, from the public list and by slug.
    let list: CategoryList = p
        .http
        .get(p.url("/api/categories"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list.categories.len(), 1);
    assert_eq!(list.categories[0].name, "Home & Garden");
    let one: Value = p
        .http
        .get(p.url("/api/categories/home-garden"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(one["name"], "Home & Garden");

    // A rename is never hidden by the cache.
    for name in ["Home", "House & Garden", "Home & Garden"] {
        let r = p
            .http
            .put(p.url("/api/categories/home-garden"))
            .bearer_auth(&admin)
            .json(&json!({ "name": name }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let list: CategoryList = p
            .http
            .get(p.url("/api/categories"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(list.categories[0].name, name);
    }

    // The cache lives in JetStream KV, where every copy of every node finds it.
    let kv = p.ctx.jetstream.get_key_value("admin_cache").await.unwrap();
    let cached: Value =
        serde_json::from_slice(&kv.get("categories").await.unwrap().unwrap()).unwrap();
    assert_eq!(cached["revision"], 4);
    assert_eq!(cached["value"]["categories"][0]["name"], "Home & Garden");

    // Deleting it: gone for shoppers, 404 by slug.
    let r = p
        .http
        .delete(p.url("/api/categories/home-garden"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let list: CategoryList = p
        .http
        .get(p.url("/api/categories"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(list.categories.is_empty());

    // Every change was published to JetStream, in order.
    let mut messages = consumer
        .fetch()
        .max_messages(10)
        .expires(Duration::from_secs(2))
        .messages()
        .await
        .unwrap();
    let mut changes = Vec::new();
    while let Some(Ok(m)) = messages.next().await {
        assert_eq!(
            m.subject.as_str(),
            <CategoryChanged as bazaar_subjects::Event>::SUBJECT
        );
        changes.push(serde_json::from_slice::<CategoryChanged>(&m.payload).unwrap());
        m.ack().await.unwrap();
    }
    let revisions: Vec<u64> = changes.iter().map(|c| c.revision).collect();
    assert_eq!(revisions, [1, 2, 3, 4, 5]);
    assert_eq!(changes[4].change, admin::CategoryChange::Deleted);
}

#[tokio::test]
async fn the_site_configuration_is_public_and_only_admins_change_it() {
    let p = Platform::spawn().await;
    let site: Value = p
        .http
        .get(p.url("/api/site"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(site["name"], "Bazaar");
    let r = p
        .http
        .patch(p.url("/api/site"))
        .bearer_auth(p.token(Role::Seller))
        .json(&json!({ "name": "Mine" }))
        .send()
        .await
        .unwrap();
    assert_eq!(envelope(r).await.0, 403);
    let r = p
        .http
        .patch(p.url("/api/site"))
        .bearer_auth(p.token(Role::Admin))
        .json(&json!({ "name": "Corner Market", "banner_url": "/images/banner.png" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let site: Value = p
        .http
        .get(p.url("/api/site"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(site["name"], "Corner Market");
    assert_eq!(site["tagline"], "Everything, from everyone");
    assert_eq!(site["banner_url"], "/images/banner.png");
    let r = p
        .http
        .patch(p.url("/api/site"))
        .bearer_auth(p.token(Role::Admin))
        .json(&json!({ "name": "", "logo_url": "javascript:alert(1)" }))
        .send()
        .await
        .unwrap();
    let (status, env) = envelope(r).await;
    assert_eq!(status, 422);
    let fields: Vec<_> = env.fields.iter().map(|f| f.field.as_str()).collect();
    assert_eq!(fields, ["name", "logo_url"]);
}

#[tokio::test]
async fn errors_come_back_as_envelopes_with_the_right_status() {
    let p = Platform::spawn().await;

    // Not found, from the node, with the request id the client sent.
    let r = p
        .http
        .get(p.url("/api/categories/no-such-thing"))
        .header("x-request-id", "req-abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "req-abc-123");
    let (status, env) = envelope(r).await;
    assert_eq!((status, env.status), (404, 404));
    assert_eq!(serde_json::to_value(env.code).unwrap(), "not_found");
    assert_eq!(env.request_id.as_deref(), Some("req-abc-123"));

    // Field errors name every bad field.
    let r = p
        .http
        .post(p.url("/api/categories"))
        .bearer_auth(p.token(Role::Admin))
        .json(&json!({ "name": "", "slug": "Not A Slug" }))
        .send()
        .await
        .unwrap();
    let (status, env) = envelope(r).await;
    assert_eq!(status, 422);
    assert_eq!(env.fields.len(), 2);

    // Anonymous, buyer, seller, tampered: refused by the node.
    let body = json!({ "name": "Toys" });
    let r = p
        .http
        .post(p.url("/api/categories"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(envelope(r).await.0, 401);
    for role in [Role::Buyer, Role::Seller] {
        let r = p
            .http
            .post(p.url("/api/categories"))
            .bearer_auth(p.token(role))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(envelope(r).await.0, 403, "{role:?}");
    }
    let forged = p.token(Role::Admin).replacen('.', ".x", 1);
    let r = p
        .http
        .post(p.url("/api/categories"))
        .bearer_auth(forged)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(envelope(r).await.0, 401);

    // Unreadable bodies and oversized bodies.
    let r = p
        .http
        .post(p.url("/api/categories"))
        .bearer_auth(p.token(Role::Admin))
        .header("content-type", "application/json")
        .body("{ not json")
        .send()
        .await
        .unwrap();
    assert_eq!(envelope(r).await.0, 400);
    let huge = json!({ "name": "x".repeat(2 * 1024 * 1024) });
    let r = p
        .http
        .post(p.url("/api/categories"))
        .bearer_auth(p.token(Role::Admin))
        .json(&huge)
        .send()
        .await
        .unwrap();
    assert_eq!(envelope(r).await.0, 413);

    // Unknown API paths are envelopes too.
    let r = p.http.get(p.url("/api/nothing-here")).send().await.unwrap();
    assert_eq!(envelope(r).await.0, 404);
}

#[tokio::test]
async fn a_buyer_token_sent_straight_over_nats_is_refused_by_the_node() {
    let p = Platform::spawn().await;
    let meta = bazaar_runtime::RequestMeta {
        request_id: "direct".into(),
        authorization: Some(p.token(Role::Buyer)),
    };
    let input = admin::CategoryInput {
        slug: None,
        name: "Sneaky".into(),
        position: None,
        subcategories: vec![],
    };
    let err = bazaar_runtime::call::<admin::UpsertCategory>(
        &p.ctx.nats,
        &meta,
        &input,
        Duration::from_secs(5),
    )
    .await
    .unwrap_err();
    assert_eq!(err.status, 403);
    // The raw reply carries the NATS service API's error headers too.
    let mut headers = async_nats::HeaderMap::new();
    headers.insert(
        bazaar_subjects::headers::AUTHORIZATION,
        p.token(Role::Buyer).as_str(),
    );
    let raw = p
        .ctx
        .nats
        .request_with_headers(
            admin::UpsertCategory::SUBJECT,
            headers,
            serde_json::to_vec(&input).unwrap().into(),
        )
        .await
        .unwrap();
    let h = raw.headers.unwrap();
    assert_eq!(h.get("Nats-Service-Error-Code").unwrap().as_str(), "403");
    assert!(!h.get("Nats-Service-Error").unwrap().as_str().is_empty());
    let list = bazaar_runtime::call::<admin::ListCategories>(
        &p.ctx.nats,
        &meta,
        &Empty {},
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    assert!(list.categories.is_empty(), "the refused write left a trace");
}

#[tokio::test]
async fn with_no_node_running_the_api_says_503_and_readyz_says_who_is_missing() {
    let p = Platform::spawn_with(Options {
        nodes: false,
        ..Options::default()
    })
    .await;
    let r = p.http.get(p.url("/api/categories")).send().await.unwrap();
    let (status, env) = envelope(r).await;
    assert_eq!(status, 503);
    assert_eq!(serde_json::to_value(env.code).unwrap(), "unavailable");
    assert_eq!(
        p.http.get(p.url("/healthz")).send().await.unwrap().status(),
        200
    );
    let r = p.http.get(p.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 503);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["ready"], false);
    assert_eq!(body["nats"], "connected");
    assert_eq!(
        body["domains"][0],
        json!({ "domain": "admin", "ready": false })
    );
    let listed: Vec<&str> = body["domains"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["domain"].as_str().unwrap())
        .collect();
    assert_eq!(
        listed,
        [
            "admin",
            "auth",
            "mail",
            "sellers",
            "catalog",
            "search",
            "orders",
            "chat",
            "recommend",
            "logs",
            "analytics"
        ]
    );

    // Starting the nodes makes the platform ready.
    let nodes: Vec<_> = bazaar::platform::DOMAINS
        .iter()
        .map(|d| p.start_node(*d))
        .collect();
    p.wait_ready().await;
    let body: Value = p
        .http
        .get(p.url("/readyz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["domains"][0]["ready"], true);
    assert_eq!(
        p.http
            .get(p.url("/api/categories"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    for node in nodes {
        node.stop().await;
    }
}

#[tokio::test]
async fn a_second_copy_shares_the_load_and_either_can_stop_without_a_failed_request() {
    let p = Platform::spawn().await;
    let admin = p.token(Role::Admin);
    let r = p
        .http
        .post(p.url("/api/categories"))
        .bearer_auth(&admin)
        .json(&json!({ "name": "Books" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let second = p.start_node(Domain::Admin);
    for _ in 0..100 {
        if p.node_ids(Domain::Admin).await.len() == 2 {
            break;
        }
    }
    assert_eq!(
        p.node_ids(Domain::Admin).await.len(),
        2,
        "both copies answer $SRV.PING"
    );

    // Shoppers keep browsing while one copy is stopped mid-run.
    let shoppers: Vec<_> = (0..8)
        .map(|_| {
            let http = p.http.clone();
            let url = p.url("/api/categories/books");
            tokio::spawn(async move {
                let mut ok = 0;
                for _ in 0..60 {
                    let r = http.get(&url).send().await.unwrap();
                    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
                    ok += 1;
                }
                ok
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(100)).await;
    second.stop().await;
    let mut total = 0;
    for s in shoppers {
        total += s.await.unwrap();
    }
    assert_eq!(total, 480);
    assert_eq!(p.node_ids(Domain::Admin).await.len(), 1);
    p.stop().await;
}

#[tokio::test]
async fn the_api_docs_are_generated_and_browsable_offline() {
    let p = Platform::spawn().await;
    let doc: Value = p
        .http
        .get(p.url("/api-docs/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for path in [
        "/api/categories",
        "/api/categories/{slug}",
        "/api/site",
        "/readyz",
    ] {
        assert!(
            doc["paths"][path].is_object(),
            "{path} missing from the OpenAPI document"
        );
    }
    assert!(doc["components"]["schemas"]["ErrorEnvelope"].is_object());
    let html = p.http.get(p.url("/api-docs/")).send().await.unwrap();
    assert_eq!(html.status(), 200);
    let html = html.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "{html}");
    let external: Vec<&str> = html
        .split(['"', '\''])
        .filter(|s| s.starts_with("http"))
        .collect();
    assert!(
        external.is_empty(),
        "the docs page loads {external:?} from the internet"
    );
    let js = p
        .http
        .get(p.url("/api-docs/swagger-ui-bundle.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(js.status(), 200);
}

#[tokio::test]
async fn the_home_page_shows_categories_escaped_and_unknown_pages_are_friendly() {
    let p = Platform::spawn().await;
    let r = p
        .http
        .post(p.url("/api/categories"))
        .bearer_auth(p.token(Role::Admin))
        .json(&json!({ "name": "<script>alert(1)</script> Toys", "slug": "toys" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = p.http.get(p.url("/")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("&#60;script&#62;alert(1)&#60;/script&#62; Toys"),
        "{html}"
    );
    assert!(!html.contains("<script>alert(1)"));
    let r = p.http.get(p.url("/no/such/page")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(r.text().await.unwrap().contains("Page not found"));

    // Assets are cached and revalidated.
    let css = p.http.get(p.url("/static/app.css")).send().await.unwrap();
    assert_eq!(css.status(), 200);
    assert!(
        css.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("max-age")
    );
    let etag = css.headers()["etag"].clone();
    let again = p
        .http
        .get(p.url("/static/app.css"))
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
}

#[tokio::test]
async fn bazaar_migrate_applies_each_migration_once() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("surrealkv://{}", dir.path().join("db").display());
    let run = || {
        std::process::Command::new(bazaar_tests::bazaar_binary())
            .arg("migrate")
            .env("BAZAAR_DATABASE_URL", &url)
            .env("BAZAAR_DATA_DIR", dir.path())
            .output()
            .unwrap()
    };
    let first = run();
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let expected = format!("{} migration(s) applied", bazaar_schema::MIGRATIONS.len());
    assert!(String::from_utf8_lossy(&first.stdout).contains(&expected));
    let second = run();
    assert!(second.status.success());
    assert!(String::from_utf8_lossy(&second.stdout).contains("(0 migration(s) applied)"));
}

#[cfg(unix)]
#[tokio::test]
async fn bazaar_dev_runs_everything_from_nothing_and_leaves_nothing_behind() {
    bazaar_tests::install_crypto();
    let dir = tempfile::tempdir().unwrap();
    let port = bazaar::natsd::free_port().unwrap();
    let dead_nats = bazaar::natsd::free_port().unwrap();
    let mut child = tokio::process::Command::new(bazaar_tests::bazaar_binary())
        .args(["dev", "--port", &port.to_string(), "--data-dir"])
        .arg(dir.path())
        .env("BAZAAR_NATS_URL", format!("nats://127.0.0.1:{dead_nats}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let ready = bazaar_tests::ready_at(&http, &base).await;
    let names: Vec<&str> = ready["domains"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["domain"].as_str().unwrap())
        .collect();
    let expected: Vec<&str> = bazaar::platform::DOMAINS.iter().map(|d| d.name()).collect();
    assert_eq!(names, expected);

    // Demo data, from the embedded database.
    let list: CategoryList = http
        .get(format!("{base}/api/categories"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list.categories.len(), bazaar_admin::DEMO_CATEGORIES.len());
    assert!(
        dir.path().join("db").exists(),
        "surrealkv store under the data dir"
    );
    assert!(
        dir.path().join("nats").exists(),
        "nats store under the data dir"
    );

    // The nats-server it started is closed: no credentials, no connection.
    let nats_port = bazaar_tests::dev_nats_port(dir.path());
    let bus = bazaar_tests::dev_bus(dir.path());
    assert!(
        async_nats::connect(&bus.url).await.is_err(),
        "a connection without credentials is refused"
    );
    // With the operator's, the nodes are there in the service API.
    let nats = bus.connect(Principal::Operator, "test").await.unwrap();
    let info = nats.request("$SRV.INFO.admin", "".into()).await.unwrap();
    let info: Value = serde_json::from_slice(&info.payload).unwrap();
    assert_eq!(info["name"], "admin");
    drop(nats);

    // SIGTERM: it stops, and so does its nats-server.
    let pid = child.id().unwrap().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status:?}");
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", nats_port)).is_err(),
        "nats-server outlived bazaar dev"
    );
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());

    // A data dir it cannot write is a clear error, not a crash.
    let out = std::process::Command::new(bazaar_tests::bazaar_binary())
        .args(["dev", "--port"])
        .arg(port.to_string())
        .arg("--data-dir")
        .arg("/proc/definitely-not-writable")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("data dir"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn bazaar_seed_waits_for_its_storage_to_close_before_it_exits() {
    let dir = tempfile::tempdir().unwrap();
    let dead_nats = bazaar::natsd::free_port().unwrap();
    let seeded = std::process::Command::new(bazaar_tests::bazaar_binary())
        .args(["seed", "--products", "40", "--seed", "7", "--data-dir"])
        .arg(dir.path())
        .env("BAZAAR_NATS_URL", format!("nats://127.0.0.1:{dead_nats}"))
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&seeded.stdout).into_owned()
        + &String::from_utf8_lossy(&seeded.stderr);
    assert!(seeded.status.success(), "{said}");
    assert!(said.contains("seeded 40 products"), "{said}");
    // The storage engine closes in a task of its own; the command saw its
    // lock let go (its memtables flushed) before it returned.
    assert!(said.contains("database closed"), "{said}");
    assert!(!said.contains("did not close"), "{said}");
}
