//! The reference admin page and storefront (clients/php/examples/admin) in a real browser, as a
//! merchant and a shopper use them, against a real mcsync and the simulator: connect, a field
//! error next to its field, the analytics switch, select a list, the dry run, an upload whose
//! bars move to 100 %, sync errors and Retry failed, Update store data, a store audit that
//! repaired what was deleted in Mailchimp, and the newsletter at
//! checkout as checkboxes and as a select box.
//!
//! Screenshots go to target/screenshots; with `MCSYNC_UPDATE_DOCS=1` also to docs/screenshots,
//! which README.md shows.

use crate::common;

use std::time::Duration;

use common::browser::{Browser, php_server};
use common::shop::*;
use common::*;
use mcsync::proto::v1::{self as pb, record::Record as R};
use mcsync::testdata;

fn screenshot_paths(name: &str) -> Vec<std::path::PathBuf> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut paths = vec![root.join("target/screenshots").join(name)];
    if std::env::var_os("MCSYNC_UPDATE_DOCS").is_some() {
        paths.push(root.join("docs/screenshots").join(name));
    }
    paths
}

async fn snap(browser: &Browser, name: &str) {
    for path in screenshot_paths(name) {
        browser.screenshot(&path).await;
    }
}

/// The reference admin page and storefront, served by `php -S` against `app` (through the
/// Composer package's autoloader when `MCSYNC_AUTOLOAD` says where it is).
async fn admin_site(app: &TestApp) -> (common::browser::Killed, String) {
    admin_site_with(app, &[]).await
}

