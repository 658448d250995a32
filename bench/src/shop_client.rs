//! What the load generators that act as shoppers share: one HTTP client
//! for a running Bazaar's API, signing up through the one-box mailbox, a
//! delivery address and a run id.

use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::{Value, json};

pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
}

impl Client {
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        key: Option<&str>,
    ) -> anyhow::Result<(u16, Value)> {
        let mut r = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        if let Some(k) = key {
            r = r.header("Idempotency-Key", k);
        }
        if let Some(b) = body {
            r = r.json(&b);
        }
        let resp = r.send().await?;
        let status = resp.status().as_u16();
        let text = resp.text().await?;
        Ok((
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        ))
    }

    /// Signs an account up and returns its access token, reading the code
    /// from the one-box mailbox page.
    pub async fn sign_up(&self, path: &str, email: &str) -> anyhow::Result<String> {
        let mut body = json!({ "name": "Bench User", "email": email, "password": "a long benchmark password" });
        if path.ends_with("seller") {
            body["phone"] = json!("+49 30 1234567");
            body["country"] = json!("DE");
        }
        let (status, v) = self
            .call(reqwest::Method::POST, path, None, Some(body), None)
            .await?;
        if status != 202 {
            bail!("sign-up {email}: {status} {v}");
        }
        let mut code = None;
        for _ in 0..100 {
            let page = self
                .http
                .get(format!("{}/dev/mailbox", self.base))
                .send()
                .await?
                .text()
                .await?;
            code = page
                .split("<article")
                .find(|a| a.contains(&format!("to {email}")))
                // The code is in the text, not in the time it was sent
                // (whose fraction of a second may be six digits).
                .and_then(|a| a.split_once("<pre>").map(|(_, text)| text))
                .and_then(|a| {
                    // The random address itself may hold six digits in a row.
                    a.replace(email, "")
                        .split(|c: char| !c.is_ascii_digit())
                        .find(|w| w.len() == 6)
                        .map(str::to_owned)
                });
            if code.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let code = code.with_context(|| {
            format!("no code for {email} on /dev/mailbox (is this `bazaar dev` without SMTP?)")
        })?;
        let (status, session) = self
            .call(
                reqwest::Method::POST,
                "/api/register/verify",
                None,
                Some(json!({ "email": email, "otp": code })),
                None,
            )
            .await?;
        if status != 200 {
            bail!("verify {email}: {status} {session}");
        }
        session["access_token"]
            .as_str()
            .map(str::to_owned)
            .context("no access token")
    }
}

pub fn address() -> Value {
    json!({ "full_name": "Bench Buyer", "line1": "1 Load Street", "city": "Berlin", "postal_code": "10115", "country": "DE" })
}

/// A run id, so accounts and shops of several runs never collide.
pub fn uuid_like() -> String {
    format!(
        "{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    )
}

/// Signs a seller up, opens a shop in the site's first category and lists
/// `products` products with plenty of stock and cash on delivery; the
/// seller's token and each product's (id, slug).
pub async fn open_bench_shop(
    client: &Client,
    run: &str,
    products: usize,
) -> anyhow::Result<(String, Vec<(String, String)>)> {
    let seller = client
        .sign_up("/api/register/seller", &format!("seller-{run}@bench.test"))
        .await?;
    let (_, categories) = client
        .call(reqwest::Method::GET, "/api/categories", None, None, None)
        .await?;
    let category = categories["categories"][0]["slug"]
        .as_str()
        .context("no categories: seed the site")?
        .to_owned();
    let (status, shop) = client
        .call(
            reqwest::Method::POST,
            "/api/shops",
            Some(&seller),
            Some(json!({ "name": format!("Bench Shop {run}"), "category": category })),
            None,
        )
        .await?;
    if status != 201 {
        bail!("shop: {status} {shop}");
    }
    let mut listed = Vec::new();
    for i in 0..products {
        let (status, p) = client
            .call(
                reqwest::Method::POST,
                "/api/seller/products",
                Some(&seller),
                Some(json!({ "title": format!("Bench Item {i} {run}"), "category": category, "regular_price": 1000 + i as i64,
                              "stock": 1_000_000, "cash_on_delivery": true })),
                None,
            )
            .await?;
        if status != 201 {
            bail!("product: {status} {p}");
        }
        listed.push((
            p["id"].as_str().context("product id")?.to_owned(),
            p["slug"].as_str().context("product slug")?.to_owned(),
        ));
    }
    Ok((seller, listed))
}
