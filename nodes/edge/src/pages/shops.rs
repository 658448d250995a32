//! Shop pages: the seller's one form (opening the shop, then its settings)
//! and the public shop page with its products and a follow button. Plain
//! HTML forms that work without JavaScript; a refused form comes back with
//! each field's error beside it and what the seller typed still in place.

use std::collections::HashMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use bazaar_runtime::RequestMeta;
use bazaar_subjects::admin::Category;
use bazaar_subjects::auth::Account;
use bazaar_subjects::catalog::{SearchProducts, SortOrder};
use bazaar_subjects::search::SearchCatalog;
use bazaar_subjects::sellers::{self, OpeningHours, Shop, ShopInput, ShopSlug, SocialLink};
use bazaar_subjects::{Empty, ErrorEnvelope};

use crate::api::images::{MAX_IMAGE_BYTES, store_image};
use crate::error::ApiError;
use crate::extract::{Meta, Viewer};
use crate::state::EdgeState;
use crate::ui::chrome::Chrome;
use crate::ui::errors::{PageError, Refusal, Refusals};
use crate::ui::forms::{FieldErrors, read_multipart, reason};

const FORM_PATH: &str = "/seller/shop";
/// Opening times a day the form offers (the API allows two a day too).
const SLOTS: usize = 2;
const MAX_LINKS: usize = 10;
/// Products shown on a shop page.
const SHOP_PAGE_PRODUCTS: u32 = 24;
const DAYS: [(&str, &str); 7] = [
    ("mon", "Monday"),
    ("tue", "Tuesday"),
    ("wed", "Wednesday"),
    ("thu", "Thursday"),
    ("fri", "Friday"),
    ("sat", "Saturday"),
    ("sun", "Sunday"),
];

pub fn routes() -> Router<EdgeState> {
    Router::new()
        .route(
            FORM_PATH,
            get(form_page)
                .post(save)
                .layer(DefaultBodyLimit::max(2 * MAX_IMAGE_BYTES + 256 * 1024)),
        )
        .route("/shops/{slug}", get(shop_page))
        .route("/shops/{slug}/follow", post(follow))
        .route("/shops/{slug}/unfollow", post(unfollow))
}

/// What a buyer is told at the shop form.
const SHOPS_FOR_SELLERS: Refusal = Refusal {
    title: "Shops are for sellers",
    message: "Only seller accounts run a shop. Sign up as a seller (with another email) to open one.",
};

/// The shop form's answer to a refused call: signing in comes back to the
/// form (the link names its path as it is), buyers are told shops are for
/// sellers.
fn refused(e: ErrorEnvelope) -> PageError {
    match PageError::from(e).on_page(FORM_PATH, Refusals::forbidden(SHOPS_FOR_SELLERS)) {
        PageError::SignIn(_) => sign_in_to(FORM_PATH),
        other => other,
    }
}

/// To sign in, and back to `next` (a plain path) after.
fn sign_in_to(next: &str) -> PageError {
    PageError::SignIn(format!("/login?next={next}"))
}

/// One day's row in the form: up to [`SLOTS`] opening times.
struct DayRow {
    day: &'static str,
    label: &'static str,
    slots: Vec<(String, String)>,
}

/// What the form shows: the seller's values, as typed or as stored.
#[derive(Default)]
struct ShopForm {
    name: String,
    bio: String,
    address: String,
    website: String,
    category: String,
    avatar_image: String,
    banner_image: String,
    hours: Vec<(String, String, String)>,
    links: Vec<(String, String)>,
}

impl ShopForm {
    fn from_shop(shop: &Shop) -> Self {
        Self {
            name: shop.name.clone(),
            bio: shop.bio.clone(),
            address: shop.address.clone(),
            website: shop.website.clone().unwrap_or_default(),
            category: shop.category.clone(),
            avatar_image: shop.avatar_image.clone().unwrap_or_default(),
            banner_image: shop.banner_image.clone().unwrap_or_default(),
            hours: shop
                .opening_hours
                .iter()
                .map(|h| (h.day.clone(), h.opens.clone(), h.closes.clone()))
                .collect(),
            links: shop
                .social_links
                .iter()
                .map(|l| (l.network.clone(), l.url.clone()))
                .collect(),
        }
    }

