//! The simulator over HTTP, as any Mailchimp client would see it.

use crate::common;

use std::time::Duration;

use common::*;
use mcsync::sim::{self, SimConfig, SimStats};
use serde_json::{Value, json};

async fn start(config: SimConfig) -> sim::SimHandle {
    sim::start(
        config,
        tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
    )
    .unwrap()
}

fn http() -> reqwest::Client {
    mcsync::mailchimp::install_crypto_provider();
    reqwest::Client::new()
}

async fn get(sim: &sim::SimHandle, path: &str, key: &str) -> (u16, String, Value) {
    let r = http()
        .get(format!("{}{path}", sim.base_url()))
        .basic_auth("any", Some(key))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let ctype = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, ctype, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_wrong_key_gets_a_401_problem_document() {
    let sim = start(sim_config(1)).await;
    let (status, ctype, body) = get(&sim, "/ping", KEY_UNKNOWN).await;
    assert_eq!(status, 401);
    assert!(ctype.starts_with("application/problem+json"), "{ctype}");
    assert_eq!(body["title"], "API Key Invalid");
    assert_eq!(body["status"], 401);
    assert!(
        body["type"]
            .as_str()
            .unwrap()
            .starts_with("https://mailchimp.com/")
    );
    assert!(!body["instance"].as_str().unwrap().is_empty());

    let r = http()
        .get(format!("{}/ping", sim.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "no credentials at all");
    let (status, _, body) = get(&sim, "/ping", KEY_DISABLED).await;
    assert_eq!(
        (status, body["title"].as_str().unwrap()),
        (403, "User Disabled")
    );
    let (status, _, body) = get(&sim, "/ping", KEY_A).await;
    assert_eq!(
        (status, body["health_status"].as_str().unwrap()),
        (200, "Everything's Chimpy!")
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn collections_page_with_count_and_offset_and_check_their_limits() {
    let sim = start(sim_config(25)).await;
    let (_, _, page) = get(&sim, "/lists", KEY_A).await;
    assert_eq!(
        page["lists"].as_array().unwrap().len(),
        10,
        "default count is 10"
    );
    assert_eq!(page["total_items"], 25);
    let (_, _, page) = get(&sim, "/lists?count=10&offset=20", KEY_A).await;
    assert_eq!(page["lists"].as_array().unwrap().len(), 5);
    let (status, _, body) = get(&sim, "/lists?count=1001", KEY_A).await;
    assert_eq!(status, 400);
    assert_eq!(body["errors"][0]["field"], "count");
    let (status, _, _) = get(&sim, "/lists?offset=abc", KEY_A).await;
    assert_eq!(status, 400);
    let (status, _, body) = get(&sim, "/lists/nope", KEY_A).await;
    assert_eq!(
        (status, body["title"].as_str().unwrap()),
        (404, "Resource Not Found")
    );
    let (status, _, _) = get(&sim, "/no/such/route", KEY_A).await;
    assert_eq!(status, 404);
    sim.shutdown().await;
}

#[tokio::test]
async fn more_than_max_connections_in_flight_get_429() {
    let sim = start(SimConfig {
        latency: Duration::from_millis(200),
        max_connections: 10,
        ..sim_config(1)
    })
    .await;
    let url = format!("{}/ping", sim.base_url());
    let calls = (0..15).map(|_| {
        let url = url.clone();
        async move {
            http()
                .get(url)
                .basic_auth("x", Some(KEY_A))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    });
    let mut statuses = Vec::new();
    let handles: Vec<_> = calls.map(tokio::spawn).collect();
    for h in handles {
        statuses.push(h.await.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        10,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        5,
        "{statuses:?}"
    );

    let stats: SimStats = http()
        .get(format!("http://{}/__sim/stats", sim.addr))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats.rejected.get(&429), Some(&5));
    assert_eq!(stats.over_connection_limit, 5);
    assert_eq!(stats.count("GET /3.0/ping"), 15);
    assert!(stats.max_in_flight >= 11);
    sim.shutdown().await;
}

#[tokio::test]
async fn fail_rate_injects_429_500_and_503() {
    let sim = start(SimConfig {
        fail_rate: 1.0,
        ..sim_config(1)
    })
    .await;
    for _ in 0..12 {
        let (status, ctype, body) = get(&sim, "/ping", KEY_A).await;
        assert!([429, 500, 503].contains(&status), "{status}");
        assert!(ctype.starts_with("application/problem+json"));
        assert_eq!(body["status"], status);
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn members_upsert_by_hash_and_validate_their_body() {
    let sim = start(sim_config(1)).await;
    let list = &sim.list_ids(KEY_A)[0];
    let email = "Urist.McVankab@freddiesjokes.com";
    let url = format!(
        "{}/lists/{list}/members/62eeb292278cc15f5817cb78f7790b08",
        sim.base_url()
    );
    let put = |body: Value| {
        let url = url.clone();
        async move {
            let r = http()
                .put(url)
                .basic_auth("x", Some(KEY_A))
                .json(&body)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let (status, body) = put(json!({"email_address": email})).await;
    assert_eq!(status, 400);
    assert_eq!(body["title"], "Invalid Resource");
    assert_eq!(body["errors"][0]["field"], "status_if_new");

    let r = http()
        .put(&url)
        .basic_auth("x", Some(KEY_A))
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    let (status, body) = put(json!({"email_address": email, "status_if_new": "pending", "merge_fields": {"FNAME": "Urist"}})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "pending");
    assert_eq!(body["merge_fields"]["FNAME"], "Urist");
    assert_eq!(
        sim.member_status(KEY_A, list, email).as_deref(),
        Some("pending")
    );

    let (_, fetched, _) = {
        let r = http()
            .get(&url)
            .basic_auth("x", Some(KEY_A))
            .send()
            .await
            .unwrap();
        (r.status(), r.json::<Value>().await.unwrap(), ())
    };
    assert_eq!(fetched["email_address"], email);
    sim.shutdown().await;
}
