//! The operator commands, run as the real binary against a server started by the test.

use crate::common;

use std::process::{Command, Output};
use std::time::Duration;

use common::*;

pub(crate) async fn mcsync(app: &TestApp, token: &str, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mcsync"));
    cmd.args(args)
        .env("MCSYNC_SERVER", format!("http://{}", app.addr()))
        .env("MCSYNC_TOKEN", token)
        .env_remove("RUST_LOG");
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

fn text(o: &Output) -> String {
    text_of(o)
}

#[tokio::test]
async fn an_operator_connects_configures_and_selects_lists_from_the_terminal() {
    let app = spawn_app().await;
    let out = mcsync(&app, TOKEN, &["status"]).await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("not connected"), "{}", text(&out));

    let out = mcsync(&app, TOKEN, &["connect", KEY_A]).await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("cdef-us6") && !text(&out).contains(&KEY_A[..28]));

    let out = mcsync(&app, TOKEN, &["lists", "--refresh"]).await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("3 audiences") && text(&out).contains("Newsletter"),
        "{}",
        text(&out)
    );

    let ids = app.sim.list_ids(KEY_A);
    let out = mcsync(&app, TOKEN, &["select", &ids[0], &ids[1]]).await;
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(text(&out).matches("[x]").count(), 2, "{}", text(&out));

    let out = mcsync(
        &app,
        TOKEN,
        &[
            "settings",
            "set",
            "--abandoned-carts",
            "on",
            "--list-update-interval",
            "1h",
            "--company-name",
            "Acme",
            "--default-list",
            &ids[0],
        ],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out));
    let out = mcsync(&app, TOKEN, &["settings", "get"]).await;
    let shown = text(&out);
    assert!(shown.contains("Abandoned carts:             on"), "{shown}");
    assert!(
        shown.contains("Update Mailchimp lists every: 1 hour"),
        "{shown}"
    );
    assert!(
        shown.contains(&format!("Default automation list:     {}", ids[0])),
        "{shown}"
    );

    let out = mcsync(&app, TOKEN, &["status"]).await;
    let shown = text(&out);
    assert!(shown.contains("connected to Simulated Shop 1"), "{shown}");
    assert!(shown.contains("3 known, 2 selected"), "{shown}");
    assert!(shown.contains("Outbox:"), "{shown}");

    let out = mcsync(&app, TOKEN, &["reset"]).await;
    assert!(out.status.success());
    app.stop().await;
}

