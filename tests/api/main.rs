//! The end-to-end suite, as one test binary: every module starts its own simulator and
//! server on port 0 (see [`common`]), so the modules run side by side.

mod common;

mod admin_page;
mod audit;
mod backup;
mod bounded;
mod cart_recovery;
mod cli;
mod consent;
mod contacts;
mod contract;
mod disk_full;
mod durability;
mod exact_requests;
mod faults;
mod feed_memory;
mod gdpr;
mod health;
mod json_feed;
mod lists;
mod live;
mod member_events;
mod merge_fields;
mod metrics;
mod oauth;
mod operators_doc;
mod properties;
mod push;
mod reconcile;
mod records;
mod server;
mod settings;
mod sim;
mod sim_ecommerce;
mod site_script;
mod subscriptions;
mod tags;
mod tls;
mod torture;
mod upgrade;
mod upload;
mod upload_robust;