    /// Reads the posted fields (text only; files are handled before).
    fn from_fields(f: &HashMap<String, String>) -> Self {
        let get = |k: &str| f.get(k).cloned().unwrap_or_default();
        let mut hours = Vec::new();
        for (day, _) in DAYS {
            for n in 1..=SLOTS {
                let opens = get(&format!("opens_{day}_{n}"));
                let closes = get(&format!("closes_{day}_{n}"));
                if !opens.trim().is_empty() || !closes.trim().is_empty() {
                    hours.push((day.to_owned(), opens, closes));
                }
            }
        }
        let links = (0..MAX_LINKS)
            .map(|i| (get(&format!("network_{i}")), get(&format!("url_{i}"))))
            .filter(|(n, u)| !n.trim().is_empty() || !u.trim().is_empty())
            .collect();
        Self {
            name: get("name"),
            bio: get("bio"),
            address: get("address"),
            website: get("website"),
            category: get("category"),
            avatar_image: get("avatar_image"),
            banner_image: get("banner_image"),
            hours,
            links,
        }
    }

    fn input(&self) -> ShopInput {
        let opt = |v: &str| Some(v.trim().to_owned()).filter(|v| !v.is_empty());
        ShopInput {
            name: self.name.clone(),
            slug: None,
            bio: self.bio.clone(),
            address: self.address.clone(),
            opening_hours: self
                .hours
                .iter()
                .map(|(day, opens, closes)| OpeningHours {
                    day: day.clone(),
                    opens: opens.clone(),
                    closes: closes.clone(),
                })
                .collect(),
            website: opt(&self.website),
            social_links: self
                .links
                .iter()
                .map(|(network, url)| SocialLink {
                    network: network.clone(),
                    url: url.clone(),
                })
                .collect(),
            category: self.category.clone(),
            avatar_image: opt(&self.avatar_image),
            banner_image: opt(&self.banner_image),
        }
    }

    fn day_rows(&self) -> Vec<DayRow> {
        DAYS.iter()
            .map(|(day, label)| {
                let mut slots: Vec<(String, String)> = self
                    .hours
                    .iter()
                    .filter(|(d, _, _)| d == day)
                    .map(|(_, o, c)| (o.clone(), c.clone()))
                    .take(SLOTS)
                    .collect();
                slots.resize(SLOTS, (String::new(), String::new()));
                DayRow { day, label, slots }
            })
            .collect()
    }

    /// The links plus empty rows to add more (two, up to the limit).
    fn link_rows(&self) -> Vec<(usize, String, String)> {
        let mut rows: Vec<(String, String)> = self.links.iter().take(MAX_LINKS).cloned().collect();
        let want = (rows.len() + 2).clamp(3, MAX_LINKS);
        rows.resize(want, (String::new(), String::new()));
        rows.into_iter()
            .enumerate()
            .map(|(i, (n, u))| (i, n, u))
            .collect()
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "shop_form.html")]
struct ShopFormPage {
    viewer: Option<Account>,
    chrome: Chrome,
    /// The shop being edited; `None` while onboarding.
    shop: Option<Shop>,
    form: ShopForm,
    days: Vec<DayRow>,
    links: Vec<(usize, String, String)>,
    categories: Vec<Category>,
    errors: FieldErrors,
    error: Option<String>,
    notice: Option<String>,
}

impl ShopFormPage {
    fn errors_for(&self, field: &str) -> &[String] {
        self.errors.messages(field)
    }

    fn has_error(&self, field: &str) -> bool {
        self.errors.has(field)
    }
}