#[tokio::test]
async fn failures_exit_non_zero_with_the_servers_reason() {
    let app = spawn_app().await;
    let out = mcsync(&app, "wrong", &["status"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("Unauthenticated") && text(&out).contains("invalid bearer token"),
        "{}",
        text(&out)
    );

    let out = mcsync(&app, TOKEN, &["connect", KEY_UNKNOWN]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("API Key Invalid"), "{}", text(&out));

    let out = mcsync(
        &app,
        TOKEN,
        &["settings", "set", "--currency", "DOLLARS", "--email", "x@"],
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    let shown = text(&out);
    assert!(
        shown.contains("shop.currency_code:") && shown.contains("shop.email:"),
        "{shown}"
    );

    let out = mcsync(&app, TOKEN, &["lists"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("FailedPrecondition"), "{}", text(&out));

    let out = mcsync(
        &app,
        TOKEN,
        &["settings", "set", "--list-update-interval", "3h"],
    )
    .await;
    assert_eq!(out.status.code(), Some(2), "a usage error is clap's");
    app.stop().await;
}

#[tokio::test]
async fn an_unreachable_server_is_a_clear_error() {
    let app = spawn_app().await;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mcsync"));
    cmd.args(["status", "--server", "http://127.0.0.1:9"]);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("cannot reach mcsync at http://127.0.0.1:9"),
        "{}",
        text(&out)
    );
    app.stop().await;
}

#[tokio::test]
async fn upload_shows_progress_to_the_end_and_jobs_and_watch_find_it_again() {
    let app = spawn_app().await;
    app.connect(KEY_A).await;
    let ids = app.sim.list_ids(KEY_A);
    mcsync(&app, TOKEN, &["lists", "--refresh"]).await;
    mcsync(&app, TOKEN, &["select", &ids[0]]).await;
    let out = mcsync(&app, TOKEN, &["upload"]).await;
    assert_eq!(out.status.code(), Some(1), "no shop identity yet");
    assert!(
        text(&out).contains("shop's URL and company name"),
        "{}",
        text(&out)
    );

    mcsync(
        &app,
        TOKEN,
        &[
            "settings",
            "set",
            "--shop-url",
            "https://shop.example.com",
            "--company-name",
            "Acme",
        ],
    )
    .await;
    let records: Vec<_> = (0..120).map(mcsync::testdata::mixed).collect();
    app.records()
        .push_records(tokio_stream::iter(records))
        .await
        .unwrap();
    let out = mcsync(&app, TOKEN, &["upload"]).await;
    let shown = text(&out);
    assert!(out.status.success(), "{shown}");
    let last = shown
        .lines()
        .rev()
        .find(|l| l.starts_with("job-"))
        .unwrap()
        .to_owned();
    assert!(
        last.contains("succeeded 100.0%"),
        "plain lines when not on a terminal: {shown}"
    );
    assert!(shown.contains(" missing 0 orphans 0 adopted 0"), "{shown}");
    let lines: Vec<&str> = shown.lines().collect();
    assert!(lines.iter().all(|l| l.chars().count() <= 80), "{shown}");
    assert!(
        lines.windows(2).all(|w| w[0] != w[1]),
        "a line only when something changed: {shown}"
    );
    let job = last.split_whitespace().next().unwrap().to_owned();

    let out = mcsync(&app, TOKEN, &["jobs"]).await;
    assert!(text(&out).starts_with(&job), "{}", text(&out));
    let out = mcsync(&app, TOKEN, &["watch", &job]).await;
    assert!(
        out.status.success() && text(&out).contains("succeeded"),
        "{}",
        text(&out)
    );
    let out = mcsync(&app, TOKEN, &["status"]).await;
    assert!(
        text(&out).contains("Store:") && text(&out).contains("Last job:"),
        "{}",
        text(&out)
    );
    assert!(text(&out).contains("Last check:   "), "{}", text(&out));

    // The dry run: a table of what an upload would do, nothing sent.
    let out = mcsync(&app, TOKEN, &["upload", "--dry-run"]).await;
    let plan = text(&out);
    assert!(out.status.success(), "{plan}");
    assert!(plan.starts_with("Dry run: nothing was sent"), "{plan}");
    assert!(plan.contains(" missing 0 orphans 0"), "{plan}");
    assert!(
        plan.contains("would get 0 new contacts: 0 subscribed, 0 pending, 0 transactional"),
        "everyone is in the audience after the upload: {plan}"
    );
    let rows: Vec<&str> = plan.lines().skip(4).collect();
    assert_eq!(rows.len(), 4, "one row per kind: {plan}");
    for row in rows {
        let counts: Vec<&str> = row.split_whitespace().skip(2).take(3).collect();
        assert_eq!(counts, ["0", "0", "0"], "nothing to send: {plan}");
    }
    assert!(plan.lines().all(|l| l.len() <= 80), "{plan}");

    // A record Mailchimp refuses (an order giving customer c1 another email) shows in
    // errors; retry.
    app.records()
        .upsert(mcsync::testdata::record(
            mcsync::proto::v1::record::Record::Order(mcsync::testdata::order_with_a_foreign_email(
                13,
            )),
        ))
        .await
        .unwrap();
    mcsync(&app, TOKEN, &["upload"]).await;
    let out = mcsync(&app, TOKEN, &["errors"]).await;
    assert!(
        text(&out).contains("1 records refused") && text(&out).contains("may not be changed"),
        "{}",
        text(&out)
    );
    let out = mcsync(&app, TOKEN, &["retry"]).await;
    assert_eq!(out.status.code(), Some(1), "still refused: {}", text(&out));
    assert!(
        text(&out).contains("Retried 1: 0 went through, 1 refused again"),
        "{}",
        text(&out)
    );

    let out = mcsync(&app, TOKEN, &["watch", "job-nope"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("NotFound"), "{}", text(&out));
    app.stop().await;
}

#[tokio::test]
async fn subscribe_look_up_and_unsubscribe_an_email() {
    let app = spawn_app().await;
    app.connect(KEY_A).await;
    let ids = app.sim.list_ids(KEY_A);
    mcsync(&app, TOKEN, &["lists", "--refresh"]).await;
    mcsync(&app, TOKEN, &["select", &ids[0], &ids[1]]).await;
    mcsync(&app, TOKEN, &["settings", "set", "--single-opt-in", "on"]).await;
    let out = mcsync(
        &app,
        TOKEN,
        &[
            "subscribe",
            "reader@example.com",
            &ids[0],
            "--first-name",
            "Urist",
        ],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("queued, asked: subscribed"),
        "{}",
        text(&out)
    );
    let applied = eventually(Duration::from_secs(15), || async {
        text(&mcsync(&app, TOKEN, &["subscriptions", "reader@example.com"]).await)
            .contains("subscribed [applied, asked: subscribed]")
    })
    .await;
    assert!(applied);
    let out = mcsync(&app, TOKEN, &["subscribe", "nope", &ids[2]]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("email:") && text(&out).contains("list_ids[0]:"),
        "{}",
        text(&out)
    );
    let out = mcsync(&app, TOKEN, &["unsubscribe", "reader@example.com"]).await;
    assert!(text(&out).contains("asked: unsubscribed"), "{}", text(&out));
    app.stop().await;
}

/// An operator sees an audience's GDPR permissions, records a shopper's answers, and finds the
/// consent record after the shopper left.
#[tokio::test]
async fn gdpr_permissions_are_listed_answered_and_kept_on_record() {
    let app = spawn_app().await;
    app.connect(KEY_A).await;
    let ids = app.sim.list_ids(KEY_A);
    let permissions = app.sim.enable_marketing_permissions(KEY_A, &ids[0]);
    app.sim.add_contacts(KEY_A, &ids[0], 1);
    let lists = text(&mcsync(&app, TOKEN, &["lists", "--refresh"]).await);
    assert!(lists.contains("GDPR fields"), "{lists}");
    assert!(
        lists.contains(&format!("permission {}: Direct Mail", permissions[1].0)),
        "{lists}"
    );
    mcsync(&app, TOKEN, &["select", &ids[0]]).await;
    let (yes, no) = (
        format!("{}=yes", permissions[0].0),
        format!("{}=no", permissions[1].0),
    );
    let email = "eu.reader@example.com";
    let args = [
        "subscribe",
        email,
        &ids[0],
        "--permission",
        &yes,
        "--permission",
        &no,
    ];
    let out = mcsync(&app, TOKEN, &args).await;
    assert!(out.status.success(), "{}", text(&out));
    let applied = eventually(Duration::from_secs(15), || async {
        text(&mcsync(&app, TOKEN, &["subscriptions", email]).await)
            .contains("pending [applied, asked: subscribed]")
    })
    .await;
    assert!(applied);
    mcsync(&app, TOKEN, &["unsubscribe", email]).await;
    let kept = eventually(Duration::from_secs(15), || async {
        let now = text(&mcsync(&app, TOKEN, &["subscriptions", email]).await);
        now.contains("unsubscribed [applied, asked: unsubscribed]")
            && now.contains("yes Email")
            && now.contains("no  Direct Mail")
    })
    .await;
    assert!(
        kept,
        "{}",
        text(&mcsync(&app, TOKEN, &["subscriptions", email]).await)
    );
    let out = mcsync(
        &app,
        TOKEN,
        &["subscribe", email, &ids[0], "--permission", "x=maybe"],
    )
    .await;
    assert!(!out.status.success());
    assert!(text(&out).contains("expected yes or no"), "{}", text(&out));
    app.stop().await;
}

/// An operator maps shop fields to an audience's merge fields, sees the map, and a tag the
/// audience lacks is refused by name.
#[tokio::test]
async fn merge_fields_are_mapped_from_the_terminal() {
    let app = spawn_app().await;
    app.connect(KEY_A).await;
    let ids = app.sim.list_ids(KEY_A);
    mcsync(&app, TOKEN, &["lists", "--refresh"]).await;
    mcsync(&app, TOKEN, &["select", &ids[0]]).await;
    let (phone, birthday) = (
        format!("{}:phone=PHONE", ids[0]),
        format!("{}:birthday=BIRTHDAY", ids[0]),
    );
    let args = [
        "settings",
        "set",
        "--merge-field",
        &phone,
        "--merge-field",
        &birthday,
    ];
    let out = mcsync(&app, TOKEN, &args).await;
    assert!(out.status.success(), "{}", text(&out));
    let shown = text(&mcsync(&app, TOKEN, &["settings", "get"]).await);
    assert!(
        shown.contains(&format!(
            "Merge fields of {}: phone → PHONE, birthday → BIRTHDAY",
            ids[0]
        )),
        "{shown}"
    );
    let bad = format!("{}:phone=NOPE", ids[0]);
    let out = mcsync(&app, TOKEN, &["settings", "set", "--merge-field", &bad]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("merge_fields.audiences[0].mappings[0].tag"),
        "{}",
        text(&out)
    );
    let out = mcsync(&app, TOKEN, &["settings", "set", "--merge-field", "none"]).await;
    assert!(out.status.success());
    assert!(!text(&mcsync(&app, TOKEN, &["settings", "get"]).await).contains("Merge fields of"));
    app.stop().await;
}

/// An operator sets tag rules in the terminal's own syntax and reads them back.
#[tokio::test]
async fn tag_rules_are_set_from_the_terminal() {
    let app = spawn_app().await;
    app.connect(KEY_A).await;
    let args = [
        "settings",
        "set",
        "--tag-rule",
        "VIP:spent>=500 & orders>=3",
        "--tag-rule",
        "Boots:bought=p1,p2",
        "--tag-rule",
        "Lapsed:last_order>90d",
    ];
    let out = mcsync(&app, TOKEN, &args).await;
    assert!(out.status.success(), "{}", text(&out));
    let shown = text(&mcsync(&app, TOKEN, &["settings", "get"]).await);
    for line in [
        "Tag rule:                    VIP: (spent>=500.00 & orders>=3)",
        "Tag rule:                    Boots: bought=p1,p2",
        "Tag rule:                    Lapsed: last_order>90d",
    ] {
        assert!(shown.contains(line), "{shown}");
    }
    let out = mcsync(&app, TOKEN, &["settings", "set", "--tag-rule", "VIP:rich"]).await;
    assert!(!out.status.success());
    assert!(text(&out).contains("expected spent>="), "{}", text(&out));
    let out = mcsync(
        &app,
        TOKEN,
        &["settings", "set", "--tag-rule", "VIP:orders>=0"],
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("tag_rules.rules[0].condition"),
        "{}",
        text(&out)
    );
    let out = mcsync(&app, TOKEN, &["settings", "set", "--tag-rule", "none"]).await;
    assert!(out.status.success());
    assert!(!text(&mcsync(&app, TOKEN, &["settings", "get"]).await).contains("Tag rule:"));
    app.stop().await;
}

/// `--token-file` on both sides: the token is never in a process list, and a trailing newline
/// in either file is not part of it.
#[tokio::test]
async fn the_token_can_come_from_a_file_on_both_sides() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    std::fs::write(&file, "file-token-123\n").unwrap();
    let mut serve = Command::new(env!("CARGO_BIN_EXE_mcsync"));
    serve.env_remove("MCSYNC_TOKEN");
    let data = dir.path().join("data");
    let extra = [std::ffi::OsStr::new("--token-file"), file.as_os_str()];
    let mut server = start_command(serve, &extra, &data, "http://127.0.0.1:9/3.0", "info");
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", server.child.id())).unwrap();
    assert!(!String::from_utf8_lossy(&cmdline).contains("file-token-123"));

    let operator = |args: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_mcsync"));
        cmd.args(["status", "--server", &format!("http://{}", server.addr)])
            .args(args)
            .env_remove("MCSYNC_TOKEN")
            .env_remove("MCSYNC_TOKEN_FILE");
        cmd
    };
    let mut with_file = operator(&[]);
    with_file.arg("--token-file").arg(&file);
    let out = tokio::task::spawn_blocking(move || with_file.output().unwrap())
        .await
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("not connected"), "{}", text(&out));

    let mut wrong = operator(&["--token", "file-token-12"]);
    let out = tokio::task::spawn_blocking(move || wrong.output().unwrap())
        .await
        .unwrap();
    assert!(!out.status.success());
    assert!(
        text(&out).contains("invalid bearer token"),
        "{}",
        text(&out)
    );

    let mut both = operator(&["--token", "x"]);
    both.arg("--token-file").arg(&file);
    let out = tokio::task::spawn_blocking(move || both.output().unwrap())
        .await
        .unwrap();
    assert!(text(&out).contains("not both"), "{}", text(&out));
    server.child.kill().unwrap();
    server.child.wait().unwrap();
}

