//! The admin page: the category tree (create, edit name, position and
//! subcategories, delete after a confirmation) and the site's look (name,
//! tagline, logo and banner uploads). Plain HTML forms; a refused form comes
//! back with its errors beside the fields and what was typed kept.
//!
//! The admin node checks every change itself; the page only spares other
//! accounts a form they could not use.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Form, Multipart, Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use bazaar_runtime::RequestMeta;
use bazaar_subjects::ErrorEnvelope;
use bazaar_subjects::admin::{
    self, Category, CategoryInput, CategorySlug, SiteConfig, SiteConfigUpdate,
};
use bazaar_subjects::auth::Account;
use serde::Deserialize;

use crate::api::images::{MAX_IMAGE_BYTES, store_image};
use crate::error::ApiError;
use crate::extract::{Admin, Meta};
use crate::state::EdgeState;
use crate::ui::chrome::Chrome;
use crate::ui::errors::{OnPage, PageError, Refusals};
use crate::ui::forms::{FieldErrors, read_multipart, reason};
use crate::ui::query::{first, is_on, query_pairs};

pub fn routes() -> Router<EdgeState> {
    Router::new()
        .route("/admin", get(page))
        .route("/admin/categories", axum::routing::post(create_category))
        .route(
            "/admin/categories/{slug}",
            axum::routing::post(edit_category),
        )
        .route(
            "/admin/categories/{slug}/delete",
            get(confirm_delete).post(delete_category),
        )
        .route(
            "/admin/site",
            axum::routing::post(update_site)
                .layer(DefaultBodyLimit::max(2 * MAX_IMAGE_BYTES + 256 * 1024)),
        )
}

/// Where signing in comes back to from the admin page and its forms.
const HOME: &str = "/admin";

/// A category form, as typed.
#[derive(Debug, Default, Clone, Deserialize)]
struct CategoryForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    position: String,
    /// One subcategory name per line.
    #[serde(default)]
    subcategories: String,
}

