//! Knowing the bill before pressing Upload: the dry run says, per audience, how many contacts
//! the upload would add and what each would become, and the upload then adds exactly that.

use crate::common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::shop::*;
use common::*;
use mcsync::proto::v1 as pb;

fn delta(after: &BTreeMap<String, u64>, before: &BTreeMap<String, u64>, status: &str) -> i64 {
    *after.get(status).unwrap_or(&0) as i64 - *before.get(status).unwrap_or(&0) as i64
}

#[tokio::test]
async fn the_dry_run_counts_the_contacts_the_upload_then_adds() {
    let cases = [
        (pb::UploadMode::Direct, true),
        (pb::UploadMode::Batch, false),
    ];
    for (mode, single_opt_in) in cases {
        let app = spawn_app().await;
        let lists = ready(&app, true).await;
        app.settings()
            .update_settings(pb::UpdateSettingsRequest {
                single_opt_in: Some(single_opt_in),
                ..Default::default()
            })
            .await
            .unwrap();
        small_shop(&app).await;
        // Already in the first audience: not a new contact there, but new in the second.
        app.sim
            .set_member_status(KEY_A, &lists[0], "customer2@example.com", "subscribed");
        let before: Vec<_> = lists
            .iter()
            .map(|l| app.sim.member_statuses(KEY_A, l))
            .collect();

        let plan = dry_run(&app, mode).await;
        assert_eq!(plan.new_contacts.len(), 2, "{plan:?}");
        for (list, nc) in lists.iter().zip(&plan.new_contacts) {
            assert_eq!(&nc.list_id, list);
            assert!(nc.exact && nc.reads >= 1, "{nc:?}");
        }
        // The shop's 11 emails: 10 customers (the 5 even ones consent; orders and carts name
        // the same people) and order 500's customer, who has no customer record. customer2,
        // who consents, is already in the first audience.
        let consenting = |nc: &pb::NewContacts| {
            if single_opt_in {
                (nc.subscribed, nc.pending)
            } else {
                (nc.pending, nc.subscribed)
            }
        };
        let (first, second) = (&plan.new_contacts[0], &plan.new_contacts[1]);
        assert_eq!(
            (consenting(first), first.transactional),
            ((4, 0), 6),
            "{first:?}"
        );
        assert_eq!(
            (consenting(second), second.transactional),
            ((5, 0), 6),
            "{second:?}"
        );

        let (job, _) = upload_with(&app, mode).await;
        assert_eq!(job.state(), pb::JobState::Succeeded, "{}", job.message);
        // Consent requests go on in the background after the job.
        for (i, list) in lists.iter().enumerate() {
            let nc = &plan.new_contacts[i];
            let matched = eventually(Duration::from_secs(20), || async {
                let after = app.sim.member_statuses(KEY_A, list);
                delta(&after, &before[i], "subscribed") == nc.subscribed
                    && delta(&after, &before[i], "pending") == nc.pending
                    && delta(&after, &before[i], "transactional") == nc.transactional
            })
            .await;
            assert!(
                matched,
                "{mode:?}, single opt-in {single_opt_in}: planned {nc:?}, before {:?}, after {:?}",
                before[i],
                app.sim.member_statuses(KEY_A, list)
            );
        }
        app.stop().await;
    }
}

/// An audience too large to read for a preview: the figure is an upper bound, said so, and
/// costs one read.
#[tokio::test]
async fn a_large_audience_gets_an_upper_bound_labelled_so() {
    let app = spawn_app().await;
    let lists = ready(&app, true).await;
    small_shop(&app).await;
    app.sim.add_contacts(KEY_A, &lists[1], 100_001);
    let plan = dry_run(&app, pb::UploadMode::Auto).await;
    let (small, large) = (&plan.new_contacts[0], &plan.new_contacts[1]);
    assert!(small.exact, "{small:?}");
    assert!(!large.exact, "{large:?}");
    assert_eq!(large.reads, 1, "only the first page, which gives the total");
    // Nothing was sent to the store yet: every shop email is counted.
    assert_eq!(
        large.pending + large.subscribed + large.transactional,
        11,
        "{large:?}"
    );
    app.stop().await;
}