/// `mcsync connect` without the key as an argument reads it from stdin, so that it stays out of
/// the shell history and the process list.
#[tokio::test]
async fn connect_reads_the_key_from_stdin() {
    use std::io::Write as _;
    let app = spawn_app().await;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mcsync"));
    cmd.arg("connect")
        .env("MCSYNC_SERVER", format!("http://{}", app.addr()))
        .env("MCSYNC_TOKEN", TOKEN)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let out = tokio::task::spawn_blocking(move || {
        let mut child = cmd.spawn().unwrap();
        writeln!(child.stdin.take().unwrap(), "{KEY_A}").unwrap();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("cdef-us6"), "{}", text(&out));
    let settings = app.settings().get_settings(pb_settings()).await.unwrap();
    assert!(settings.into_inner().connection.is_some());
    app.stop().await;
}

fn pb_settings() -> mcsync::proto::v1::GetSettingsRequest {
    mcsync::proto::v1::GetSettingsRequest {}
}

/// `mcsync health`, for container health checks: SERVING and exit 0 while the server runs,
/// a failure once it is gone.
#[tokio::test]
async fn health_succeeds_only_while_the_server_serves() {
    let app = spawn_app().await;
    let out = mcsync(&app, TOKEN, &["health"]).await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("SERVING"), "{}", text(&out));
    let addr = app.addr();
    app.stop().await;
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_mcsync"))
            .args(["health", "--server", &format!("http://{addr}")])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(!out.status.success(), "{}", text(&out));
}

