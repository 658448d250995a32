//! The admin console, as admins run the marketplace with it and as the
//! people they act on meet it: bans that take effect within seconds, an
//! audit log that records every action once, and a console only admins
//! reach.

use std::time::Duration;

use bazaar_subjects::Role;
use bazaar_subjects::auth::{Account, Session};
use bazaar_subjects::console::{
    AccountPage, AccountSearch, AccountSummary, AuditPage, AuditQuery, BanAccount, BanRequest,
    SearchAccounts, SearchAudit,
};
use bazaar_tests::browser::Browser;
use bazaar_tests::story::{envelope, ok_as};
use bazaar_tests::{Platform, eventually};
use reqwest::Method;
use serde_json::json;

const PASSWORD: &str = "a long and secret password";

/// A buyer who signed up for real: (account id, a fresh session).
async fn buyer(p: &Platform, email: &str) -> (String, Session) {
    p.sign_up_buyer(email).await;
    let session: Session = ok_as(
        p.http
            .post(p.url("/api/login"))
            .json(&json!({ "email": email, "password": PASSWORD }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    (session.account.id.clone(), session)
}

async fn me_status(p: &Platform, token: &str) -> u16 {
    p.get("/api/me", Some(token)).await.status().as_u16()
}

async fn login(p: &Platform, email: &str) -> reqwest::Response {
    p.http
        .post(p.url("/api/login"))
        .json(&json!({ "email": email, "password": PASSWORD }))
        .send()
        .await
        .unwrap()
}

async fn audit_of(p: &Platform, admin: &str, target: &str) -> AuditPage {
    ok_as(
        p.get(&format!("/api/admin/audit?target={target}"), Some(admin))
            .await,
    )
    .await
}

#[tokio::test]
async fn a_banned_buyer_is_refused_within_seconds_and_an_unban_lets_them_back() {
    let p = Platform::spawn().await;
    let (_, admin) = p.account("Ada Admin", Role::Admin).await;
    let (id, session) = buyer(&p, "bea@example.com").await;
    let token = session.access_token.clone();
    assert_eq!(me_status(&p, &token).await, 200);

    let banned: AccountSummary = ok_as(
        p.send(
            Method::POST,
            &format!("/api/admin/accounts/{id}/ban"),
            &admin,
            Some(json!({ "reason": "fraudulent chargebacks" })),
        )
        .await,
    )
    .await;
    assert!(banned.banned_at.is_some());
    assert_eq!(banned.ban_reason.as_deref(), Some("fraudulent chargebacks"));

    // The access token still has most of its 15 minutes, yet every node
    // refuses it within seconds: auth (who am I) and orders alike.
    eventually(
        "the banned buyer's token is refused",
        || me_status(&p, &token),
        |s| *s == 401,
    )
    .await;
    let (status, e) = envelope(p.get("/api/orders", Some(&token)).await).await;
    assert_eq!(status, 401, "{e:?}");
    assert!(e.message.contains("suspended"), "{}", e.message);
    // Their session is over and they cannot sign in again.
    let r = p
        .http
        .post(p.url("/api/refresh-token"))
        .json(&json!({ "refresh_token": session.refresh_token }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let (status, e) = envelope(login(&p, "bea@example.com").await).await;
    assert_eq!(status, 403);
    assert!(e.message.contains("suspended"), "{}", e.message);
    // A wrong password still says only that.
    let r = p
        .http
        .post(p.url("/api/login"))
        .json(&json!({ "email": "bea@example.com", "password": "not the password" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // Banning twice is refused; the list shows the ban.
    let r = p
        .send(
            Method::POST,
            &format!("/api/admin/accounts/{id}/ban"),
            &admin,
            Some(json!({ "reason": "again" })),
        )
        .await;
    assert_eq!(r.status(), 409);
    let page: AccountPage = ok_as(
        p.get("/api/admin/accounts?banned=true&q=BEA@", Some(&admin))
            .await,
    )
    .await;
    assert_eq!(page.total, 1);
    assert_eq!(page.accounts[0].id, id);

    // Lifting the ban lets them back in.
    let _: AccountSummary = ok_as(
        p.send(
            Method::POST,
            &format!("/api/admin/accounts/{id}/unban"),
            &admin,
            Some(json!({ "reason": "the bank confirmed the payments" })),
        )
        .await,
    )
    .await;
    eventually(
        "the token works again",
        || me_status(&p, &token),
        |s| *s == 200,
    )
    .await;
    let session: Session = ok_as(login(&p, "bea@example.com").await).await;
    assert_eq!(me_status(&p, &session.access_token).await, 200);
}

#[tokio::test]
async fn only_admins_reach_the_console_even_straight_over_nats() {
    let p = Platform::spawn().await;
    let (id, session) = buyer(&p, "carl@example.com").await;
    let meta = bazaar_runtime::RequestMeta {
        request_id: "direct".into(),
        authorization: Some(session.access_token.clone()),
    };
    let timeout = Duration::from_secs(5);
    let err = bazaar_runtime::call::<SearchAccounts>(
        &p.ctx.nats,
        &meta,
        &AccountSearch::default(),
        timeout,
    )
    .await
    .unwrap_err();
    assert_eq!(err.status, 403);
    let err = bazaar_runtime::call::<BanAccount>(
        &p.ctx.nats,
        &meta,
        &BanRequest {
            account_id: id.clone(),
            reason: "myself".into(),
        },
        timeout,
    )
    .await
    .unwrap_err();
    assert_eq!(err.status, 403);
    let err =
        bazaar_runtime::call::<SearchAudit>(&p.ctx.nats, &meta, &AuditQuery::default(), timeout)
            .await
            .unwrap_err();
    assert_eq!(err.status, 403);

    // Through the edge: the API and the pages.
    let token = session.access_token.as_str();
    for path in [
        "/api/admin/accounts",
        "/api/admin/audit",
        "/api/admin/audit.csv",
    ] {
        assert_eq!(p.get(path, Some(token)).await.status(), 403, "{path}");
        assert_eq!(p.get(path, None).await.status(), 401, "{path}");
    }
    let visitor = bazaar_tests::story::Visitor::new(&p);
    visitor.sign_in(token);
    for path in ["/admin/accounts", "/admin/audit"] {
        assert_eq!(visitor.get(path).await.status, 403, "{path}");
    }
    let (_, admin) = p.account("Ada Admin", Role::Admin).await;
    let visitor = bazaar_tests::story::Visitor::new(&p);
    visitor.sign_in(&admin);
    let page = visitor.get("/admin/accounts?q=carl").await;
    assert_eq!(page.status, 200);
    assert!(page.html.contains("carl@example.com"), "{}", page.html);
    assert!(page.html.contains("href=\"/admin/audit\""));
    // One console: every admin page carries the same navigation.
    for path in [
        "/admin",
        "/admin/accounts",
        "/admin/reports",
        "/admin/orders",
        "/admin/audit",
        "/admin/system",
        "/admin/logs",
    ] {
        let html = visitor.page(path).await;
        assert!(html.contains("class=\"console-nav\""), "{path}");
        assert!(html.contains("aria-current=\"page\""), "{path}");
    }
}

#[tokio::test]
async fn every_admin_action_is_in_the_audit_log_once_with_before_and_after() {
    let p = Platform::spawn().await;
    let (admin_id, admin) = p.account("Ada Admin", Role::Admin).await;
    let (id, _) = buyer(&p, "dora@example.com").await;
    let ban_path = format!("/api/admin/accounts/{id}/ban");
    let ban = |reason: &'static str| {
        p.send(
            Method::POST,
            &ban_path,
            &admin,
            Some(json!({ "reason": reason })),
        )
    };
    assert_eq!(ban("spam").await.status(), 200);
    // Refused actions change nothing and record nothing.
    assert_eq!(ban("spam again").await.status(), 409);
    assert_eq!(ban("   ").await.status(), 422);
    let unban = p
        .send(
            Method::POST,
            &format!("/api/admin/accounts/{id}/unban"),
            &admin,
            Some(json!({ "reason": "appeal granted" })),
        )
        .await;
    assert_eq!(unban.status(), 200);
    let promote = p
        .send(
            Method::POST,
            &format!("/api/admin/accounts/{id}/promote"),
            &admin,
            None,
        )
        .await;
    assert_eq!(promote.status(), 200);
    // An admin cannot ban themselves.
    let r = p
        .send(
            Method::POST,
            &format!("/api/admin/accounts/{admin_id}/ban"),
            &admin,
            Some(json!({ "reason": "oops" })),
        )
        .await;
    assert_eq!(r.status(), 422);

    let log = audit_of(&p, &admin, &id).await;
    let mut actions: Vec<&str> = log.entries.iter().map(|e| e.action.as_str()).collect();
    actions.sort_unstable();
    assert_eq!(actions, ["account.ban", "account.promote", "account.unban"]);
    assert_eq!(log.total, 3);
    for e in &log.entries {
        assert_eq!(e.admin, admin_id);
        assert_eq!(e.target_kind, "account");
        assert!(!e.request_id.is_empty());
        let before: serde_json::Value = serde_json::from_str(e.before.as_deref().unwrap()).unwrap();
        let after: serde_json::Value = serde_json::from_str(e.after.as_deref().unwrap()).unwrap();
        match e.action.as_str() {
            "account.ban" => {
                assert!(before["banned_at"].is_null(), "{before}");
                assert!(after["banned_at"].is_string(), "{after}");
                assert_eq!(e.reason.as_deref(), Some("spam"));
            }
            "account.unban" => {
                assert!(before["banned_at"].is_string(), "{before}");
                assert!(after["banned_at"].is_null(), "{after}");
            }
            _ => {
                assert_eq!(before["role"], "buyer");
                assert_eq!(after["role"], "admin");
            }
        }
    }
    // Searchable by admin and action, and exported as CSV.
    let by_action: AuditPage = ok_as(
        p.get(
            &format!("/api/admin/audit?action=account.ban&admin={admin_id}"),
            Some(&admin),
        )
        .await,
    )
    .await;
    assert_eq!(by_action.total, 1);
    let r = p
        .get("/api/admin/audit?since=yesterday", Some(&admin))
        .await;
    assert_eq!(r.status(), 422);
    let csv = p
        .get(&format!("/api/admin/audit.csv?target={id}"), Some(&admin))
        .await;
    assert_eq!(csv.status(), 200);
    assert!(
        csv.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let text = csv.text().await.unwrap();
    assert_eq!(text.lines().count(), 4, "{text}");
    assert!(text.contains("\"appeal granted\""), "{text}");

    // Adding an admin is recorded too, with the new account as `after`.
    let added: Account = ok_as(
        p.send(
            Method::POST,
            "/api/admins",
            &admin,
            Some(
                json!({ "name": "Noor Admin", "email": "noor@example.com", "password": PASSWORD }),
            ),
        )
        .await,
    )
    .await;
    let log = audit_of(&p, &admin, &added.id).await;
    assert_eq!(log.total, 1);
    assert_eq!(log.entries[0].action, "account.create_admin");
    assert!(log.entries[0].before.is_none());
    assert!(
        log.entries[0]
            .after
            .as_deref()
            .unwrap()
            .contains("noor@example.com")
    );

    // The log is append-only, even for someone at the database.
    let tampered =
        p.db.query("DELETE audit; UPDATE audit SET reason = 'nothing happened';")
            .await
            .unwrap()
            .check();
    assert!(tampered.is_err());
    assert_eq!(audit_of(&p, &admin, &id).await.total, 3);
}

#[tokio::test]
async fn an_admin_bans_a_buyer_through_the_console_pages() {
    let p = Platform::spawn().await;
    let (id, session) = buyer(&p, "eve@example.com").await;
    let r = p
        .http
        .post(p.url("/api/admins"))
        .bearer_auth(p.token(Role::Admin))
        .json(&json!({ "name": "Root Admin", "email": "root@example.com", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);

    let b = Browser::start().await;
    b.sign_in(&p.base_url, "root@example.com", PASSWORD).await;
    b.goto(&p.url("/admin")).await;
    b.click("nav.console-nav a[href='/admin/accounts']").await;
    b.wait_for_path("/admin/accounts").await;
    b.type_into("#accounts-q", "eve@").await;
    b.click("form.console-filters button[type=submit]").await;
    // The filtered list, not the one the search was typed on.
    b.wait_for_text("value=\"eve@\"").await;
    b.click(&format!("tr[data-account='{id}'] a")).await;
    b.wait_for_path(&format!("/admin/accounts/{id}")).await;
    // A ban without a reason comes back with the reason asked for.
    b.click(&format!("form[action='/admin/accounts/{id}/ban'] button"))
        .await;
    b.wait_for_text("say why").await;
    b.type_into("#ban-reason", "selling counterfeits").await;
    b.click(&format!("form[action='/admin/accounts/{id}/ban'] button"))
        .await;
    b.wait_for_text("The account is banned").await;
    assert!(b.text(".standing").await.contains("selling counterfeits"));
    b.close().await;

    eventually(
        "the buyer's token is refused",
        || me_status(&p, &session.access_token),
        |s| *s == 401,
    )
    .await;
    let me: Result<Account, _> = p
        .get("/api/me", Some(&session.access_token))
        .await
        .json::<Account>()
        .await;
    assert!(me.is_err());
}

#[tokio::test]
async fn category_and_site_changes_are_in_the_audit_log_with_before_and_after() {
    let p = Platform::spawn().await;
    let (admin_id, admin) = p.account("Ada Admin", Role::Admin).await;
    let made = p
        .send(
            Method::POST,
            "/api/categories",
            &admin,
            Some(json!({ "name": "Garden Tools", "subcategories": ["Rakes"] })),
        )
        .await;
    assert_eq!(made.status(), 200);
    let renamed = p
        .send(
            Method::PUT,
            "/api/categories/garden-tools",
            &admin,
            Some(json!({ "name": "Garden Tools & More" })),
        )
        .await;
    assert_eq!(renamed.status(), 200);
    let gone = p
        .send(Method::DELETE, "/api/categories/garden-tools", &admin, None)
        .await;
    assert_eq!(gone.status(), 204);
    // Deleting what is not there changes nothing and records nothing.
    let again = p
        .send(Method::DELETE, "/api/categories/garden-tools", &admin, None)
        .await;
    assert_eq!(again.status(), 404);

    let mut log = audit_of(&p, &admin, "garden-tools").await.entries;
    log.reverse();
    let actions: Vec<&str> = log.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        ["category.upsert", "category.upsert", "category.delete"]
    );
    assert!(log.iter().all(|e| e.admin == admin_id));
    assert!(log[0].before.is_none());
    assert!(log[0].after.as_deref().unwrap().contains("Garden Tools"));
    assert!(log[1].before.as_deref().unwrap().contains("Rakes"));
    assert!(
        log[1]
            .after
            .as_deref()
            .unwrap()
            .contains("Garden Tools & More")
    );
    assert!(log[2].after.is_none());

    let site = p
        .send(
            Method::PATCH,
            "/api/site",
            &admin,
            Some(json!({ "tagline": "Tools for every garden" })),
        )
        .await;
    assert_eq!(site.status(), 200);
    let log = audit_of(&p, &admin, "main").await.entries;
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].action, "site.update");
    assert!(
        log[0]
            .after
            .as_deref()
            .unwrap()
            .contains("Tools for every garden")
    );
}