#[allow(clippy::too_many_arguments)]
async fn render_form(
    s: &EdgeState,
    meta: &RequestMeta,
    viewer: Option<Account>,
    chrome: Chrome,
    shop: Option<Shop>,
    form: ShopForm,
    failure: Option<ErrorEnvelope>,
    notice: Option<String>,
) -> Response {
    let categories = s
        .categories(meta)
        .await
        .map(|l| l.categories)
        .unwrap_or_default();
    let mut errors = FieldErrors::default();
    let mut error = None;
    let mut status = StatusCode::OK;
    if let Some(e) = failure {
        status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
        errors = FieldErrors::from_envelope(&e);
        error = Some(if e.fields.is_empty() {
            e.message
        } else {
            "Please correct the marked fields.".into()
        });
    }
    let page = ShopFormPage {
        viewer,
        chrome,
        days: form.day_rows(),
        links: form.link_rows(),
        shop,
        form,
        categories,
        errors,
        error,
        notice,
    };
    (status, page).into_response()
}

/// The seller's shop form: onboarding before the shop exists, settings after.
async fn form_page(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Viewer(viewer): Viewer,
    chrome: Chrome,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, PageError> {
    if meta.authorization.is_none() {
        return Err(sign_in_to(FORM_PATH));
    }
    let notice = match (q.contains_key("opened"), q.contains_key("saved")) {
        (true, _) => Some("Your shop is open! Customers can find it now.".to_owned()),
        (_, true) => Some("Saved.".to_owned()),
        _ => None,
    };
    Ok(match s.call::<sellers::GetMyShop>(&meta, &Empty {}).await {
        Ok(shop) => {
            let form = ShopForm::from_shop(&shop);
            render_form(&s, &meta, viewer, chrome, Some(shop), form, None, notice).await
        }
        Err(ApiError(e)) if e.status == 404 => {
            render_form(
                &s,
                &meta,
                viewer,
                chrome,
                None,
                ShopForm::default(),
                None,
                None,
            )
            .await
        }
        Err(ApiError(e)) => return Err(refused(e)),
    })
}

/// A multipart form's text fields, and the image files it carried (stored).
struct Posted {
    fields: HashMap<String, String>,
    avatar: Option<Result<String, ErrorEnvelope>>,
    banner: Option<Result<String, ErrorEnvelope>>,
}

async fn read_form(s: &EdgeState, multipart: Multipart) -> Result<Posted, ApiError> {
    let form = read_multipart(multipart, &["avatar_file", "banner_file"]).await?;
    let mut posted = Posted {
        fields: form.fields.into_iter().collect(),
        avatar: None,
        banner: None,
    };
    for file in form.files {
        let stored = store_image(s, file.bytes, None)
            .await
            .map(|img| img.id)
            .map_err(|e| e.0);
        if file.field == "avatar_file" {
            posted.avatar = Some(stored);
        } else {
            posted.banner = Some(stored);
        }
    }
    Ok(posted)
}

/// An upload's refusal, put on the image field it was for.
fn image_error(field: &str, e: ErrorEnvelope) -> bazaar_subjects::FieldError {
    bazaar_subjects::FieldError {
        field: field.to_owned(),
        message: reason(&e),
    }
}

/// Opens the shop, or saves its settings when it is open already.
async fn save(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Viewer(viewer): Viewer,
    chrome: Chrome,
    multipart: Multipart,
) -> Result<Response, PageError> {
    if meta.authorization.is_none() {
        return Err(sign_in_to(FORM_PATH));
    }
    // Who may post is settled before any upload is read or stored.
    let current = match s.call::<sellers::GetMyShop>(&meta, &Empty {}).await {
        Ok(shop) => Some(shop),
        Err(ApiError(e)) if e.status == 404 => None,
        Err(ApiError(e)) => return Err(refused(e)),
    };
    let posted = match read_form(&s, multipart).await {
        Ok(p) => p,
        Err(e) => {
            let form = current
                .as_ref()
                .map(ShopForm::from_shop)
                .unwrap_or_default();
            return Ok(
                render_form(&s, &meta, viewer, chrome, current, form, Some(e.0), None).await,
            );
        }
    };
    let mut form = ShopForm::from_fields(&posted.fields);
    let mut upload_errors = Vec::new();
    for (field, upload, remove, value) in [
        (
            "avatar_image",
            posted.avatar,
            "avatar_remove",
            &mut form.avatar_image,
        ),
        (
            "banner_image",
            posted.banner,
            "banner_remove",
            &mut form.banner_image,
        ),
    ] {
        match upload {
            Some(Ok(id)) => *value = id,
            Some(Err(e)) => upload_errors.push(image_error(field, e)),
            None if posted.fields.contains_key(remove) => value.clear(),
            None => {}
        }
    }
    if !upload_errors.is_empty() {
        let e = ErrorEnvelope::validation(upload_errors);
        return Ok(render_form(&s, &meta, viewer, chrome, current, form, Some(e), None).await);
    }
    let input = form.input();
    let (result, done) = match &current {
        Some(_) => (
            s.call::<sellers::UpdateMyShop>(&meta, &input).await,
            "saved",
        ),
        None => (s.call::<sellers::CreateShop>(&meta, &input).await, "opened"),
    };
    Ok(match result {
        Ok(_) => Redirect::to(&format!("{FORM_PATH}?{done}=1")).into_response(),
        Err(ApiError(e)) if e.status == 401 => return Err(sign_in_to(FORM_PATH)),
        Err(ApiError(e)) => {
            render_form(&s, &meta, viewer, chrome, current, form, Some(e), None).await
        }
    })
}

/// A product on a shop page.
struct ProductTile {
    slug: String,
    title: String,
    price: String,
    regular_price: Option<String>,
    image: Option<String>,
}

/// One day's opening times, as a line on the shop page.
struct HoursLine {
    label: &'static str,
    times: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "shop.html")]
