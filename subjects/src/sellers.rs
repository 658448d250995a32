//! The sellers domain: shops, their public pages, followers and rankings.
//!
//! A verified seller owns exactly one shop. The sellers node owns the `shop`
//! and `follow` tables; other nodes ask it about shops through these subjects.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{Access, Domain, Empty, Endpoint, Event, Job, Stream};

/// Every sellers event: `events.sellers.>`.
pub const EVENTS: Stream = Stream {
    name: "SELLERS_EVENTS",
    subjects: "events.sellers.>",
};

/// Work for the sellers nodes (a work queue: each job done once).
pub const JOBS: Stream = Stream {
    name: "SELLERS_JOBS",
    subjects: "jobs.sellers.>",
};

/// A link to the shop elsewhere, e.g. `{network: "instagram", url: "https://…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SocialLink {
    pub network: String,
    pub url: String,
}

/// When the shop is open on one day of the week.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OpeningHours {
    /// `mon` … `sun`.
    pub day: String,
    /// `HH:MM`, 24-hour.
    pub opens: String,
    pub closes: String,
}

/// What a seller fills in to create or edit their shop.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ShopInput {
    /// 1–80 characters once trimmed, one line.
    #[schema(
        max_length = 80,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub name: String,
    /// Derived from the name when absent; fixed once the shop exists.
    #[serde(default)]
    pub slug: Option<String>,
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub bio: String,
    /// Text and line breaks, at most 300 characters.
    #[serde(default)]
    #[schema(max_length = 300)]
    pub address: String,
    /// At most 14 (two a day).
    #[serde(default)]
    #[schema(max_items = 14)]
    pub opening_hours: Vec<OpeningHours>,
    /// An http(s) address, or empty.
    #[serde(default)]
    #[schema(max_length = 2048)]
    pub website: Option<String>,
    #[serde(default)]
    #[schema(max_items = 10)]
    pub social_links: Vec<SocialLink>,
    /// A category slug from the admin-managed list.
    pub category: String,
    /// Image ids from `POST /api/images`.
    #[serde(default)]
    pub avatar_image: Option<String>,
    #[serde(default)]
    pub banner_image: Option<String>,
}

/// A shop as its page shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Shop {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub bio: String,
    pub address: String,
    pub opening_hours: Vec<OpeningHours>,
    pub website: Option<String>,
    pub social_links: Vec<SocialLink>,
    pub category: String,
    pub avatar_image: Option<String>,
    pub banner_image: Option<String>,
    pub followers: i64,
    pub sales: i64,
    pub rating_avg: f64,
    pub rating_count: i64,
    /// RFC 3339.
    pub created_at: String,
    /// When an admin hid it (RFC 3339): buyers see neither it nor its
    /// products; its owner and admins still do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hidden_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hidden_reason: Option<String>,
}

/// The shop an account owns, if any (for admins).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct OwnedShop {
    pub shop: Option<Shop>,
}

/// The small card a shop appears as on product pages and rankings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ShopCard {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub avatar_image: Option<String>,
    pub followers: i64,
    pub sales: i64,
    pub rating_avg: f64,
    pub rating_count: i64,
}

