//! Fuzzing every operation: schemathesis reads the OpenAPI document the edge
//! serves and calls each operation with data made from it, valid and not, as
//! a signed-out visitor and then a signed-in buyer, seller and admin. Nothing
//! may answer 5xx, and every answer must be one the document describes: its
//! status, its content type and its body's schema. Real ids (a shop, a
//! product, an order, a conversation …) are mixed into the path parameters
//! and the body fields that name something, so the operations behind an id
//! are reached too, not only their 404s and 422s.
//!
//! Bounded and repeatable: a fixed seed, deterministic generation and a few
//! examples per operation. `scripts/setup` installs schemathesis.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Instant;

use bazaar_edge::EdgeConfig;
use bazaar_subjects::Role;
use bazaar_subjects::chat::Conversation;
use bazaar_subjects::orders::Coupon;
use bazaar_tests::story::ok_as;
use bazaar_tests::{Options, Platform};
use reqwest::Method;
use serde_json::json;

use crate::catalog::{categories, create};
use crate::commerce::{add, cod_product, place_cod};

/// The same run every time.
const SEED: &str = "20261206";
/// Examples per operation and phase, per account; `BAZAAR_FUZZ_EXAMPLES`
/// asks for more (a deeper run, minutes longer).
const MAX_EXAMPLES: &str = "10";

fn max_examples() -> String {
    std::env::var("BAZAAR_FUZZ_EXAMPLES").unwrap_or_else(|_| MAX_EXAMPLES.to_owned())
}

/// `schemathesis` on PATH or in the venv `scripts/setup` makes.
fn schemathesis() -> PathBuf {
    let name = "schemathesis";
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    });
    let cache = std::env::var_os("BAZAAR_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/bazaar")));
    let in_venv = cache
        .map(|c| c.join("venv/bin").join(name))
        .filter(|p| p.is_file());
    on_path.or(in_venv).unwrap_or_else(|| {
        panic!("schemathesis is not installed: run `bash scripts/setup` (it installs it into the venv under ~/.cache/bazaar)")
    })
}

/// The ids a run mixes into path parameters and body fields.
struct Known {
    shop_slug: String,
    category_slug: String,
    product_slug: String,
    product_id: String,
    coupon_id: String,
    order_id: String,
    checkout_id: String,
    conversation_id: String,
    address_id: String,
}

/// schemathesis' settings: real ids for the path parameters and the body
/// fields that name something, half the time.
fn config(k: &Known) -> String {
    let dictionaries = [
        ("shops", &k.shop_slug),
        ("categories", &k.category_slug),
        ("products", &k.product_slug),
        ("product_ids", &k.product_id),
        ("coupons", &k.coupon_id),
        ("orders", &k.order_id),
        ("checkouts", &k.checkout_id),
        ("conversations", &k.conversation_id),
        ("addresses", &k.address_id),
    ];
    // What schemathesis only warns about but would mean the run proves less:
    // a reference or pattern it cannot use, a binding that binds nothing,
    // answers it cannot read, the rate limit still biting.
    let mut toml = String::from(
        "[generation]\ndatabase = \"none\"\n\n[warnings]\nfail-on = [\"unresolvable_reference\", \"unsupported_regex\", \"unmatched_filter\", \"dictionary_mismatch\", \"missing_deserializer\", \"rate_limited\", \"base_url_mismatch\"]\n\n",
    );
    for (name, value) in dictionaries {
        toml.push_str(&format!("[dictionaries.{name}]\nvalues = [{value:?}]\n\n"));
    }
    let bindings = [
        (r"^/api/shops/\{slug\}", "slug", "shops"),
        (r"^/api/categories/\{slug\}", "slug", "categories"),
        (r"^/api/products/\{slug\}", "slug", "products"),
        (r"^/api/seller/products/\{id\}", "id", "product_ids"),
        (
            r"^/api/wishlist/\{product_id\}",
            "product_id",
            "product_ids",
        ),
        (r"^/api/seller/coupons/\{id\}", "id", "coupons"),
        (r"^/api/(seller/)?orders/\{id\}", "id", "orders"),
        (r"^/api/checkouts/\{id\}", "id", "checkouts"),
        (r"^/api/conversations/\{id\}", "id", "conversations"),
        (r"^/api/me/addresses/\{id\}", "id", "addresses"),
    ];
    // Body fields that name something, wherever they appear.
    toml.push_str("[parameters]\n");
    for (field, dictionary) in [
        ("category", "categories"),
        ("shop_slug", "shops"),
        ("product_id", "product_ids"),
        ("target_id", "product_ids"),
        ("address_id", "addresses"),
    ] {
        toml.push_str(&format!(
            "\"body.{field}\" = {{ dictionary = \"{dictionary}\", probability = 0.5 }}\n"
        ));
    }
    toml.push('\n');
    for (path, parameter, dictionary) in bindings {
        toml.push_str(&format!(
            "[[operations]]\ninclude-path-regex = {path:?}\nparameters = {{ \"path.{parameter}\" = {{ dictionary = \"{dictionary}\", probability = 0.5 }} }}\n\n"
        ));
    }
    toml
}

