//! A local stand-in for Stripe, speaking its real protocol for the calls
//! Bazaar makes: form-encoded requests with a bearer secret key, Stripe's
//! JSON object shapes and error envelope, `Idempotency-Key` replay, and
//! webhooks signed exactly as Stripe signs them (`Stripe-Signature:
//! t=…,v1=HMAC-SHA256(secret, "{t}.{body}")`). Only the API base URL differs
//! from production.
//!
//! Tests play the buyer and Stripe's side: [`StripeStandIn::pay`] completes
//! a Checkout Session and returns the events Stripe would send, which
//! [`StripeStandIn::deliver`] posts to the edge.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

pub const SECRET_KEY: &str = "sk_test_bazaar_stand_in";
pub const WEBHOOK_SECRET: &str = "whsec_bazaar_stand_in";

#[derive(Default)]
struct Books {
    next: u64,
    sessions: HashMap<String, Value>,
    intents: HashMap<String, Value>,
    accounts: HashMap<String, Value>,
    transfers: Vec<Value>,
    reversals: Vec<Value>,
    refunds: Vec<Value>,
    /// (key, method and path) → the answer first given.
    idempotent: HashMap<(String, String), (u16, Value)>,
    /// Every API call: "METHOD /path".
    calls: Vec<String>,
    /// Paths whose answers wait until the gate opens.
    held: Vec<String>,
}

struct Inner {
    base: String,
    books: Mutex<Books>,
    gate: tokio::sync::Notify,
    http: reqwest::Client,
}

/// The stand-in; clones share it.
#[derive(Clone)]
pub struct StripeStandIn {
    inner: Arc<Inner>,
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn stripe_error(status: StatusCode, kind: &str, message: &str) -> Response {
    (
        status,
        Json(json!({ "error": { "type": kind, "message": message } })),
    )
        .into_response()
}

/// Stripe's form encoding (`a[b][0][c]=v`) as flat keys.
fn form(body: &[u8]) -> HashMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

fn int(f: &HashMap<String, String>, key: &str) -> Option<i64> {
    f.get(key).and_then(|v| v.parse().ok())
}

/// `prefix[k]=v` pairs as an object.
fn map_of(f: &HashMap<String, String>, prefix: &str) -> Value {
    let mut m = serde_json::Map::new();
    for (k, v) in f {
        if let Some(rest) = k.strip_prefix(&format!("{prefix}["))
            && let Some(name) = rest.strip_suffix(']')
            && !name.contains('[')
        {
            m.insert(name.to_owned(), Value::String(v.clone()));
        }
    }
    Value::Object(m)
}

fn list(url: &str, data: Vec<Value>) -> Value {
    json!({ "object": "list", "data": data, "has_more": false, "url": url })
}

impl StripeStandIn {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let me = Self {
            inner: Arc::new(Inner {
                base,
                books: Mutex::new(Books::default()),
                gate: tokio::sync::Notify::new(),
                http: reqwest::Client::new(),
            }),
        };
        let app = Router::new()
            .route("/v1/checkout/sessions", post(create_session))
            .route("/v1/checkout/sessions/{id}", get(get_session))
            .route("/v1/payment_intents/{id}", get(get_intent))
            .route("/v1/accounts", post(create_account))
            .route("/v1/accounts/{id}", get(get_account))
            .route("/v1/account_links", post(create_account_link))
            .route("/v1/transfers", post(create_transfer))
            .route("/v1/transfers/{id}/reversals", post(create_reversal))
            .route("/v1/refunds", post(create_refund))
            .fallback(|| async {
                stripe_error(
                    StatusCode::NOT_FOUND,
                    "invalid_request_error",
                    "Unrecognized request URL",
                )
            })
            .layer(axum::middleware::from_fn_with_state(me.clone(), gatekeeper))
            .with_state(me.clone());
        tokio::spawn(async move {
            axum::serve(listener, app).await.expect("stripe stand-in");
        });
        me
    }

    /// What `BAZAAR_STRIPE_API_BASE` is set to.
    pub fn base_url(&self) -> String {
        self.inner.base.clone()
    }

