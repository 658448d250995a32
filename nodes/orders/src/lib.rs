//! The orders node: carts, wishlists, discount codes, checkout, payments,
//! orders and their delivery, notifications and reviews.

mod cart;
mod config;
mod coupons;
mod error;
mod store;

pub use config::OrdersConfig;
pub use error::OrdersError;
pub use store::OrdersStore;