struct ShopPageView {
    viewer: Option<Account>,
    chrome: Chrome,
    shop: Shop,
    /// The name's first letter, for a shop without an avatar.
    initial: String,
    following: Option<bool>,
    hours: Vec<HoursLine>,
    /// `None` when the catalog did not answer.
    products: Option<Vec<ProductTile>>,
    /// "1000+" past the catalog's count limit; empty when there are none.
    total_products: String,
    reviews: Option<crate::pages::reviews::ReviewsBlock>,
    /// "Usually answers within 2 hours", once a conversation was answered.
    answers: Option<String>,
}

/// How fast the shop answers buyers' questions, in words; `None` before
/// its first answer or when the chat node does not answer.
async fn response_time(
    s: &EdgeState,
    meta: &bazaar_runtime::RequestMeta,
    shop_id: &str,
) -> Option<String> {
    let shop = bazaar_subjects::chat::ShopRef {
        shop_id: shop_id.to_owned(),
    };
    let time = s
        .call::<bazaar_subjects::chat::GetResponseTime>(meta, &shop)
        .await
        .ok()?;
    Some(format!(
        "Usually answers {}",
        answer_time(time.average_secs?)
    ))
}

/// "within a minute", "within 20 minutes", "within 3 hours", "within 2 days".
fn answer_time(secs: i64) -> String {
    let (n, unit) = match secs {
        ..=60 => return "within a minute".to_owned(),
        61..=3_599 => ((secs + 59) / 60, "minute"),
        3_600..=86_399 => ((secs + 3_599) / 3_600, "hour"),
        _ => ((secs + 86_399) / 86_400, "day"),
    };
    format!("within {n} {unit}{}", if n == 1 { "" } else { "s" })
}

fn hours_lines(hours: &[OpeningHours]) -> Vec<HoursLine> {
    DAYS.iter()
        .filter_map(|(day, label)| {
            let times: Vec<String> = hours
                .iter()
                .filter(|h| h.day == *day)
                .map(|h| format!("{}–{}", h.opens, h.closes))
                .collect();
            (!times.is_empty()).then(|| HoursLine {
                label,
                times: times.join(", "),
            })
        })
        .collect()
}