    fn books(&self) -> std::sync::MutexGuard<'_, Books> {
        self.inner.books.lock().expect("stand-in books")
    }

    fn id(&self, prefix: &str) -> String {
        let mut b = self.books();
        b.next += 1;
        format!(
            "{prefix}_test{:08}{}",
            b.next,
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        )
    }

    fn event(&self, kind: &str, object: Value) -> Value {
        json!({
            "id": self.id("evt"), "object": "event", "api_version": "2025-09-30.clover",
            "created": now(), "livemode": false, "pending_webhooks": 1,
            "request": { "id": null, "idempotency_key": null },
            "type": kind, "data": { "object": object },
        })
    }

    /// Every Checkout Session opened so far.
    pub fn sessions(&self) -> Vec<Value> {
        self.books().sessions.values().cloned().collect()
    }

    /// The Checkout Session opened for one of our checkouts.
    pub fn session_for(&self, checkout_id: &str) -> Option<Value> {
        self.books()
            .sessions
            .values()
            .find(|s| s["client_reference_id"] == checkout_id)
            .cloned()
    }

    pub fn transfers(&self) -> Vec<Value> {
        self.books().transfers.clone()
    }

    pub fn refunds(&self) -> Vec<Value> {
        self.books().refunds.clone()
    }

    pub fn reversals(&self) -> Vec<Value> {
        self.books().reversals.clone()
    }

    pub fn accounts(&self) -> Vec<Value> {
        self.books().accounts.values().cloned().collect()
    }

    /// Every API call made so far, as "METHOD /path".
    pub fn calls(&self) -> Vec<String> {
        self.books().calls.clone()
    }

    /// Answers to paths starting with `prefix` wait until [`Self::open_gate`].
    pub fn hold(&self, prefix: &str) {
        self.books().held.push(prefix.to_owned());
    }

    pub fn open_gate(&self) {
        self.books().held.clear();
        self.inner.gate.notify_waiters();
    }

    /// The buyer pays on the hosted page: the session completes and the
    /// events Stripe sends for it are returned (not yet delivered).
    pub fn pay(&self, session_id: &str) -> Vec<Value> {
        let intent_id = self.id("pi");
        let charge_id = self.id("ch");
        let mut b = self.books();
        let session = b.sessions.get_mut(session_id).expect("no such session");
        let amount = session["amount_total"].as_i64().unwrap_or_default();
        let currency = session["currency"].clone();
        let metadata = session["payment_intent_data_metadata"].clone();
        session["status"] = json!("complete");
        session["payment_status"] = json!("paid");
        session["payment_intent"] = json!(intent_id);
        let session = session.clone();
        let intent = json!({
            "id": intent_id, "object": "payment_intent", "amount": amount,
            "amount_capturable": 0, "amount_received": amount, "capture_method": "automatic_async",
            "confirmation_method": "automatic", "created": now(), "currency": currency,
            "latest_charge": charge_id, "livemode": false, "metadata": metadata,
            "payment_method_types": ["card"], "status": "succeeded",
            "transfer_group": session["client_reference_id"],
        });
        b.intents.insert(intent_id.clone(), intent.clone());
        drop(b);
        let mut public_session = session;
        if let Some(o) = public_session.as_object_mut() {
            o.remove("payment_intent_data_metadata");
        }
        vec![
            self.event("checkout.session.completed", public_session),
            self.event("payment_intent.succeeded", intent),
        ]
    }

    /// The session runs out unpaid.
    pub fn expire(&self, session_id: &str) -> Value {
        let mut b = self.books();
        let session = b.sessions.get_mut(session_id).expect("no such session");
        session["status"] = json!("expired");
        let mut s = session.clone();
        drop(b);
        if let Some(o) = s.as_object_mut() {
            o.remove("payment_intent_data_metadata");
        }
        self.event("checkout.session.expired", s)
    }

    /// The seller finishes Stripe's onboarding: the account can take
    /// transfers; returns the `account.updated` event.
    pub fn finish_onboarding(&self, account_id: &str) -> Value {
        let mut b = self.books();
        let a = b.accounts.get_mut(account_id).expect("no such account");
        a["details_submitted"] = json!(true);
        a["charges_enabled"] = json!(true);
        a["payouts_enabled"] = json!(true);
        a["capabilities"] = json!({ "card_payments": "active", "transfers": "active" });
        let a = a.clone();
        drop(b);
        self.event("account.updated", a)
    }

    /// Posts an event to the edge's webhook, signed as Stripe signs.
    pub async fn deliver(&self, site: &str, event: &Value) -> StatusCode {
        self.deliver_signed(site, event, WEBHOOK_SECRET, now())
            .await
    }

    /// Posts an event signed with any secret at any time (forgeries).
    pub async fn deliver_signed(
        &self,
        site: &str,
        event: &Value,
        secret: &str,
        timestamp: i64,
    ) -> StatusCode {
        let body = serde_json::to_vec(event).expect("event json");
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("hmac key");
        mac.update(format!("{timestamp}.").as_bytes());
        mac.update(&body);
        let signature = hex::encode(mac.finalize().into_bytes());
        let r = self
            .inner
            .http
            .post(format!("{site}/api/webhooks/stripe"))
            .header("content-type", "application/json")
            .header("stripe-signature", format!("t={timestamp},v1={signature}"))
            .body(body)
            .send()
            .await
            .expect("webhook delivery");
        StatusCode::from_u16(r.status().as_u16()).expect("status")
    }
}

