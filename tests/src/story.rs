//! Steps many stories take: open a shop, call the API as someone, read what
//! it answered.

use std::sync::Arc;
use std::time::Duration;

use bazaar_subjects::sellers::Shop;
use bazaar_subjects::{ErrorEnvelope, Role};
use serde_json::{Value, json};

use crate::Platform;

impl Platform {
    /// Opens a shop named `name` in `category` for the seller holding
    /// `token`; the shop as the API returns it.
    pub async fn open_shop(&self, token: &str, name: &str, category: &str) -> Shop {
        let r = self
            .http
            .post(self.url("/api/shops"))
            .bearer_auth(token)
            .json(&json!({ "name": name, "category": category }))
            .send()
            .await
            .expect("request sent");
        let status = r.status();
        let body = r.text().await.unwrap_or_default();
        assert_eq!(status, 201, "{body}");
        serde_json::from_str(&body).expect("a shop")
    }

    /// A made-up seller account (a signed token, no sign-up) with a shop
    /// open in `category`: (token, shop).
    pub async fn seller_with_shop(&self, name: &str, category: &str) -> (String, Shop) {
        let token = self.token(Role::Seller);
        let shop = self.open_shop(&token, name, category).await;
        (token, shop)
    }

    /// A seller who really signed up (what images and emails need), with a
    /// shop open in `category`: (token, shop).
    pub async fn real_seller_with_shop(&self, name: &str, category: &str) -> (String, Shop) {
        let email = format!("{}@example.com", name.to_lowercase().replace(' ', "-"));
        let token = self.sign_up_seller(&email).await;
        let shop = self.open_shop(&token, name, category).await;
        (token, shop)
    }

    /// An account written straight into the database (no password: it
    /// cannot sign in) and a token for it: for load generators that need
    /// thousands of real accounts without thousands of sign-ups.
    pub async fn account(&self, name: &str, role: Role) -> (String, String) {
        let id = uuid::Uuid::now_v7().simple().to_string();
        let role_name = match role {
            Role::Buyer => "buyer",
            Role::Seller => "seller",
            Role::Admin => "admin",
        };
        self.db
            .query("CREATE type::record('account', $id) CONTENT { name: $name, email: $email, role: $role } RETURN NONE")
            .bind(("id", id.clone()))
            .bind(("name", name.to_owned()))
            .bind(("email", format!("{id}@example.com")))
            .bind(("role", role_name))
            .await
            .and_then(|r| r.check())
            .expect("the account is stored");
        let token = self.token_for(&id, role);
        (id, token)
    }

    /// GETs `path` as the holder of `token`, or signed out.
    pub async fn get(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut r = self.http.get(self.url(path));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r.send().await.expect("request sent")
    }

    /// Uploads `bytes` as an image file named `name`, as the holder of
    /// `token` would (`POST /api/images`); the answer as it came.
    pub async fn upload_image(&self, token: &str, bytes: Vec<u8>, name: &str) -> reqwest::Response {
        let form = reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::bytes(bytes).file_name(name.to_owned()),
        );
        self.http
            .post(self.url("/api/images"))
            .bearer_auth(token)
            .multipart(form)
            .send()
            .await
            .expect("request sent")
    }

    /// Calls the API as the holder of `token`, with a JSON body if given.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        let mut r = self.http.request(method, self.url(path)).bearer_auth(token);
        if let Some(b) = body {
            r = r.json(&b);
        }
        r.send().await.expect("request sent")
    }
}

/// A failed answer's status and error envelope; a body that is not an
/// envelope fails the story with the body shown.
pub async fn envelope(r: reqwest::Response) -> (u16, ErrorEnvelope) {
    let status = r.status().as_u16();
    let text = r.text().await.unwrap_or_default();
    let envelope = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("not an error envelope ({e}): {text}"));
    (status, envelope)
}

/// A successful answer's JSON body; any other status fails the story with
/// the body shown.
pub async fn ok_json(r: reqwest::Response) -> Value {
    let status = r.status();
    let text = r.text().await.unwrap_or_default();
    assert!(status.is_success(), "{status}: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// A successful answer read as the contract's reply type `T`, so a story
/// reads fields, not JSON paths, and notices when the wire shape drifts.
pub async fn ok_as<T: serde::de::DeserializeOwned>(r: reqwest::Response) -> T {
    let body = ok_json(r).await;
    let shown = body.to_string();
    serde_json::from_value(body)
        .unwrap_or_else(|e| panic!("not the contract's shape ({e}): {shown}"))
}

/// A browser-like HTTP client for the pages: keeps cookies, shows redirects
/// instead of following them, sends the `Origin` a browser sends with its
/// forms.
pub struct Visitor {
    client: reqwest::Client,
    jar: Arc<reqwest::cookie::Jar>,
    base: String,
}

/// What a page request answered.
pub struct Reply {
    pub status: u16,
    /// Where a redirect points, else empty.
    pub location: String,
    pub html: String,
}

impl Visitor {
    pub fn new(p: &Platform) -> Self {
        let jar = Arc::new(reqwest::cookie::Jar::default());
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .cookie_provider(jar.clone())
            .timeout(Duration::from_secs(30))
            .build()
            .expect("http client");
        Self {
            client,
            jar,
            base: p.url("").trim_end_matches('/').to_owned(),
        }
    }

    /// Signed in as the account holding `token` (the access cookie).
    pub fn sign_in(&self, token: &str) {
        let url: reqwest::Url = self.base.parse().expect("base url");
        self.jar
            .add_cookie_str(&format!("bazaar_access={token}; Path=/"), &url);
    }

    async fn reply(r: reqwest::RequestBuilder) -> Reply {
        let r = r.send().await.expect("request sent");
        let status = r.status().as_u16();
        let location = r
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        Reply {
            status,
            location,
            html: r.text().await.expect("a body"),
        }
    }

    pub async fn get(&self, path: &str) -> Reply {
        Self::reply(self.client.get(format!("{}{path}", self.base))).await
    }

    /// Posts a form from this site's own pages.
    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Reply {
        self.post_from(&self.base.clone(), path, form).await
    }

    /// Posts a form as a page of `origin` would, e.g. another site's.
    pub async fn post_from(&self, origin: &str, path: &str, form: &[(&str, &str)]) -> Reply {
        let r = self
            .client
            .post(format!("{}{path}", self.base))
            .header("origin", origin)
            .form(form);
        Self::reply(r).await
    }

    /// Posts a form with files (`multipart/form-data`) from `origin`.
    pub async fn post_multipart_from(
        &self,
        origin: &str,
        path: &str,
        form: reqwest::multipart::Form,
    ) -> Reply {
        let r = self
            .client
            .post(format!("{}{path}", self.base))
            .header("origin", origin)
            .multipart(form);
        Self::reply(r).await
    }

    /// Posts a form with files from this site's own pages.
    pub async fn post_multipart(&self, path: &str, form: reqwest::multipart::Form) -> Reply {
        self.post_multipart_from(&self.base.clone(), path, form)
            .await
    }

    /// A page that must load.
    pub async fn page(&self, path: &str) -> String {
        let r = self.get(path).await;
        assert_eq!(r.status, 200, "{path}: {} {}", r.location, r.html);
        r.html
    }
}