/// A public shop page: the shop and whether the caller follows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ShopPage {
    pub shop: Shop,
    /// Absent when nobody is signed in.
    pub following: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ShopSlug {
    pub slug: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ShopId {
    pub id: String,
}

/// After following or unfollowing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FollowState {
    pub following: bool,
    pub followers: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TopShopsRequest {
    /// 1–50, default 10.
    #[serde(default)]
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ShopCards {
    pub shops: Vec<ShopCard>,
}

/// `sellers.shop.create`: a seller opens their one shop.
pub struct CreateShop;
impl Endpoint for CreateShop {
    const SUBJECT: &'static str = "sellers.shop.create";
    const DOMAIN: Domain = Domain::Sellers;
    const ACCESS: Access = Access::Seller;
    type Request = ShopInput;
    type Reply = Shop;
}

/// `sellers.shop.mine`: the caller's shop, or `not_found` before onboarding.
pub struct GetMyShop;
impl Endpoint for GetMyShop {
    const SUBJECT: &'static str = "sellers.shop.mine";
    const DOMAIN: Domain = Domain::Sellers;
    const ACCESS: Access = Access::Seller;
    type Request = Empty;
    type Reply = Shop;
}

/// `sellers.shop.update`: a seller edits their own shop (the slug stays).
pub struct UpdateMyShop;
impl Endpoint for UpdateMyShop {
    const SUBJECT: &'static str = "sellers.shop.update";
    const DOMAIN: Domain = Domain::Sellers;
    const ACCESS: Access = Access::Seller;
    type Request = ShopInput;
    type Reply = Shop;
}

/// `sellers.shop.get`: a public shop page by slug.
pub struct GetShop;
impl Endpoint for GetShop {
    const SUBJECT: &'static str = "sellers.shop.get";
    const DOMAIN: Domain = Domain::Sellers;
    const ACCESS: Access = Access::Public;
    type Request = ShopSlug;
    type Reply = ShopPage;
}

/// `sellers.shop.card`: a shop's card by id (product pages show it).
pub struct GetShopCard;
impl Endpoint for GetShopCard {
    const SUBJECT: &'static str = "sellers.shop.card";
    const DOMAIN: Domain = Domain::Sellers;
    const ACCESS: Access = Access::Public;
    type Request = ShopId;
    type Reply = ShopCard;
}

/// `sellers.shop.owner`: a shop and the account that runs it, by slug. Node
/// to node only (the chat node routes a buyer's question to the seller):
/// the edge routes no path to it.
pub struct GetShopOwner;
impl Endpoint for GetShopOwner {
    const SUBJECT: &'static str = "sellers.shop.owner";
    const DOMAIN: Domain = Domain::Sellers;
    const ACCESS: Access = Access::Public;
    type Request = ShopSlug;
    type Reply = ShopOwner;
}

/// A shop's identity and its owner's account id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ShopOwner {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub owner: String,
}

/// `sellers.shop.follow`: the caller follows a shop (idempotent).
pub struct FollowShop;
impl Endpoint for FollowShop {
    const SUBJECT: &'static str = "sellers.shop.follow";
    const DOMAIN: Domain = Domain::Sellers;
    const ACCESS: Access = Access::Account;
    type Request = ShopSlug;
    type Reply = FollowState;
}

/// `sellers.shop.unfollow`: the caller stops following (idempotent).
pub struct UnfollowShop;
impl Endpoint for UnfollowShop {
    const SUBJECT: &'static str = "sellers.shop.unfollow";
    const DOMAIN: Domain = Domain::Sellers;
    const ACCESS: Access = Access::Account;
    type Request = ShopSlug;
    type Reply = FollowState;
}

/// `sellers.shops.top`: the best shops, by sales, then rating, then followers.
pub struct TopShops;
impl Endpoint for TopShops {
    const SUBJECT: &'static str = "sellers.shops.top";
    const DOMAIN: Domain = Domain::Sellers;
    const ACCESS: Access = Access::Public;
    type Request = TopShopsRequest;
    type Reply = ShopCards;
}

/// `events.sellers.shop.changed`: a shop was created or edited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShopChanged {
    pub shop_id: String,
    pub slug: String,
    pub name: String,
    pub owner_id: String,
    /// Whether an admin has hidden it: its products are then not live.
    #[serde(default)]
    pub hidden: bool,
}
impl Event for ShopChanged {
    const STREAM: Stream = EVENTS;
    const SUBJECT: &'static str = "events.sellers.shop.changed";
}

/// `events.sellers.shop.followed`: someone followed (or unfollowed) a shop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShopFollowed {
    pub shop_id: String,
    pub account_id: String,
    pub following: bool,
}
impl Event for ShopFollowed {
    const STREAM: Stream = EVENTS;
    const SUBJECT: &'static str = "events.sellers.shop.followed";
}

/// Where a seller stands with card payments (Stripe Connect).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PayoutStatus {
    /// Whether this site takes card payments through Stripe at all.
    pub stripe_available: bool,
    /// The shop has a connected Stripe account (onboarding started).
    pub connected: bool,
    /// Stripe lets the account receive its share: the shop sells by card.
    pub ready: bool,
}

/// A Stripe onboarding page to send the seller to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OnboardingLink {
    pub url: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ShopIds {
    /// At most 100.
    pub ids: Vec<String>,
}

/// Where a shop's share of a card payment goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ShopPayoutAccount {
    pub shop_id: String,
    /// The connected account; only set once it is ready for transfers.
    pub stripe_account: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ShopPayoutAccounts {
    pub shops: Vec<ShopPayoutAccount>,
}

/// `sellers.payouts.connect`: opens (once) the shop's Stripe account and
/// returns a fresh onboarding link.
pub struct ConnectPayouts;
impl Endpoint for ConnectPayouts {
    const SUBJECT: &'static str = "sellers.payouts.connect";
    const DOMAIN: Domain = Domain::Sellers;
    const ACCESS: Access = Access::Seller;
    type Request = Empty;
    type Reply = OnboardingLink;
}

/// `sellers.payouts.status`: the caller's shop's card-payment state, asked
/// of Stripe afresh while onboarding is unfinished.
pub struct GetPayoutStatus;
impl Endpoint for GetPayoutStatus {
    const SUBJECT: &'static str = "sellers.payouts.status";
    const DOMAIN: Domain = Domain::Sellers;
    const ACCESS: Access = Access::Seller;
    type Request = Empty;
    type Reply = PayoutStatus;
}

/// `sellers.payouts.accounts`: which of these shops can be paid by card,
/// and where (for carts and checkout).
pub struct GetPayoutAccounts;
impl Endpoint for GetPayoutAccounts {
    const SUBJECT: &'static str = "sellers.payouts.accounts";
    const DOMAIN: Domain = Domain::Sellers;
    const ACCESS: Access = Access::Public;
    type Request = ShopIds;
    type Reply = ShopPayoutAccounts;
}

/// `jobs.sellers.stripe_account`: Stripe said a connected account changed
/// (`account.updated`, verified by the edge); the sellers node asks Stripe
/// for its state and records whether the shop can sell by card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StripeAccountChanged {
    pub event_id: String,
    pub account_id: String,
}

impl Job for StripeAccountChanged {
    const STREAM: Stream = JOBS;
    const SUBJECT: &'static str = "jobs.sellers.stripe_account";
}