/// Checks the secret key, replays idempotent requests, holds gated paths
/// and records every call.
async fn gatekeeper(
    State(me): State<StripeStandIn>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let method = request.method().to_string();
    let path = request.uri().path().to_owned();
    let authorised = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == format!("Bearer {SECRET_KEY}"));
    if !authorised {
        return stripe_error(
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            "Invalid API Key provided",
        );
    }
    let key = request
        .headers()
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(|k| (k.to_owned(), format!("{method} {path}")));
    {
        let mut b = me.books();
        b.calls.push(format!("{method} {path}"));
        if let Some(k) = &key
            && let Some((status, body)) = b.idempotent.get(k)
        {
            let status = StatusCode::from_u16(*status).expect("status");
            return (
                status,
                [("idempotent-replayed", "true")],
                Json(body.clone()),
            )
                .into_response();
        }
    }
    loop {
        let notified = me.inner.gate.notified();
        if !me.books().held.iter().any(|h| path.starts_with(h.as_str())) {
            break;
        }
        notified.await;
    }
    let response = next.run(request).await;
    let Some(k) = key else {
        return response;
    };
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap_or_default();
    let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    if !status.is_server_error() {
        me.books()
            .idempotent
            .insert(k, (status.as_u16(), body.clone()));
    }
    (status, Json(body)).into_response()
}

async fn create_session(State(me): State<StripeStandIn>, body: Bytes) -> Response {
    let f = form(&body);
    if f.get("mode").map(String::as_str) != Some("payment") {
        return stripe_error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "mode must be payment here",
        );
    }
    let mut total = 0;
    let mut currency = None;
    let mut i = 0;
    while let Some(amount) = int(&f, &format!("line_items[{i}][price_data][unit_amount]")) {
        let quantity = int(&f, &format!("line_items[{i}][quantity]")).unwrap_or(1);
        if amount <= 0
            || !f.contains_key(&format!("line_items[{i}][price_data][product_data][name]"))
        {
            return stripe_error(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                "each line needs a name and a positive unit_amount",
            );
        }
        total += amount * quantity;
        currency = f
            .get(&format!("line_items[{i}][price_data][currency]"))
            .cloned();
        i += 1;
    }
    if i == 0 {
        return stripe_error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "line_items is required in payment mode",
        );
    }
    let id = me.id("cs");
    let session = json!({
        "id": id, "object": "checkout.session", "amount_subtotal": total, "amount_total": total,
        "automatic_tax": { "enabled": false, "liability": null, "status": null },
        "cancel_url": f.get("cancel_url"), "client_reference_id": f.get("client_reference_id"),
        "created": now(), "currency": currency, "custom_fields": [],
        "custom_text": { "after_submit": null, "shipping_address": null, "submit": null, "terms_of_service_acceptance": null },
        "customer_email": f.get("customer_email"),
        "expires_at": int(&f, "expires_at").unwrap_or(now() + 86_400), "livemode": false,
        "metadata": map_of(&f, "metadata"), "mode": "payment", "payment_intent": null,
        "payment_method_types": ["card"], "payment_status": "unpaid", "shipping_options": [],
        "status": "open", "success_url": f.get("success_url"),
        "url": format!("{}/c/pay/{id}", me.inner.base),
        "payment_intent_data_metadata": map_of(&f, "payment_intent_data[metadata]"),
        "transfer_group": f.get("payment_intent_data[transfer_group]"),
    });
    me.books().sessions.insert(id, session.clone());
    let mut public = session;
    if let Some(o) = public.as_object_mut() {
        o.remove("payment_intent_data_metadata");
        o.remove("transfer_group");
    }
    Json(public).into_response()
}

async fn get_session(State(me): State<StripeStandIn>, Path(id): Path<String>) -> Response {
    match me.books().sessions.get(&id) {
        Some(s) => {
            let mut s = s.clone();
            if let Some(o) = s.as_object_mut() {
                o.remove("payment_intent_data_metadata");
                o.remove("transfer_group");
            }
            Json(s).into_response()
        }
        None => stripe_error(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            &format!("No such checkout.session: '{id}'"),
        ),
    }
}

async fn get_intent(State(me): State<StripeStandIn>, Path(id): Path<String>) -> Response {
    match me.books().intents.get(&id) {
        Some(pi) => Json(pi.clone()).into_response(),
        None => stripe_error(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            &format!("No such payment_intent: '{id}'"),
        ),
    }
}

async fn create_account(State(me): State<StripeStandIn>, body: Bytes) -> Response {
    let f = form(&body);
    if f.get("type").map(String::as_str) != Some("express") {
        return stripe_error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "type must be express here",
        );
    }
    let id = me.id("acct");
    let account = json!({
        "id": id, "object": "account", "type": "express", "country": f.get("country"),
        "email": f.get("email"), "created": now(), "charges_enabled": false,
        "payouts_enabled": false, "details_submitted": false,
        "metadata": map_of(&f, "metadata"),
        "capabilities": { "card_payments": "inactive", "transfers": "inactive" },
    });
    me.books().accounts.insert(id, account.clone());
    Json(account).into_response()
}