/// A shop's public page.
async fn shop_page(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Viewer(viewer): Viewer,
    chrome: Chrome,
    Path(slug): Path<String>,
) -> Result<Response, PageError> {
    let search = SearchProducts {
        shop: Some(slug.clone()),
        sort: SortOrder::Newest,
        page_size: Some(SHOP_PAGE_PRODUCTS),
        ..Default::default()
    };
    let which = ShopSlug { slug };
    let (page, products) = tokio::join!(
        s.call::<sellers::GetShop>(&meta, &which),
        s.call::<SearchCatalog>(&meta, &search),
    );
    let page = page?;
    let (products, total_products) = match products {
        Ok(results) => (
            Some(
                results
                    .items
                    .into_iter()
                    .map(|p| ProductTile {
                        price: p.price().to_string(),
                        regular_price: (p.regular_price > p.price)
                            .then(|| p.regular_price().to_string()),
                        slug: p.slug,
                        title: p.title,
                        image: p.image,
                    })
                    .collect(),
            ),
            match (results.total, results.total_is_lower_bound) {
                (0, _) => String::new(),
                (n, true) => format!("{n}+"),
                (n, false) => n.to_string(),
            },
        ),
        Err(ApiError(e)) => {
            tracing::warn!(
                status = e.status,
                "shop page without products: the catalog did not answer"
            );
            (None, String::new())
        }
    };
    let reviews = crate::pages::reviews::load(
        &s,
        &meta,
        bazaar_subjects::orders::ReviewTarget::Shop,
        &page.shop.id,
    )
    .await;
    let answers = response_time(&s, &meta, &page.shop.id).await;
    Ok(ShopPageView {
        viewer,
        chrome,
        reviews,
        answers,
        hours: hours_lines(&page.shop.opening_hours),
        initial: page
            .shop
            .name
            .chars()
            .find(|c| c.is_alphanumeric())
            .map(|c| c.to_uppercase().to_string())
            .unwrap_or_default(),
        shop: page.shop,
        following: page.following,
        products,
        total_products,
    }
    .into_response())
}

async fn follow(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Path(slug): Path<String>,
) -> Result<Redirect, PageError> {
    set_following(s, meta, slug, true).await
}

async fn unfollow(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Path(slug): Path<String>,
) -> Result<Redirect, PageError> {
    set_following(s, meta, slug, false).await
}

async fn set_following(
    s: EdgeState,
    meta: RequestMeta,
    slug: String,
    on: bool,
) -> Result<Redirect, PageError> {
    let body = ShopSlug { slug };
    let result = if on {
        s.call::<sellers::FollowShop>(&meta, &body).await
    } else {
        s.call::<sellers::UnfollowShop>(&meta, &body).await
    };
    // The slug is echoed only once the sellers node has found the shop.
    match result {
        Ok(_) => Ok(Redirect::to(&format!("/shops/{}", body.slug))),
        Err(ApiError(e)) if e.status == 401 && is_plain_slug(&body.slug) => {
            Err(sign_in_to(&format!("/shops/{}", body.slug)))
        }
        Err(e) => Err(e.into()),
    }
}

/// Whether a slug can go into a URL as it is.
fn is_plain_slug(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failing test should stop right there
mod tests {
    use super::*;

    #[test]
    fn posted_fields_become_a_shop_input() {
        let fields: HashMap<String, String> = [
            ("name", "Ada's"),
            ("category", "books"),
            ("opens_mon_1", "09:00"),
            ("closes_mon_1", "17:00"),
            ("opens_tue_2", ""),
            ("closes_tue_2", ""),
            ("network_0", "instagram"),
            ("url_0", "https://instagram.com/ada"),
            ("network_1", ""),
            ("url_1", ""),
            ("website", "  "),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let form = ShopForm::from_fields(&fields);
        let input = form.input();
        assert_eq!(input.opening_hours.len(), 1);
        assert_eq!(input.opening_hours[0].day, "mon");
        assert_eq!(input.social_links.len(), 1);
        assert_eq!(input.website, None);
        let rows = form.day_rows();
        assert_eq!(rows[0].slots[0], ("09:00".to_owned(), "17:00".to_owned()));
        assert_eq!(rows[1].slots.len(), SLOTS);
        assert_eq!(form.link_rows().len(), 3);
    }

    #[test]
    fn answer_times_read_like_people_say_them() {
        assert_eq!(answer_time(5), "within a minute");
        assert_eq!(answer_time(61), "within 2 minutes");
        assert_eq!(answer_time(3_600), "within 1 hour");
        assert_eq!(answer_time(7_000), "within 2 hours");
        assert_eq!(answer_time(90_000), "within 2 days");
    }
}