/// [`admin_site`] with more of the pages' environment (`MCSYNC_ADMIN_PASSWORD`).
async fn admin_site_with(
    app: &TestApp,
    more: &[(&'static str, &str)],
) -> (common::browser::Killed, String) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("clients/php/examples/admin");
    let mut env = vec![
        ("MCSYNC_URL", format!("http://{}", app.addr())),
        ("MCSYNC_TOKEN", TOKEN.to_owned()),
    ];
    env.extend(more.iter().map(|(k, v)| (*k, (*v).to_owned())));
    if let Ok(autoload) = std::env::var("MCSYNC_AUTOLOAD") {
        env.push(("MCSYNC_AUTOLOAD", autoload));
    }
    php_server(&root, &env).await
}

async fn flash(browser: &Browser) -> String {
    if browser.count(".flash").await == 0 {
        let errors = if browser.count(".error").await > 0 {
            browser.text(".error").await
        } else {
            String::new()
        };
        let page = browser.eval("return document.body.innerText").await;
        snap(browser, "failure.png").await;
        panic!("no confirmation on the page; errors: {errors}\n{page}");
    }
    browser.text(".flash").await
}

#[tokio::test]
async fn a_merchant_sets_up_and_uploads_from_the_admin_page_and_a_shopper_subscribes() {
    let app = spawn_app_with(
        mcsync::sim::SimConfig {
            latency: Duration::from_millis(40),
            ..sim_config(2)
        },
        1,
    )
    .await;
    // The shop's records arrive through its hooks (PushRecords), not through this page.
    small_shop(&app).await;
    let more: Vec<pb::Record> = (30..300)
        .map(|i| testdata::record(R::Product(testdata::product(i))))
        .collect();
    app.records()
        .push_records(tokio_stream::iter(more))
        .await
        .unwrap();
    // Mailchimp fails one product until told otherwise: it becomes a sync error.
    app.sim.poison("p20");

    let (_php, site) = admin_site(&app).await;
    let browser = Browser::start(1200, 1400).await;
    let admin = format!("{site}/admin.php");

    // Connect: a malformed key is refused next to the key field, a good one connects.
    browser.open(&admin).await;
    snap(&browser, "admin-1-connect.png").await;
    browser.fill("#api_key", "not-a-key").await;
    browser.submit("#connect").await;
    let error = browser.text(".field-error[data-field='api_key']").await;
    assert!(error.contains("data center"), "{error}");
    browser.fill("#api_key", KEY_A).await;
    browser.submit("#connect").await;
    assert!(flash(&browser).await.contains("Connected to Mailchimp"));
    let masked = browser.text("#api-key-masked").await;
    assert!(
        masked.ends_with(&KEY_A[KEY_A.len() - 8..]) && !masked.contains(&KEY_A[..8]),
        "{masked}"
    );
    assert_eq!(
        browser.count("#list_update_interval option").await,
        14,
        "every interval of the seed"
    );
    assert!(browser.displayed("#single-opt-in-warning").await);

    // Company details: a bad email is refused next to the email field; fixed, it saves.
    let base = format!("http://{}", app.addr());
    for (field, value) in [
        // The storefront is this PHP site: Mailchimp checks its site script there.
        ("#shop_url", site.as_str()),
        ("#company_name", "Acme Outdoor"),
        ("#email", "orders-at-acme"),
        ("#currency_code", "USD"),
        ("#country_code", "US"),
        ("#webhook_base_url", base.as_str()),
    ] {
        browser.fill(field, value).await;
    }
    browser.submit("#save").await;
    let error = browser.text(".field-error[data-field='shop.email']").await;
    assert!(error.contains("email"), "{error}");
    snap(&browser, "admin-2-field-error.png").await;
    browser.fill("#email", "orders@acme.example").await;
    browser.click("#abandoned_carts").await;
    browser.submit("#save").await;
    assert_eq!(flash(&browser).await, "Settings saved.");

    // The analytics switch hides and shows the setup section.
    assert!(browser.displayed("#ecommerce-setup").await);
    browser.click("#ecommerce_analytics").await;
    assert!(!browser.displayed("#ecommerce-setup").await);
    browser.click("#ecommerce_analytics").await;
    assert!(browser.displayed("#ecommerce-setup").await);

    // Select the first audience and Update.
    let list = app.sim.list_ids(KEY_A)[0].clone();
    browser.click(&format!("#list-{list}")).await;
    browser.submit("#update-lists").await;
    assert!(
        flash(&browser)
            .await
            .contains("lists for Mailchimp Stores are saved")
    );

    // The dry run: a plan, nothing sent.
    browser.submit("#plan").await;
    assert!(browser.count("#plan-result tbody tr").await >= 4);
    // What the upload adds to the merchant's Mailchimp bill, before Upload is pressed.
    let contacts = browser.text(".new-contacts").await;
    assert!(
        contacts.contains("Newsletter would get 11 new contacts")
            && contacts.contains("0 subscribed, 5 pending confirmation, 6 non-subscribed"),
        "{contacts}"
    );
    snap(&browser, "admin-3-dry-run.png").await;
    assert_eq!(
        entity_requests(&app.sim.stats()),
        0,
        "a dry run sends nothing"
    );

    // Upload: the bars move, then stand at 100 %.
    browser.submit("#upload").await;
    let mut seen = Vec::new();
    let mut mid_shot = false;
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    let mut done = false;
    while std::time::Instant::now() < deadline {
        let state = browser
            .eval("return document.getElementById('progress').dataset.state || ''")
            .await;
        let percent = browser
            .eval("return Number(document.getElementById('progress').dataset.percent || 0)")
            .await
            .as_f64()
            .unwrap_or(0.0);
        seen.push(percent);
        if state == "running" && percent > 5.0 && percent < 90.0 && !mid_shot {
            mid_shot = true;
            snap(&browser, "admin-4-upload-running.png").await;
        }
        if state != "running" && state != "" {
            done = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    assert!(done, "the upload ended; percents seen: {seen:?}");
    assert_eq!(browser.text("#job-state").await, "succeeded");
    assert_eq!(browser.text("#job-percent").await, "100 %");
    assert!(
        seen.iter().any(|p| *p > 0.0 && *p < 100.0),
        "the bar moved on its way: {seen:?}"
    );
    let full = browser
        .eval("return Array.from(document.querySelectorAll('.phase .fill')).every(f => f.style.width === '100%')")
        .await;
    assert_eq!(full, serde_json::json!(true), "every phase's bar is full");
    snap(&browser, "admin-5-upload-done.png").await;

    // Mailchimp's webhooks point at mcsync for the selected audience.
    let mut hooked = false;
    for _ in 0..100 {
        browser.open(&admin).await;
        if browser
            .text("#webhooks-state")
            .await
            .contains("reach the shop")
        {
            hooked = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(hooked, "{}", browser.text("#webhooks-state").await);
    assert_eq!(app.sim.webhook_urls(KEY_A, &list).len(), 1);

    // The store's site script: listed here, printed by the storefront, verified by Mailchimp.
    browser.open(&admin).await;
    assert_eq!(browser.count("#site-scripts tbody tr").await, 1);
    browser.open(&format!("{site}/index.php")).await;
    let printed = browser
        .eval("return document.getElementById('mcjs') !== null")
        .await;
    assert_eq!(
        printed,
        serde_json::json!(true),
        "the storefront prints the script"
    );
    browser.open(&admin).await;
    browser.submit("#verify-site").await;
    assert!(flash(&browser).await.contains("found the site script"));
    assert_eq!(browser.text(".site-state").await, "verified");

    // The refused product is listed; once Mailchimp takes it, Retry failed sends it.
    browser.open(&admin).await;
    assert!(browser.text("#sync-errors").await.contains("p20"));
    app.sim.cure("p20");
    browser.submit("#retry-failed").await;
    assert!(
        flash(&browser).await.contains("1 accepted"),
        "{}",
        flash(&browser).await
    );
    assert_eq!(browser.count("#no-sync-errors").await, 1);

    browser.submit("#update-store-data").await;
    assert!(flash(&browser).await.contains("updated"));

    // A product deleted by hand in Mailchimp: the scheduled audit (its period "come" at once
    // here) finds it and repairs it, and the page says so; no button was pressed.
    let store = app.sim.stats().stores.keys().next().cloned().unwrap();
    let product = format!("/ecommerce/stores/{store}/products/p8");
    assert_eq!(
        app.sim_call("DELETE", &product, serde_json::json!({}))
            .await,
        204
    );
    app.server.as_ref().unwrap().app.request_audit();
    let mut shown = String::new();
    for _ in 0..150 {
        browser.open(&admin).await;
        if browser.count("#audits").await > 0 {
            shown = browser.text("#audits").await;
            if shown.contains("repaired") {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        shown.contains("repaired: 1 missing in Mailchimp"),
        "{shown}"
    );
    assert!(app.sim.resource(&store, "products", "p8").is_some());
    browser
        .eval("document.getElementById('audit').scrollIntoView(); return true")
        .await;
    snap(&browser, "admin-6-audit-repaired.png").await;

    // The storefront, checkbox type: the shopper subscribes and is told to confirm by email
    // (double opt-in is the default).
    browser.open(&format!("{site}/index.php")).await;
    assert_eq!(
        browser.count("input.newsletter").await,
        1,
        "one selected list"
    );
    browser.fill("#email", "shopper@example.com").await;
    browser.fill("#first_name", "Sam").await;
    browser.click(&format!("#newsletter-{list}")).await;
    browser.submit("#place-order").await;
    let notice = browser.text("#double-opt-in").await;
    assert!(notice.contains("confirm your subscription"), "{notice}");
    snap(&browser, "storefront-1-double-opt-in.png").await;
    let subscriptions = app
        .subscriptions()
        .get_subscriptions(pb::GetSubscriptionsRequest {
            email: "shopper@example.com".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(subscriptions.lists[0].wanted, "subscribed");

    // A bad email is refused next to the email field.
    browser.fill("#email", "nobody").await;
    browser.click(&format!("#newsletter-{list}")).await;
    browser.submit("#place-order").await;
    assert!(browser.count(".field-error[data-field='email']").await == 1);

    // Select box type: one list at most, from a select.
    browser.open(&admin).await;
    browser
        .eval("document.getElementById('subscription_element_type').value = '2'; return true")
        .await;
    browser.submit("#save").await;
    assert_eq!(flash(&browser).await, "Settings saved.");
    browser.open(&format!("{site}/index.php")).await;
    assert_eq!(browser.count("input.newsletter").await, 0);
    assert_eq!(browser.count("select#newsletter option").await, 2);
    snap(&browser, "storefront-2-select-box.png").await;

    // Reset: the key is forgotten, the key field is back.
    browser.open(&admin).await;
    browser.submit("#reset").await;
    assert!(flash(&browser).await.contains("reset"));
    assert_eq!(browser.count("#api_key").await, 1);
    let settings = app
        .settings()
        .get_settings(pb::GetSettingsRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(!settings.connection.unwrap_or_default().connected);

    drop(browser);
    app.stop().await;
}

/// `mcsync demo` says how to open the admin page; doing what it says shows the page connected
/// to the demo's account, and the storefront offers its newsletter.
#[tokio::test]
async fn the_demo_prints_how_to_open_the_admin_page_and_that_works() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let mut demo = common::browser::Killed::spawn(
        std::process::Command::new(env!("CARGO_BIN_EXE_mcsync"))
            .args([
                "demo",
                "--records",
                "100",
                "--listen",
                "127.0.0.1:0",
                "--data-dir",
            ])
            .arg(dir.path().join("data"))
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null()),
    )
    .unwrap();
    let stdout = demo.0.stdout.take().unwrap();
    let printed = tokio::task::spawn_blocking(move || {
        let mut lines = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            let end = line.contains("Press Ctrl-C");
            lines.push(line);
            if end {
                break;
            }
        }
        lines
    })
    .await
    .unwrap();
    let command = printed
        .iter()
        .find(|l| l.contains("php -S"))
        .unwrap_or_else(|| panic!("no php -S line in:\n{}", printed.join("\n")));
    // MCSYNC_URL=… MCSYNC_TOKEN=… php -S 127.0.0.1:8080 -t DIR
    let words: Vec<&str> = command.split_whitespace().collect();
    let var = |name: &str| {
        words
            .iter()
            .find_map(|w| w.strip_prefix(&format!("{name}=")))
            .unwrap()
            .to_owned()
    };
    let root = words[words.iter().position(|w| *w == "-t").unwrap() + 1];
    let (_php, site) = php_server(
        std::path::Path::new(root),
        &[
            ("MCSYNC_URL", var("MCSYNC_URL")),
            ("MCSYNC_TOKEN", var("MCSYNC_TOKEN")),
            ("MCSYNC_ADMIN_PASSWORD", var("MCSYNC_ADMIN_PASSWORD")),
        ],
    )
    .await;
    mcsync::mailchimp::install_crypto_provider();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    // The settings page wants the printed password: log in as a browser would.
    let login = http.get(format!("{site}/admin.php")).send().await.unwrap();
    assert_eq!(login.status(), 401);
    let cookie = login.headers()["set-cookie"].to_str().unwrap();
    let cookie = cookie.split(';').next().unwrap().to_owned();
    let form = login.text().await.unwrap();
    assert!(form.contains("id=\"login-form\""), "{form}");
    let csrf = form.split("name=\"csrf\" value=\"").nth(1).unwrap();
    let csrf = &csrf[..csrf.find('"').unwrap()];
    let logged_in = http
        .post(format!("{site}/admin.php"))
        .header("cookie", &cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(
            form_urlencoded::Serializer::new(String::new())
                .append_pair("action", "login")
                .append_pair("csrf", csrf)
                .append_pair("password", &var("MCSYNC_ADMIN_PASSWORD"))
                .finish(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(logged_in.status(), 303);
    let cookie = logged_in.headers().get("set-cookie").map_or(cookie, |c| {
        c.to_str().unwrap().split(';').next().unwrap().to_owned()
    });
    let page = |path: &'static str| {
        let request = http.get(format!("{site}{path}")).header("cookie", &cookie);
        async move { request.send().await.unwrap().text().await.unwrap() }
    };
    let admin = page("/admin.php").await;
    assert!(admin.contains("id=\"api-key-masked\""), "{admin}");
    assert!(admin.contains("Upload store data to Mailchimp"));
    let storefront = page("/index.php").await;
    assert!(storefront.contains("class=\"newsletter\""), "{storefront}");
    drop(demo);
}

/// The settings page is safe to deploy as it is: it wants its password, and a form on another
/// page that posts to it (the merchant's browser carrying the session) changes nothing.
#[tokio::test]
async fn the_settings_page_wants_its_password_and_refuses_a_forged_post() {
    let app = spawn_app().await;
    app.connect(KEY_A).await;
    let (_php, site) = admin_site_with(&app, &[("MCSYNC_ADMIN_PASSWORD", "correct horse")]).await;
    let browser = Browser::start(1000, 800).await;
    browser.open(&format!("{site}/admin.php")).await;
    assert_eq!(
        browser.count("#login-form").await,
        1,
        "the login comes first"
    );
    assert_eq!(browser.count("#api-key-masked").await, 0);
    browser.fill("#password", "battery staple").await;
    browser.submit("#login").await;
    assert_eq!(browser.text(".error").await, "Wrong password.");
    browser.fill("#password", "correct horse").await;
    browser.submit("#login").await;
    assert!(browser.count("#api-key-masked").await == 1, "logged in");

    // Another page (another port of this host, so the session cookie goes along) posts
    // "Reset Mailchimp connection" as soon as it is opened.
    let evil = tempfile::tempdir().unwrap();
    std::fs::write(
        evil.path().join("index.html"),
        format!(
            "<form id=f method=post action='{site}/admin.php'>\
             <input name=action value=reset><input name=csrf value=guessed></form>\
             <script>document.getElementById('f').submit()</script>"
        ),
    )
    .unwrap();
    let (_evil_php, evil_site) = php_server(evil.path(), &[]).await;
    browser.open(&format!("{evil_site}/index.html")).await;
    let refused = eventually(Duration::from_secs(10), || async {
        browser.count("#refused").await == 1
    })
    .await;
    assert!(
        refused,
        "{}",
        browser.eval("return document.body.innerText").await
    );
    assert!(
        browser
            .text("#refused")
            .await
            .contains("nothing was changed")
    );
    snap(&browser, "admin-forged-post-refused.png").await;
    let settings = app
        .settings()
        .get_settings(pb::GetSettingsRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(settings.connection.unwrap().connected, "still connected");

    // The page's own reset, with its token, still works.
    browser.open(&format!("{site}/admin.php")).await;
    browser.submit("#reset").await;
    let settings = app
        .settings()
        .get_settings(pb::GetSettingsRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(
        !settings.connection.is_some_and(|c| c.connected),
        "reset by the page"
    );
    drop(browser);
    app.stop().await;
}

/// "Connect with Mailchimp" on the settings page: the merchant goes to Mailchimp's login
/// (the simulator's), allows, and comes back connected; no key is typed.
#[tokio::test]
async fn a_merchant_connects_with_mailchimp_from_the_settings_page() {
    let app = crate::oauth::with_oauth().await;
    let (_php, site) = admin_site(&app).await;
    let browser = Browser::start(1200, 900).await;
    browser.open(&format!("{site}/admin.php")).await;
    snap(&browser, "admin-0-connect-with-mailchimp.png").await;
    browser.submit("#connect-oauth").await;
    assert!(
        flash(&browser)
            .await
            .contains("Connected to Mailchimp account"),
        "{}",
        flash(&browser).await
    );
    let masked = browser.text("#api-key-masked").await;
    assert!(masked.starts_with("oauth:"), "{masked}");
    assert!(
        browser.count("#audiences tbody tr").await >= 2,
        "the lists are read"
    );
    drop(browser);
    app.stop().await;
}

/// An abandoned-cart email's link opened on another device (a fresh browser profile, no
/// session): the storefront's recovery page rebuilds the cart through RecoverCart, the order
/// placed from it carries the campaign the link came from, and the link then says the cart
/// was ordered.
#[tokio::test]
async fn a_link_from_an_abandoned_cart_email_rebuilds_the_cart_on_another_device() {
    let app = spawn_app().await;
    ready(&app, true).await;
    let (_php, site) = admin_site(&app).await;
    app.settings()
        .update_settings(pb::UpdateSettingsRequest {
            cart_recovery_url: Some(format!("{site}/cart.php?target=mailchimp_cart")),
            ..Default::default()
        })
        .await
        .unwrap();
    small_shop(&app).await;
    let (job, _) = upload(&app).await;
    assert_eq!(job.state(), pb::JobState::Succeeded, "{}", job.message);
    // The link as Mailchimp holds it, with what its click tracking adds.
    let store = app.sim.stats().stores.keys().next().cloned().unwrap();
    let held = app.sim.resource(&store, "carts", "cart3").unwrap();
    let link = format!(
        "{}&mc_cid=5a1b2c3d4e&mc_eid=0f9e8d7c6b",
        held["checkout_url"].as_str().unwrap()
    );

    let browser = Browser::start(1000, 800).await;
    browser.open(&link).await;
    assert!(
        flash(&browser)
            .await
            .contains("your cart is as you left it")
    );
    assert_eq!(browser.count("#cart tbody tr").await, 2, "both lines");
    let page = browser.text("#cart").await;
    assert!(
        page.contains("Boot model 3") && page.contains("p4-42"),
        "{page}"
    );
    let email = testdata::cart(3).customer.unwrap().email;
    assert_eq!(browser.text("#cart-email").await, email);
    let address = browser.eval("return location.href").await;
    assert!(
        !address.as_str().unwrap().contains("mcsync_cart"),
        "the token leaves the address bar: {address}"
    );
    snap(&browser, "storefront-3-cart-recovered.png").await;

    browser.submit("#place-cart-order").await;
    assert!(flash(&browser).await.contains("web-cart3"));
    let order = app
        .records()
        .get_record(pb::RecordKey {
            kind: pb::RecordKind::Order as i32,
            id: "web-cart3".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let Some(R::Order(order)) = order.record else {
        panic!("an order")
    };
    assert_eq!(order.cart_id, "cart3");
    assert_eq!(order.lines.len(), 2);
    assert_eq!(
        order.tracking.unwrap().campaign_id,
        "5a1b2c3d4e",
        "the campaign that brought the shopper back"
    );

    // The same link, once more on yet another device: the cart was ordered.
    drop(browser);
    let browser = Browser::start(1000, 800).await;
    browser.open(&link).await;
    let said = browser.text(".error").await;
    assert!(
        said.contains("already been ordered") && said.contains("web-cart3"),
        "{said}"
    );
    drop(browser);
    app.stop().await;
}

/// An audience with GDPR fields: the storefront shows its permissions under the newsletter
/// choice, and the shopper's ticks become the consent record (unticked ones declined).
#[tokio::test]
async fn a_shopper_answers_the_gdpr_permissions_at_checkout() {
    let app = spawn_app().await;
    let lists = ready(&app, false).await;
    app.sim.enable_marketing_permissions(KEY_A, &lists[0]);
    app.sim.add_contacts(KEY_A, &lists[0], 1);
    app.lists()
        .refresh_lists(pb::RefreshListsRequest {})
        .await
        .unwrap();
    let (_php, site) = admin_site(&app).await;

    let browser = Browser::start(1000, 900).await;
    browser.open(&format!("{site}/index.php")).await;
    assert_eq!(browser.count("fieldset.gdpr").await, 1, "one GDPR audience");
    assert_eq!(
        browser
            .count(&format!("#gdpr-{} input.gdpr-permission", lists[0]))
            .await,
        3
    );
    let legend = browser.text("fieldset.gdpr legend").await;
    assert!(legend.contains("Newsletter"), "{legend}");
    browser.fill("#email", "eu.shopper@example.com").await;
    browser.click(&format!("#newsletter-{}", lists[0])).await;
    let ids: Vec<String> = browser
        .eval("return [...document.querySelectorAll('input.gdpr-permission')].map(e => e.id)")
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    browser.click(&format!("#{}", ids[0])).await;
    browser.click(&format!("#{}", ids[2])).await;
    snap(&browser, "storefront-4-gdpr-permissions.png").await;
    browser.submit("#place-order").await;
    let notice = browser.text("#double-opt-in").await;
    assert!(notice.contains("confirm your subscription"), "{notice}");

    let subscriptions = app
        .subscriptions()
        .get_subscriptions(pb::GetSubscriptionsRequest {
            email: "eu.shopper@example.com".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let l0 = subscriptions
        .lists
        .iter()
        .find(|l| l.list_id == lists[0])
        .unwrap();
    let answers: Vec<(&str, bool)> = l0
        .consent
        .as_ref()
        .expect("a consent record")
        .permissions
        .iter()
        .map(|p| (p.text.as_str(), p.enabled))
        .collect();
    assert_eq!(
        answers,
        [
            ("Email", true),
            ("Direct Mail", false),
            ("Customized Online Advertising", true)
        ]
    );
    drop(browser);
    app.stop().await;
}