async fn get_account(State(me): State<StripeStandIn>, Path(id): Path<String>) -> Response {
    match me.books().accounts.get(&id) {
        Some(a) => Json(a.clone()).into_response(),
        None => stripe_error(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            &format!("No such account: '{id}'"),
        ),
    }
}

async fn create_account_link(State(me): State<StripeStandIn>, body: Bytes) -> Response {
    let f = form(&body);
    let Some(account) = f
        .get("account")
        .filter(|a| me.books().accounts.contains_key(*a))
    else {
        return stripe_error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "No such account",
        );
    };
    if f.get("type").map(String::as_str) != Some("account_onboarding")
        || !f.contains_key("refresh_url")
        || !f.contains_key("return_url")
    {
        return stripe_error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "type, refresh_url and return_url are required",
        );
    }
    Json(json!({
        "object": "account_link", "created": now(), "expires_at": now() + 300,
        "url": format!("{}/setup/e/{account}/{}", me.inner.base, uuid::Uuid::new_v4().simple()),
    }))
    .into_response()
}

async fn create_transfer(State(me): State<StripeStandIn>, body: Bytes) -> Response {
    let f = form(&body);
    let (Some(amount), Some(currency), Some(destination)) =
        (int(&f, "amount"), f.get("currency"), f.get("destination"))
    else {
        return stripe_error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "amount, currency and destination are required",
        );
    };
    let ready = me
        .books()
        .accounts
        .get(destination)
        .is_some_and(|a| a["payouts_enabled"] == true);
    if !ready || amount <= 0 {
        return stripe_error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "the destination cannot receive transfers, or the amount is not positive",
        );
    }
    let id = me.id("tr");
    let transfer = json!({
        "id": id, "object": "transfer", "amount": amount, "amount_reversed": 0,
        "created": now(), "currency": currency, "destination": destination, "livemode": false,
        "metadata": {}, "reversals": list(&format!("/v1/transfers/{id}/reversals"), vec![]),
        "reversed": false, "source_transaction": f.get("source_transaction"),
        "transfer_group": f.get("transfer_group"),
    });
    me.books().transfers.push(transfer.clone());
    Json(transfer).into_response()
}

async fn create_reversal(
    State(me): State<StripeStandIn>,
    Path(transfer_id): Path<String>,
    body: Bytes,
) -> Response {
    let f = form(&body);
    let mut b = me.books();
    let Some(t) = b.transfers.iter_mut().find(|t| t["id"] == transfer_id) else {
        return stripe_error(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            "No such transfer",
        );
    };
    let left = t["amount"].as_i64().unwrap_or(0) - t["amount_reversed"].as_i64().unwrap_or(0);
    let amount = int(&f, "amount").unwrap_or(left);
    if amount <= 0 || amount > left {
        return stripe_error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "amount is larger than what is left of the transfer",
        );
    }
    t["amount_reversed"] = json!(t["amount_reversed"].as_i64().unwrap_or(0) + amount);
    let currency = t["currency"].clone();
    drop(b);
    let reversal = json!({
        "id": me.id("trr"), "object": "transfer_reversal", "amount": amount, "created": now(),
        "currency": currency, "transfer": transfer_id, "metadata": {},
    });
    me.books().reversals.push(reversal.clone());
    Json(reversal).into_response()
}

async fn create_refund(State(me): State<StripeStandIn>, body: Bytes) -> Response {
    let f = form(&body);
    let Some(intent_id) = f.get("payment_intent") else {
        return stripe_error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "payment_intent is required",
        );
    };
    let mut b = me.books();
    let Some(pi) = b.intents.get(intent_id) else {
        return stripe_error(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            "No such payment_intent",
        );
    };
    let received = pi["amount_received"].as_i64().unwrap_or(0);
    let currency = pi["currency"].clone();
    let refunded: i64 = b
        .refunds
        .iter()
        .filter(|r| r["payment_intent"] == intent_id.as_str())
        .filter_map(|r| r["amount"].as_i64())
        .sum();
    let amount = int(&f, "amount").unwrap_or(received - refunded);
    if amount <= 0 || refunded + amount > received {
        return stripe_error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "Refund amount is greater than unrefunded amount on charge",
        );
    }
    b.next += 1;
    let refund = json!({
        "id": format!("re_test{:08}", b.next), "object": "refund", "amount": amount,
        "created": now(), "currency": currency, "payment_intent": intent_id, "status": "succeeded",
        "metadata": {},
    });
    b.refunds.push(refund.clone());
    Json(refund).into_response()
}