/// A marketplace with something in every corner: categories, a shop with a
/// product and a code, an order, a checkout, a conversation, an address.
async fn stocked(p: &Platform) -> (Known, [(&'static str, String); 3]) {
    categories(p).await;
    let (_, seller) = p.account("Sam Seller", Role::Seller).await;
    let shop = p.open_shop(&seller, "Sam's Sounds", "electronics").await;
    let item = create(p, &seller, &cod_product("Tube Amplifier", 40_000, 1_000)).await;
    let coupon: Coupon = ok_as(
        p.send(
            Method::POST,
            "/api/seller/coupons",
            &seller,
            Some(json!({ "code": "amp10", "kind": "percent", "amount": 10 })),
        )
        .await,
    )
    .await;
    let (_, buyer) = p.account("Bea Buyer", Role::Buyer).await;
    add(p, &buyer, &item.id, 1).await;
    let placed = place_cod(p, &buyer, "fuzz-order").await;
    let conversation: Conversation = ok_as(
        p.send(
            Method::POST,
            "/api/conversations",
            &buyer,
            Some(json!({ "shop_slug": shop.slug, "product_id": item.id })),
        )
        .await,
    )
    .await;
    let address: serde_json::Value = ok_as(
        p.send(
            Method::POST,
            "/api/me/addresses",
            &buyer,
            Some(crate::commerce::address()),
        )
        .await,
    )
    .await;
    let (_, admin) = p.account("Ada Admin", Role::Admin).await;
    let known = Known {
        shop_slug: shop.slug,
        category_slug: "electronics".into(),
        product_slug: item.slug,
        product_id: item.id,
        coupon_id: coupon.id,
        order_id: placed.orders.first().expect("an order").id.clone(),
        checkout_id: placed.checkout_id,
        conversation_id: conversation.id,
        address_id: address["id"].as_str().expect("an address id").to_owned(),
    };
    (
        known,
        [("buyer", buyer), ("seller", seller), ("admin", admin)],
    )
}

/// One schemathesis run as the holder of `token` (signed out: `None`);
/// its exit status and output.
async fn run(
    p: &Platform,
    config: &Path,
    reports: &Path,
    token: Option<&str>,
) -> (std::process::ExitStatus, String) {
    let auth = token
        .map(|t| vec!["--header".to_owned(), format!("Authorization: Bearer {t}")])
        .unwrap_or_default();
    let output = tokio::process::Command::new(schemathesis())
        // Its cache of failures stays in the temp dir, out of the checkout.
        .current_dir(config.parent().expect("the config's dir"))
        .arg("--config-file")
        .arg(config)
        .arg("--no-color")
        .arg("run")
        .arg(p.url("/api-docs/openapi.json"))
        .args(["--url", &p.base_url])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
        ])
        .args(["--phases", "examples,coverage,fuzzing"])
        .args(["--seed", SEED, "--generation-deterministic"])
        .args(["--max-examples", &max_examples()])
        .args(["--workers", "2", "--request-timeout", "20"])
        .args(auth)
        .arg("--report-dir")
        .arg(reports)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .expect("schemathesis starts");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status, text)
}

#[tokio::test]
async fn every_operation_answers_as_documented_whatever_a_visitor_buyer_seller_or_admin_sends() {
    let st = schemathesis();
    let p = Platform::spawn_with(Options {
        edge: EdgeConfig {
            // Thousands of requests from one address, many to sign-in and codes.
            rate_limit_per_minute: 1_000_000,
            auth_rate_limit_per_minute: 1_000_000,
            account_rate_limit_per_15min: 1_000_000,
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    let (known, accounts) = stocked(&p).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let config_file = dir.path().join("schemathesis.toml");
    std::fs::write(&config_file, config(&known)).expect("config written");
    let mut failed = Vec::new();
    let signed_out = [("visitor", None)];
    let signed_in = accounts.iter().map(|(who, t)| (*who, Some(t.as_str())));
    for (who, token) in signed_out.into_iter().chain(signed_in) {
        let started = Instant::now();
        let (status, output) = run(&p, &config_file, &dir.path().join(who), token).await;
        eprintln!(
            "schemathesis as the {who} ({}, {:.0?}):\n{output}",
            st.display(),
            started.elapsed()
        );
        if !status.success() {
            failed.push(format!("as the {who}: {status}"));
        }
    }
    assert!(
        failed.is_empty(),
        "schemathesis found answers the document does not describe ({}); its output is above",
        failed.join(", ")
    );
}