impl CategoryForm {
    fn from_category(c: &Category) -> Self {
        Self {
            name: c.name.clone(),
            position: c.position.to_string(),
            subcategories: c
                .subcategories
                .iter()
                .map(|s| s.name.as_str())
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }

    fn input(&self, slug: Option<String>) -> Result<CategoryInput, ErrorEnvelope> {
        let position = match self.position.trim() {
            "" => None,
            p => Some(p.parse::<i64>().map_err(|_| {
                ErrorEnvelope::validation(vec![bazaar_subjects::FieldError {
                    field: "position".into(),
                    message: "enter a whole number, like 3".into(),
                }])
            })?),
        };
        Ok(CategoryInput {
            slug,
            name: self.name.trim().to_owned(),
            position,
            subcategories: self
                .subcategories
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect(),
        })
    }
}

/// One category's edit form.
struct CategoryRow {
    slug: String,
    form: CategoryForm,
    errors: FieldErrors,
    error: Option<String>,
}

/// The site form, as typed.
#[derive(Default)]
struct SiteForm {
    name: String,
    tagline: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin.html")]
struct AdminPage {
    viewer: Option<Account>,
    chrome: Chrome,
    notice: Option<&'static str>,
    site: SiteConfig,
    site_form: SiteForm,
    site_errors: FieldErrors,
    site_error: Option<String>,
    categories: Vec<CategoryRow>,
    new_category: CategoryForm,
    new_errors: FieldErrors,
    new_error: Option<String>,
}

/// A refused form to show again: which one, what was typed, and why.
enum Refused {
    None,
    New(CategoryForm, ErrorEnvelope),
    Edit(String, CategoryForm, ErrorEnvelope),
    Site(SiteForm, ErrorEnvelope),
}

fn summary(e: &ErrorEnvelope, known: &[&str]) -> (FieldErrors, Option<String>) {
    let errors = FieldErrors::from_envelope(e);
    let message = if errors.is_empty() || errors.any_outside(known) {
        e.message.clone()
    } else {
        "Please correct the marked fields.".to_owned()
    };
    (errors, Some(message))
}

const CATEGORY_FIELDS: [&str; 3] = ["name", "position", "subcategories"];
const SITE_FIELDS: [&str; 4] = ["name", "tagline", "logo_url", "banner_url"];

async fn render(
    s: &EdgeState,
    meta: &RequestMeta,
    viewer: Option<Account>,
    chrome: Chrome,
    notice: Option<&'static str>,
    refused: Refused,
) -> Result<Response, PageError> {
    // The site settings came with the page's chrome.
    let categories = s.categories(meta).await;
    let site = chrome.site.clone()?;
    let categories = categories?.categories;
    let status = match &refused {
        Refused::None => StatusCode::OK,
        Refused::New(_, e) | Refused::Edit(_, _, e) | Refused::Site(_, e) => {
            StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST)
        }
    };
    let mut page = AdminPage {
        viewer,
        chrome,
        notice,
        site_form: SiteForm {
            name: site.name.clone(),
            tagline: site.tagline.clone(),
        },
        site,
        site_errors: FieldErrors::default(),
        site_error: None,
        categories: categories
            .iter()
            .map(|c| CategoryRow {
                slug: c.slug.clone(),
                form: CategoryForm::from_category(c),
                errors: FieldErrors::default(),
                error: None,
            })
            .collect(),
        new_category: CategoryForm::default(),
        new_errors: FieldErrors::default(),
        new_error: None,
    };
    match refused {
        Refused::None => {}
        Refused::New(form, e) => {
            (page.new_errors, page.new_error) = summary(&e, &CATEGORY_FIELDS);
            page.new_category = form;
        }
        Refused::Edit(slug, form, e) => {
            if let Some(row) = page.categories.iter_mut().find(|r| r.slug == slug) {
                (row.errors, row.error) = summary(&e, &CATEGORY_FIELDS);
                row.form = form;
            }
        }
        Refused::Site(form, e) => {
            (page.site_errors, page.site_error) = summary(&e, &SITE_FIELDS);
            page.site_form = form;
        }
    }
    Ok((status, page).into_response())
}

fn notice(key: &str) -> Option<&'static str> {
    Some(match key {
        "category-created" => "Category created.",
        "category-saved" => "Category saved.",
        "category-deleted" => "Category deleted.",
        "site-saved" => "Site settings saved.",
        _ => return None,
    })
}

async fn page(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Admin(viewer): Admin,
    chrome: Chrome,
    RawQuery(raw): RawQuery,
) -> Result<Response, PageError> {
    let notice = notice(&first(&query_pairs(raw.as_deref()), "notice"));
    render(&s, &meta, Some(viewer), chrome, notice, Refused::None).await
}

async fn create_category(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Admin(viewer): Admin,
    chrome: Chrome,
    Form(form): Form<CategoryForm>,
) -> Result<Response, PageError> {
    save_category(&s, &meta, viewer, chrome, None, form).await
}

async fn edit_category(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Admin(viewer): Admin,
    chrome: Chrome,
    Path(slug): Path<String>,
    Form(form): Form<CategoryForm>,
) -> Result<Response, PageError> {
    save_category(&s, &meta, viewer, chrome, Some(slug), form).await
}

/// Creates a category (`slug` is `None`) or saves the one at `slug`; a
/// refused form comes back in its place on the page.
async fn save_category(
    s: &EdgeState,
    meta: &RequestMeta,
    viewer: Account,
    chrome: Chrome,
    slug: Option<String>,
    form: CategoryForm,
) -> Result<Response, PageError> {
    let result = match form.input(slug.clone()) {
        Ok(input) => s
            .call::<admin::UpsertCategory>(meta, &input)
            .await
            .map_err(|e| e.0),
        Err(e) => Err(e),
    };
    let e = match result {
        Ok(_) => {
            let done = if slug.is_some() { "saved" } else { "created" };
            let to = format!("/admin?notice=category-{done}#categories");
            return Ok(Redirect::to(&to).into_response());
        }
        Err(e) if matches!(e.status, 401 | 403) => {
            return Err(PageError::from(e).on_page(HOME, Refusals::NODES));
        }
        Err(e) => e,
    };
    let refused = match slug {
        Some(slug) => Refused::Edit(slug, form, e),
        None => Refused::New(form, e),
    };
    render(s, meta, Some(viewer), chrome, None, refused).await
}

