//! Platform tests, one binary (link time): each module is one capability,
//! told as the people who use it meet it.

mod analytics;
mod browser;
mod bus;
mod catalog;
mod chat;
mod commerce;
mod console;
mod email;
mod foundation;
mod fuzz;
mod google;
mod hot_reads;
mod identity;
mod images;
mod logs;
mod metrics;
mod moderation;
mod recommend;
mod reviews;
mod search;
mod security;
mod shopping;
mod shops;
mod storefront;
mod stripe;
mod system;
