//! One async function per endpoint: unpacks the request and asks the store.

use bazaar_runtime::Request;
use bazaar_subjects::Empty;
use bazaar_subjects::console::{AccountId, ModerateRequest};
use bazaar_subjects::sellers::{
    FollowState, OnboardingLink, OwnedShop, PayoutStatus, Shop, ShopCard, ShopCards, ShopId,
    ShopIds, ShopInput, ShopOwner, ShopPage, ShopPayoutAccounts, ShopSlug, TopShopsRequest,
};

use crate::{SellersError, SellersStore};

type Reply<T> = Result<T, SellersError>;

pub(crate) async fn create(s: &SellersStore, req: Request<ShopInput>) -> Reply<Shop> {
    s.create(&req).await
}

pub(crate) async fn mine(s: &SellersStore, req: Request<Empty>) -> Reply<Shop> {
    s.mine(&req.caller).await
}

pub(crate) async fn update(s: &SellersStore, req: Request<ShopInput>) -> Reply<Shop> {
    s.update(&req).await
}

pub(crate) async fn page(s: &SellersStore, req: Request<ShopSlug>) -> Reply<ShopPage> {
    s.page(&req.caller, &req.body.slug).await
}

pub(crate) async fn hide(s: &SellersStore, req: Request<ModerateRequest>) -> Reply<Shop> {
    s.moderate(&req, true).await
}

pub(crate) async fn restore(s: &SellersStore, req: Request<ModerateRequest>) -> Reply<Shop> {
    s.moderate(&req, false).await
}

pub(crate) async fn of_owner(s: &SellersStore, req: Request<AccountId>) -> Reply<OwnedShop> {
    s.of_owner(&req.body).await
}

pub(crate) async fn card(s: &SellersStore, req: Request<ShopId>) -> Reply<ShopCard> {
    s.card(&req.body.id).await
}

pub(crate) async fn follow(s: &SellersStore, req: Request<ShopSlug>) -> Reply<FollowState> {
    s.follow(&req.caller, &req.body.slug, true).await
}

pub(crate) async fn unfollow(s: &SellersStore, req: Request<ShopSlug>) -> Reply<FollowState> {
    s.follow(&req.caller, &req.body.slug, false).await
}

pub(crate) async fn top(s: &SellersStore, req: Request<TopShopsRequest>) -> Reply<ShopCards> {
    s.top(&req.body).await
}

pub(crate) async fn connect_payouts(
    s: &SellersStore,
    req: Request<Empty>,
) -> Reply<OnboardingLink> {
    s.connect_payouts(&req.caller).await
}

pub(crate) async fn payout_status(s: &SellersStore, req: Request<Empty>) -> Reply<PayoutStatus> {
    s.payout_status(&req.caller).await
}

pub(crate) async fn payout_accounts(
    s: &SellersStore,
    req: Request<ShopIds>,
) -> Reply<ShopPayoutAccounts> {
    s.payout_accounts(&req.body).await
}

pub(crate) async fn owner(s: &SellersStore, req: Request<ShopSlug>) -> Reply<ShopOwner> {
    s.owner(&req.body.slug).await
}