#[derive(Template, WebTemplate)]
#[template(path = "admin_confirm.html")]
struct ConfirmPage {
    viewer: Option<Account>,
    chrome: Chrome,
    category: Category,
}

async fn confirm_delete(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Admin(viewer): Admin,
    chrome: Chrome,
    Path(slug): Path<String>,
) -> Result<Response, PageError> {
    let category = s
        .call::<admin::GetCategory>(&meta, &CategorySlug { slug })
        .await
        .on_page(HOME, Refusals::NODES)?;
    Ok(ConfirmPage {
        viewer: Some(viewer),
        chrome,
        category,
    }
    .into_response())
}

async fn delete_category(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    _: Admin,
    Path(slug): Path<String>,
) -> Result<Redirect, PageError> {
    s.call::<admin::DeleteCategory>(&meta, &CategorySlug { slug })
        .await
        .on_page(HOME, Refusals::NODES)?;
    Ok(Redirect::to("/admin?notice=category-deleted#categories"))
}

/// The site form's fields and its two optional image files (stored).
async fn read_site_form(
    s: &EdgeState,
    multipart: Multipart,
) -> Result<(Vec<(String, String)>, SiteConfigUpdate, FieldErrors), ApiError> {
    let posted = read_multipart(multipart, &["logo_file", "banner_file"]).await?;
    let mut update = SiteConfigUpdate::default();
    let mut errors = FieldErrors::default();
    for file in posted.files {
        let (key, url) = if file.field == "logo_file" {
            ("logo_url", &mut update.logo_url)
        } else {
            ("banner_url", &mut update.banner_url)
        };
        match store_image(s, file.bytes, None).await {
            Ok(img) => *url = Some(img.url),
            Err(ApiError(e)) => errors.add(key, &reason(&e)),
        }
    }
    Ok((posted.fields, update, errors))
}

async fn update_site(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Admin(viewer): Admin,
    chrome: Chrome,
    // Who may post is settled (by `Admin`) before any upload is read.
    multipart: Multipart,
) -> Result<Response, PageError> {
    let (fields, mut update, errors) = match read_site_form(&s, multipart).await {
        Ok(read) => read,
        Err(e) => {
            return render(
                &s,
                &meta,
                Some(viewer),
                chrome,
                None,
                Refused::Site(SiteForm::default(), e.0),
            )
            .await;
        }
    };
    // A field left out of the post leaves that setting as it is.
    let sent = |key: &str| {
        fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.trim().to_owned())
    };
    let (name, tagline) = (sent("name"), sent("tagline"));
    let form = SiteForm {
        name: name.clone().unwrap_or_default(),
        tagline: tagline.clone().unwrap_or_default(),
    };
    if !errors.is_empty() {
        let mut e = ErrorEnvelope::validation(Vec::new());
        for key in ["logo_url", "banner_url"] {
            if let Some(m) = errors.message(key) {
                e.fields.push(bazaar_subjects::FieldError {
                    field: key.into(),
                    message: m.to_owned(),
                });
            }
        }
        return render(
            &s,
            &meta,
            Some(viewer),
            chrome,
            None,
            Refused::Site(form, e),
        )
        .await;
    }
    update.name = name;
    update.tagline = tagline;
    // An empty URL clears the image.
    if update.logo_url.is_none() && is_on(&first(&fields, "remove_logo")) {
        update.logo_url = Some(String::new());
    }
    if update.banner_url.is_none() && is_on(&first(&fields, "remove_banner")) {
        update.banner_url = Some(String::new());
    }
    match s.call::<admin::UpdateSite>(&meta, &update).await {
        Ok(_) => Ok(Redirect::to("/admin?notice=site-saved#site").into_response()),
        Err(e) if matches!(e.0.status, 401 | 403) => {
            Err(PageError::from(e).on_page(HOME, Refusals::NODES))
        }
        Err(e) => {
            render(
                &s,
                &meta,
                Some(viewer),
                chrome,
                None,
                Refused::Site(form, e.0),
            )
            .await
        }
    }
}
