//! Reviews on pages: the list (with average and count) that product and
//! shop pages show, and the "Write a review" form on a delivered order's
//! page, which works without JavaScript (POST, then back to the order with
//! a message).

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Form, Router};
use bazaar_runtime::RequestMeta;
use bazaar_subjects::orders::{
    ListReviews, ListTargetReviews, ReviewInput, ReviewTarget, UpsertReview,
};

use crate::error::ApiError;
use crate::extract::{Meta, Viewer};
use crate::state::EdgeState;
use crate::ui::errors::{PageError, error_view};
use crate::ui::query::urlencode;
use crate::ui::redirect::{with_error, with_notice};
use crate::ui::time::human_time;

pub fn routes() -> Router<EdgeState> {
    Router::new().route("/orders/{id}/review", post(write))
}

/// The reviews section of a product or shop page.
pub(crate) struct ReviewsBlock {
    pub average: String,
    pub count: i64,
    pub items: Vec<ReviewItem>,
}

pub(crate) struct ReviewItem {
    pub author: String,
    pub rating: i64,
    pub stars: String,
    pub title: String,
    pub body: String,
    pub date: String,
    pub edited: bool,
}

/// Five stars, `rating` of them filled.
fn stars(rating: i64) -> String {
    let filled = usize::try_from(rating.clamp(0, 5)).unwrap_or(0);
    format!("{}{}", "★".repeat(filled), "☆".repeat(5 - filled))
}

/// The newest reviews of a target; `None` when the orders node did not
/// answer (the page shows without them).
pub(crate) async fn load(
    s: &EdgeState,
    meta: &RequestMeta,
    target: ReviewTarget,
    target_id: &str,
) -> Option<ReviewsBlock> {
    let list = s
        .call::<ListTargetReviews>(
            meta,
            &ListReviews {
                target,
                target_id: target_id.to_owned(),
                page: None,
            },
        )
        .await;
    match list {
        Ok(r) => Some(ReviewsBlock {
            average: format!("{:.1}", r.average),
            count: r.count,
            items: r
                .reviews
                .into_iter()
                .map(|v| ReviewItem {
                    stars: stars(v.rating),
                    edited: v.updated_at.get(..16) != v.created_at.get(..16),
                    date: human_time(&v.created_at),
                    author: v.author_name,
                    rating: v.rating,
                    title: v.title,
                    body: v.body,
                })
                .collect(),
        }),
        Err(ApiError(e)) => {
            tracing::warn!(
                status = e.status,
                "page without reviews: the orders node did not answer"
            );
            None
        }
    }
}

/// Posts the order page's review form: back to the order with a notice,
/// or with why not; unreadable or invalid input gets the error page.
async fn write(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Viewer(viewer): Viewer,
    Path(id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let here = format!("/orders/{}", urlencode(&id));
    if viewer.is_none() {
        return Err(PageError::sign_in(&here));
    }
    let field = |k: &str| form.get(k).map(|v| v.trim().to_owned()).unwrap_or_default();
    let target = match field("target").as_str() {
        "product" => Some(ReviewTarget::Product),
        "shop" => Some(ReviewTarget::Shop),
        _ => None,
    };
    let (Some(target), Ok(rating)) = (target, field("rating").parse::<i64>()) else {
        return Ok(error_view(
            viewer,
            StatusCode::UNPROCESSABLE_ENTITY,
            "That review could not be read",
            "Choose 1 to 5 stars and try again from your order's page.",
        ));
    };
    let input = ReviewInput {
        target,
        target_id: field("target_id"),
        rating,
        title: field("title"),
        body: field("body"),
        images: Vec::new(),
    };
    Ok(match s.call::<UpsertReview>(&meta, &input).await {
        Ok(_) => with_notice(&here, "Thank you: your review is published.").into_response(),
        Err(ApiError(e)) if e.status == 422 => {
            let why: Vec<&str> = e.fields.iter().map(|f| f.message.as_str()).collect();
            let message = if why.is_empty() {
                e.message.clone()
            } else {
                capitalised(&format!("{}.", why.join("; ")))
            };
            error_view(
                viewer,
                StatusCode::UNPROCESSABLE_ENTITY,
                "Please check your review",
                &message,
            )
        }
        Err(ApiError(e)) if matches!(e.status, 403 | 409) => {
            with_error(&here, &e.message).into_response()
        }
        Err(e) => return Err(e.into()),
    })
}

fn capitalised(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stars_fill_up_to_the_rating() {
        assert_eq!(stars(4), "★★★★☆");
        assert_eq!(stars(9), "★★★★★");
    }
}
