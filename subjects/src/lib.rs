//! The wire contract between Bazaar nodes and edges.
//!
//! Every subject a node serves is an [`Endpoint`]: a subject name bound to its
//! request and reply types. Every durable domain event is an [`Event`]: a type
//! bound to its JetStream stream and subject. Failures travel as one
//! [`ErrorEnvelope`]. Nodes and edges only ever talk through these types; no
//! subject string appears anywhere else.

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod admin;
pub mod analytics;
pub mod auth;
pub mod bus;
pub mod catalog;
pub mod chat;
pub mod console;
mod error;
pub mod headers;
pub mod logs;
pub mod mail;
pub mod money;
pub mod orders;
pub mod recommend;
pub mod search;
pub mod sellers;
pub mod socket;
pub mod system;

pub use error::{ErrorCode, ErrorEnvelope, FieldError, Validator};
pub use money::{Currency, Money};

use serde::{Serialize, de::DeserializeOwned};

/// A request/reply subject served by one domain's nodes.
///
/// Subjects read as `<domain>.<resource>.<action>`.
pub trait Endpoint {
    /// The NATS subject, e.g. `admin.categories.list`.
    const SUBJECT: &'static str;
    /// The domain (and NATS service name) that serves it.
    const DOMAIN: Domain;
    /// The minimum role a caller needs; the serving node enforces it.
    const ACCESS: Access;
    type Request: Serialize + DeserializeOwned + Send + Sync + 'static;
    type Reply: Serialize + DeserializeOwned + Send + Sync + 'static;
}

/// A durable domain event carried by JetStream.
///
/// Subjects read as `events.<domain>.<entity>.<happened>`.
pub trait Event: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The JetStream stream that stores it.
    const STREAM: Stream;
    /// The subject it is published on.
    const SUBJECT: &'static str;
}

/// A unit of work queued on JetStream for one domain's nodes to do, exactly
/// once, with retries: `jobs.<domain>.<action>`.
pub trait Job: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The work-queue stream that holds it.
    const STREAM: Stream;
    /// The subject it is queued on.
    const SUBJECT: &'static str;
}

/// A JetStream stream of domain events: one per domain, `events.<domain>.>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stream {
    pub name: &'static str,
    pub subjects: &'static str,
}

/// Who may call an endpoint. Checked by the node that owns the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Access {
    /// Anyone, signed in or not.
    Public,
    /// Any signed-in account.
    Account,
    /// A seller (admins too).
    Seller,
    /// An admin only.
    Admin,
}

/// The roles an account can have.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Buyer,
    Seller,
    Admin,
}

impl Role {
    /// Whether this role satisfies an endpoint's [`Access`].
    pub fn may(self, access: Access) -> bool {
        match access {
            Access::Public | Access::Account => true,
            Access::Seller => matches!(self, Role::Seller | Role::Admin),
            Access::Admin => self == Role::Admin,
        }
    }
}

/// The domains of the platform; each is one NATS service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Domain {
    Auth,
    Catalog,
    Search,
    Orders,
    Sellers,
    Admin,
    Chat,
    Logs,
    Recommend,
    Mail,
    Analytics,
}

impl Domain {
    /// Every domain of the platform, in start order.
    pub const ALL: [Domain; 11] = [
        Domain::Admin,
        Domain::Auth,
        Domain::Mail,
        Domain::Catalog,
        Domain::Search,
        Domain::Sellers,
        Domain::Orders,
        Domain::Chat,
        Domain::Logs,
        Domain::Recommend,
        Domain::Analytics,
    ];

    /// The service name, which is also the first token of its subjects.
    pub const fn name(self) -> &'static str {
        match self {
            Domain::Auth => "auth",
            Domain::Catalog => "catalog",
            Domain::Search => "search",
            Domain::Orders => "orders",
            Domain::Sellers => "sellers",
            Domain::Admin => "admin",
            Domain::Chat => "chat",
            Domain::Logs => "logs",
            Domain::Recommend => "recommend",
            Domain::Mail => "mail",
            Domain::Analytics => "analytics",
        }
    }
}

impl std::fmt::Display for Domain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Domain {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Domain::ALL
            .into_iter()
            .find(|d| d.name() == s)
            .ok_or_else(|| {
                let known: Vec<_> = Domain::ALL.iter().map(|d| d.name()).collect();
                format!("unknown domain `{s}` (known: {})", known.join(", "))
            })
    }
}