/// JSON logs carry the spans they happened in: a call's method and peer, a job's id.
#[tokio::test]
async fn json_log_lines_name_their_call_and_their_job() {
    use common::shop::*;
    let dir = tempfile::tempdir().unwrap();
    let sim = start_sim(sim_config(2)).await;
    let mut server = start_binary(dir.path(), &sim.base_url(), "info");
    let remote = Remote::new(server.addr).await;
    ready_at(&remote, &sim, false).await;
    let mut stream = remote
        .sync()
        .upload_store_data(mcsync::proto::v1::UploadRequest::default())
        .await
        .unwrap()
        .into_inner();
    let mut job_id = String::new();
    while let Some(progress) = tokio_stream::StreamExt::next(&mut stream).await {
        job_id = progress.unwrap().job_id;
    }
    let lines = server.lines.lock().unwrap().clone();
    let parsed: Vec<serde_json::Value> = lines
        .iter()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let in_span = |message: &str, span: &str, field: &str| {
        parsed
            .iter()
            .filter(|l| l["message"] == message)
            .flat_map(|l| l["spans"].as_array().cloned().unwrap_or_default())
            .find(|s| s["name"] == span)
            .map(|s| s[field].clone())
    };
    assert_eq!(
        in_span("connected to Mailchimp", "rpc", "method"),
        Some(serde_json::json!("/mcsync.v1.SettingsService/Connect")),
        "{lines:#?}"
    );
    assert!(in_span("connected to Mailchimp", "rpc", "peer").is_some());
    assert_eq!(
        in_span("store reconciled", "job", "job"),
        Some(serde_json::json!(job_id)),
        "{lines:#?}"
    );
    assert!(
        lines.iter().all(|l| !l.contains('\u{1b}')),
        "no colour codes"
    );
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    sim.shutdown().await;
}

