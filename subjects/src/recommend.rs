//! The recommend domain: "recommended for you", "similar products" and
//! "customers also bought".
//!
//! A collaborative-filtering model is trained offline (`bazaar retrain`),
//! stored versioned in the [`MODELS_BUCKET`] Object Store and named current
//! in the [`MODEL_POINTER_BUCKET`] key-value bucket; every recommend node
//! loads the current model and swaps in a new one when the pointer moves.
//! Answers never hold deleted, unlisted or out-of-stock products, nor what
//! the asking account already bought.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::catalog::ProductSummary;
use crate::{Access, Domain, Endpoint};

/// The Object Store bucket holding trained models, one object per version.
pub const MODELS_BUCKET: &str = "recommender_models";
/// The key-value bucket whose [`CURRENT_MODEL_KEY`] names the model to serve.
pub const MODEL_POINTER_BUCKET: &str = "recommender";
/// The key holding the current model's [`ModelPointer`].
pub const CURRENT_MODEL_KEY: &str = "current";

/// The most products one answer holds.
pub const MAX_RECOMMENDATIONS: u32 = 24;

/// What the pointer to the current model says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ModelPointer {
    /// The model's version: its object name in [`MODELS_BUCKET`].
    pub version: String,
    /// RFC 3339.
    pub trained_at: String,
    /// Precision@10 on the hold-out, and the popularity baseline's.
    pub precision_at_10: f64,
    pub baseline_precision_at_10: f64,
}

/// Recommendations for whoever asks: the signed-in account's own, else
/// (guests, new accounts) the most popular products.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ForYouRequest {
    /// Up to [`MAX_RECOMMENDATIONS`]; 0 means the default (12).
    #[serde(default)]
    pub limit: u32,
}

/// Products like one product (close in the model's item space).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SimilarRequest {
    pub product_id: String,
    #[serde(default)]
    pub limit: u32,
}

/// Products bought together with these (a cart's lines).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AlsoBoughtRequest {
    /// At most 50.
    pub product_ids: Vec<String>,
    #[serde(default)]
    pub limit: u32,
}

/// Where a list of recommendations came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RecommendationSource {
    /// The trained model.
    Model,
    /// Counts of products bought in one order with the asked ones.
    CoPurchase,
    /// The most popular products: no model yet, or nothing known of the
    /// asker or the product.
    Popular,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Recommendations {
    pub items: Vec<ProductSummary>,
    pub source: RecommendationSource,
    /// The model version that answered, when one did.
    pub model_version: Option<String>,
}

/// `recommend.products.for_you`: the asker's recommendations.
pub struct RecommendForYou;
impl Endpoint for RecommendForYou {
    const SUBJECT: &'static str = "recommend.products.for_you";
    const DOMAIN: Domain = Domain::Recommend;
    const ACCESS: Access = Access::Public;
    type Request = ForYouRequest;
    type Reply = Recommendations;
}

/// `recommend.products.similar`: products like one product.
pub struct SimilarProducts;
impl Endpoint for SimilarProducts {
    const SUBJECT: &'static str = "recommend.products.similar";
    const DOMAIN: Domain = Domain::Recommend;
    const ACCESS: Access = Access::Public;
    type Request = SimilarRequest;
    type Reply = Recommendations;
}

/// `recommend.products.also_bought`: customers who bought these also bought.
pub struct AlsoBought;
impl Endpoint for AlsoBought {
    const SUBJECT: &'static str = "recommend.products.also_bought";
    const DOMAIN: Domain = Domain::Recommend;
    const ACCESS: Access = Access::Public;
    type Request = AlsoBoughtRequest;
    type Reply = Recommendations;
}

/// `recommend.model.current`: the model being served, if any (admins).
pub struct GetCurrentModel;
impl Endpoint for GetCurrentModel {
    const SUBJECT: &'static str = "recommend.model.current";
    const DOMAIN: Domain = Domain::Recommend;
    const ACCESS: Access = Access::Admin;
    type Request = crate::Empty;
    type Reply = Option<ModelPointer>;
}