/// What image ids look like: `POST /api/images` names each upload with a
/// UUID v7 in its 32-character lowercase hex form.
pub fn is_image_id(id: &str) -> bool {
    id.len() == 32
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A request or reply with no content.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Empty {}

/// The NATS service API's ping subject for a domain (`$SRV.PING.<name>`);
/// every running copy of the domain's node answers it.
pub fn ping_subject(domain: Domain) -> String {
    format!("$SRV.PING.{}", domain.name())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_subject_starts_with_its_domain() {
        fn check<E: Endpoint>() {
            assert!(
                E::SUBJECT.starts_with(&format!("{}.", E::DOMAIN.name())),
                "{} is not under {}",
                E::SUBJECT,
                E::DOMAIN
            );
            assert_eq!(E::SUBJECT.split('.').count(), 3, "{}", E::SUBJECT);
        }
        check::<admin::ListCategories>();
        check::<admin::UpsertCategory>();
        check::<admin::DeleteCategory>();
        check::<admin::GetSite>();
        check::<admin::UpdateSite>();
        check::<admin::GetCategory>();
        check::<mail::ListMailbox>();
        check::<auth::StartRegistration>();
        check::<auth::VerifyRegistration>();
        check::<auth::ResendCode>();
        check::<auth::Login>();
        check::<auth::Refresh>();
        check::<auth::Logout>();
        check::<auth::ForgotPassword>();
        check::<auth::ResetPassword>();
        check::<auth::ChangePassword>();
        check::<auth::GetMe>();
        check::<auth::UpdateMe>();
        check::<auth::ListAddresses>();
        check::<auth::CreateAddress>();
        check::<auth::UpdateAddress>();
        check::<auth::DeleteAddress>();
        check::<auth::AddAdmin>();
        check::<auth::StartGoogleSignIn>();
        check::<auth::FinishGoogleSignIn>();
        check::<sellers::CreateShop>();
        check::<sellers::GetMyShop>();
        check::<sellers::UpdateMyShop>();
        check::<sellers::GetShop>();
        check::<sellers::GetShopCard>();
        check::<sellers::GetShopOwner>();
        check::<auth::GetContact>();
        check::<chat::StartChat>();
        check::<chat::ListChats>();
        check::<chat::ListChatMessages>();
        check::<chat::SendChatMessage>();
        check::<chat::EditChatMessage>();
        check::<chat::DeleteChatMessage>();
        check::<chat::MarkChatRead>();
        check::<chat::ChatTyping>();
        check::<chat::MuteChat>();
        check::<chat::BlockChat>();
        check::<chat::ReportChat>();
        check::<chat::JoinChat>();
        check::<chat::ListChatReports>();
        check::<chat::CatchUpChat>();
        check::<chat::GetResponseTime>();
        check::<chat::AnnouncePresence>();
        check::<sellers::FollowShop>();
        check::<sellers::UnfollowShop>();
        check::<sellers::TopShops>();
        check::<search::SearchCatalog>();
        check::<search::Suggest>();
        check::<catalog::GetShowcase>();
        check::<catalog::GetProduct>();
        check::<catalog::CreateProduct>();
        check::<catalog::EditProduct>();
        check::<catalog::DeleteProduct>();
        check::<catalog::RestoreProduct>();
        check::<catalog::GetMyProduct>();
        check::<catalog::ListMyProducts>();
        check::<catalog::ReserveStock>();
        check::<catalog::ReleaseStock>();
        check::<catalog::RestockItems>();
        check::<catalog::GetProductsByIds>();
        check::<orders::GetCart>();
        check::<orders::AddCartItem>();
        check::<orders::UpdateCartItem>();
        check::<orders::RemoveCartItem>();
        check::<orders::ApplyCartCoupon>();
        check::<orders::MergeGuestCart>();
        check::<orders::GetWishlist>();
        check::<orders::AddWishlistItem>();
        check::<orders::RemoveWishlistItem>();
        check::<orders::CreateCoupon>();
        check::<orders::ListCoupons>();
        check::<orders::DeleteCoupon>();
        check::<orders::PlaceCheckout>();
        check::<orders::GetCheckout>();
        check::<orders::ListMyOrders>();
        check::<orders::GetMyOrder>();
        check::<orders::CancelMyOrder>();
        check::<orders::ListShopOrders>();
        check::<orders::GetShopOrder>();
        check::<orders::AdvanceShopOrder>();
        check::<orders::RefundShopOrder>();
        check::<orders::ListAllOrders>();
        check::<orders::ListNotifications>();
        check::<orders::MarkNotificationsRead>();
        check::<orders::UpsertReview>();
        check::<orders::ListTargetReviews>();
        check::<recommend::RecommendForYou>();
        check::<recommend::SimilarProducts>();
        check::<recommend::AlsoBought>();
        check::<recommend::GetCurrentModel>();
        check::<system::GetSystem>();
        check::<logs::QueryLogs>();
        check::<logs::FollowLogRequest>();
        check::<analytics::GetShopAnalytics>();
        check::<analytics::GetPlatformAnalytics>();
    }

    #[test]
    fn every_event_lives_in_its_stream() {
        fn check<E: Event>() {
            let prefix = E::STREAM.subjects.trim_end_matches('>');
            assert!(E::SUBJECT.starts_with(prefix), "{}", E::SUBJECT);
            assert!(E::SUBJECT.starts_with("events."));
        }
        check::<admin::CategoryChanged>();
        check::<admin::SiteUpdated>();
        check::<sellers::ShopChanged>();
        check::<sellers::ShopFollowed>();
        check::<catalog::ProductChanged>();
        check::<catalog::ProductViewed>();
        check::<catalog::ProductsViewed>();
        check::<catalog::ProductsLoaded>();
        check::<orders::OrderPlaced>();
        check::<orders::OrderPaid>();
        check::<orders::OrderStatusChanged>();
        check::<orders::OrderCancelled>();
        check::<orders::OrderRefunded>();
        check::<orders::CartItemAdded>();
        check::<orders::WishlistItemAdded>();
        check::<orders::ReviewChanged>();
        check::<chat::MessageSent>();
    }

    #[test]
    fn roles_grant_what_they_should() {
        assert!(Role::Buyer.may(Access::Account));
        assert!(!Role::Buyer.may(Access::Seller));
        assert!(!Role::Seller.may(Access::Admin));
        assert!(Role::Admin.may(Access::Seller));
    }

    #[test]
    fn domains_parse_from_their_names() {
        for d in Domain::ALL {
            assert_eq!(d.name().parse::<Domain>(), Ok(d));
        }
        assert!("shop".parse::<Domain>().is_err());
    }
}