/// `mcsync upload` in real terminals (tmux) of 80 and of 60 columns: every redraw replaces the
/// last, so the final screen holds each phase's line once, the summary once, and no line wider
/// than the terminal (below 80 columns lines are cut, never wrapped).
#[tokio::test]
async fn upload_progress_redraws_cleanly_in_an_80_column_terminal() {
    for width in [80, 60] {
        upload_in_a_terminal(width).await;
    }
}

async fn upload_in_a_terminal(width: usize) {
    use common::shop::*;
    let config = mcsync::sim::SimConfig {
        latency: Duration::from_millis(20),
        ..sim_config(3)
    };
    let app = spawn_app_with(config, 1).await;
    ready(&app, false).await;
    small_shop(&app).await;
    let socket = format!("mcsync-test-{}-{width}", std::process::id());
    let tmux = |args: &[&str]| {
        Command::new("tmux")
            .args(["-L", &socket])
            .args(args)
            .output()
            .expect("tmux runs (scripts/test.sh installs it)")
    };
    let command = format!(
        "MCSYNC_SERVER=http://{} MCSYNC_TOKEN={TOKEN} {} upload --mode direct; sleep 60",
        app.addr(),
        env!("CARGO_BIN_EXE_mcsync")
    );
    let columns = width.to_string();
    let started = tmux(&[
        "new-session",
        "-d",
        "-x",
        &columns,
        "-y",
        "40",
        "-s",
        "upload",
        &command,
    ]);
    assert!(started.status.success(), "{}", text(&started));
    let capture = || {
        String::from_utf8_lossy(&tmux(&["capture-pane", "-p", "-t", "upload"]).stdout).into_owned()
    };
    let done = eventually(Duration::from_secs(60), || async {
        capture().contains("succeeded")
    })
    .await;
    let screen = capture();
    tmux(&["kill-server"]);
    assert!(done, "the upload ends on screen:\n{screen}");
    let lines: Vec<&str> = screen.lines().filter(|l| !l.trim().is_empty()).collect();
    for line in &lines {
        assert!(
            line.chars().count() <= width,
            "wider than {width}: {line:?}"
        );
    }
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.contains("running") || l.contains("succeeded"))
            .count(),
        1,
        "one summary, not a smear of redraws:\n{screen}"
    );
    let phases = lines
        .iter()
        .filter(|l| {
            ["products", "customers", "orders", "coupons"]
                .iter()
                .any(|k| l.contains(k))
        })
        .count();
    // Two stores, four kinds without carts: eight lines, each drawn once.
    assert_eq!(phases, 8, "{screen}");
    app.stop().await;
}
