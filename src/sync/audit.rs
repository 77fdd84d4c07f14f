//! The self-audit: on the merchant's schedule (`audit_interval`, daily by default) each live
//! store is reconciled read-only, so drift made in Mailchimp while nobody looks (records
//! deleted by hand, another integration writing into the store, a promo code removed, the store
//! itself deleted) is found without anyone pressing Upload. Drift starts the repair: the
//! reconciled upload, its trigger starting `audit:`. A store in sync costs only its reads,
//! which give way to live sync and uploads on the key's connections; no audit starts while an
//! upload runs (the upload reconciles anyway).

use std::sync::Arc;

use tokio::sync::{Mutex, Notify, watch};

use super::context::{UploadContext, upload_context};
use super::jobs::Jobs;
use super::phases::phase_kinds;
use super::reconcile::{self, ReconcileError};
use super::store_setup::store_gone;
use crate::domain::ListUpdateInterval;
use crate::mailchimp::Mailchimp;
use crate::proto::v1 as pb;
use crate::store::{Store, StoreError};

/// Audits the live stores on a schedule; see the module.
pub struct Auditor {
    store: Store,
    mailchimp: Arc<Mailchimp>,
    jobs: Arc<Jobs>,
    interval: watch::Sender<ListUpdateInterval>,
    now: Notify,
    /// One audit at a time.
    running: Mutex<()>,
}

impl Auditor {
    /// An auditor on `store`, starting with the stored interval.
    pub fn new(
        store: Store,
        mailchimp: Arc<Mailchimp>,
        jobs: Arc<Jobs>,
    ) -> Result<Self, StoreError> {
        let interval = store.settings()?.audit_interval;
        Ok(Self {
            store,
            mailchimp,
            jobs,
            interval: watch::Sender::new(interval),
            now: Notify::new(),
            running: Mutex::new(()),
        })
    }

    /// The merchant's `audit_interval`: re-arms the timer when it changed.
    pub fn set_interval(&self, interval: ListUpdateInterval) {
        self.interval.send_if_modified(|current| {
            let changed = *current != interval;
            *current = interval;
            changed
        });
    }

    /// An audit as soon as the worker can, whatever the schedule.
    pub fn request_now(&self) {
        self.now.notify_one();
    }

    /// Audits every live store once, and starts the repair when any has drifted (its end is
    /// noted in the saved audits when it comes). Returns the audits (none when no store could
    /// be audited now).
    pub async fn audit(&self) -> Result<Vec<pb::Audit>, StoreError> {
        let _one = self.running.lock().await;
        if self.jobs.is_running().await {
            tracing::info!("audit skipped: an upload is running (it reconciles the stores)");
            return Ok(Vec::new());
        }
        // Analytics off, no connection, no list: nothing to audit.
        let Ok(ctx) = upload_context(&self.store, &self.mailchimp, pb::UploadMode::Auto) else {
            return Ok(Vec::new());
        };
        let mut audits = Vec::new();
        for (list_id, _) in &ctx.lists {
            let Some(store_id) = self.store.mc_store(&ctx.account_id, list_id)? else {
                continue;
            };
            // A store not uploaded yet is the upload's to fill; a lost one is being rebuilt.
            if !self.store.is_uploaded(&store_id)? || self.store.store_lost(&store_id)?.is_some() {
                continue;
            }
            audits.push(self.audit_store(&ctx, &store_id, list_id).await?);
        }
        let metrics = self.mailchimp.metrics();
        for a in &audits {
            let result = match (a.error.is_empty(), a.in_sync) {
                (false, _) => "error",
                (true, true) => "in_sync",
                (true, false) => "drift",
            };
            metrics.store_audits.with_label_values(&[result]).inc();
            for (found, n) in findings(a.found.as_ref()) {
                metrics.audit_findings.with_label_values(&[found]).inc_by(n);
            }
        }
        let repair = if audits.iter().any(drifted) {
            self.repair(&mut audits).await?
        } else {
            None
        };
        // Saved once each, the repair job named, before anything can note its end.
        for a in &audits {
            self.store.save_audit(a).await?;
        }
        if let Some(progress) = repair {
            let repaired: Vec<pb::Audit> = audits
                .iter()
                .filter(|a| !a.repair_job_id.is_empty())
                .cloned()
                .collect();
            tokio::spawn(note_the_end(self.store.clone(), progress, repaired));
        }
        Ok(audits)
    }

    /// One store, read-only: what Mailchimp holds against what mcsync sent.
    async fn audit_store(
        &self,
        ctx: &UploadContext,
        store_id: &str,
        list_id: &str,
    ) -> Result<pb::Audit, StoreError> {
        // The shop's records go first on the key's connections.
        let client = ctx.client.clone().background();
        let kinds = phase_kinds(ctx.abandoned_carts);
        let checked: usize = kinds
            .iter()
            .map(|k| self.store.count_synced(store_id, *k))
            .sum();
        let mut audit = pb::Audit {
            at: Some(prost_types::Timestamp {
                seconds: crate::domain::now(),
                nanos: 0,
            }),
            records_checked: checked as i64,
            ..Default::default()
        };
        let found = if store_gone(&client, store_id).await {
            pb::Reconciliation {
                store_id: store_id.to_owned(),
                list_id: list_id.to_owned(),
                store_recreated: true,
                missing_in_mailchimp: checked as i64,
                at: audit.at,
                ..Default::default()
            }
        } else {
            match reconcile::read(
                &self.store,
                &client,
                (store_id, list_id),
                ctx.abandoned_carts,
            )
            .await
            {
                Ok(diff) => diff.report,
                Err(ReconcileError::Store(e)) => return Err(e),
                Err(ReconcileError::Mailchimp(e)) => {
                    tracing::warn!(store = store_id, error = %e, "audit could not read the store");
                    audit.error = e.to_string();
                    pb::Reconciliation {
                        store_id: store_id.to_owned(),
                        list_id: list_id.to_owned(),
                        at: audit.at,
                        ..Default::default()
                    }
                }
            }
        };
        audit.in_sync = audit.error.is_empty() && findings(Some(&found)).is_empty();
        tracing::info!(
            store = store_id,
            checked,
            in_sync = audit.in_sync,
            reads = found.reads,
            "store audited"
        );
        audit.found = Some(found);
        Ok(audit)
    }

    /// Starts the reconciled upload that repairs what the audits found, in the mode of the
    /// last job, and names it in the audits that found drift; its progress, when it started.
    async fn repair(
        &self,
        audits: &mut [pb::Audit],
    ) -> Result<Option<watch::Receiver<pb::JobProgress>>, StoreError> {
        let mode = self
            .store
            .jobs(1)?
            .first()
            .map_or(pb::UploadMode::Auto, pb::JobProgress::mode);
        let what: Vec<String> = audits
            .iter()
            .filter(|a| drifted(a))
            .map(|a| describe(a.found.as_ref()))
            .collect();
        let trigger = format!("audit: {}", what.join("; "));
        let progress = match self.jobs.start(mode, false, trigger).await {
            Ok(rx) => rx,
            Err(e) => {
                tracing::warn!(error = %e, "could not start the audit's repair job");
                return Ok(None);
            }
        };
        let job_id = progress.borrow().job_id.clone();
        for a in audits.iter_mut().filter(|a| drifted(a)) {
            a.repair_job_id.clone_from(&job_id);
            a.repair_state = pb::JobState::Running as i32;
        }
        Ok(Some(progress))
    }

    /// The auditor task of a running server, until `shutdown` is set.
    pub async fn run(self: Arc<Self>, time_scale: u32, mut shutdown: watch::Receiver<bool>) {
        let tick = || async {
            if let Err(e) = self.audit().await {
                tracing::warn!(error = %e, "the audit failed; it runs again at the next period");
            }
        };
        let audits = async {
            // A restart re-arms the timer: a server restarted more often than its period
            // would never audit. So the first audit comes a period after the last one.
            if let Some(wait) = self.catch_up_wait() {
                let mut changes = self.interval.subscribe();
                tokio::select! {
                    () = tokio::time::sleep(wait / time_scale.max(1)) => tick().await,
                    () = self.now.notified() => tick().await,
                    // A new interval counts from its change, as in `schedule`.
                    _ = changes.changed() => {}
                }
            }
            super::schedule(self.interval.subscribe(), &self.now, time_scale, tick).await;
        };
        tokio::select! {
            () = audits => {}
            _ = shutdown.wait_for(|down| *down) => {}
        }
    }

    /// How long until a period has passed since the newest audit; `None` before any audit
    /// (the schedule's first period counts from the start) or with audits off.
    fn catch_up_wait(&self) -> Option<std::time::Duration> {
        let period = self.interval.borrow().period()?;
        let last = self.store.newest_audit_at().ok()??;
        let due = last.saturating_add(i64::try_from(period.as_secs()).unwrap_or(i64::MAX));
        let left = due.saturating_sub(crate::domain::now()).max(0);
        Some(std::time::Duration::from_secs(left.unsigned_abs()))
    }
}

/// Notes how the repair job ended in the audits that started it (or gives up with the server,
/// which halts the job where it stands).
async fn note_the_end(
    store: Store,
    mut progress: watch::Receiver<pb::JobProgress>,
    repaired: Vec<pb::Audit>,
) {
    let end = match progress
        .wait_for(|p| p.state != pb::JobState::Running as i32)
        .await
    {
        Ok(p) => p.state,
        Err(_) => return,
    };
    for mut a in repaired {
        a.repair_state = end;
        if let Err(e) = store.save_audit(&a).await {
            tracing::warn!(error = %e, "could not note the repair's end");
        }
    }
}

/// An audit that read the store and found drift: what the repair is for.
fn drifted(a: &pb::Audit) -> bool {
    !a.in_sync && a.error.is_empty()
}

/// What a reconciliation found, by kind of drift, leaving out what is zero.
fn findings(r: Option<&pb::Reconciliation>) -> Vec<(&'static str, u64)> {
    let Some(r) = r else {
        return Vec::new();
    };
    let counts = [
        ("missing_in_mailchimp", r.missing_in_mailchimp),
        ("orphans", r.orphans),
        ("variants_missing", r.variants_missing),
        ("variants_deleted", r.variants_deleted),
        ("adopted", r.adopted),
        ("promo_codes_missing", r.promo_codes_missing),
        ("store_recreated", i64::from(r.store_recreated)),
    ];
    counts
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(k, n)| (k, n as u64))
        .collect()
}

/// "store xc_…: 3 missing in Mailchimp, 1 promo code missing", for a job's trigger.
pub fn describe(r: Option<&pb::Reconciliation>) -> String {
    let store = r.map_or("", |r| r.store_id.as_str());
    if r.is_some_and(|r| r.store_recreated) {
        return format!("store {store} was deleted in Mailchimp");
    }
    let parts: Vec<String> = findings(r)
        .into_iter()
        .map(|(k, n)| format!("{n} {}", k.replace('_', " ")))
        .collect();
    format!("store {store}: {}", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::mailchimp::MailchimpConfig;

    fn auditor(store: &Store) -> Auditor {
        let mailchimp =
            Arc::new(Mailchimp::new(MailchimpConfig::default(), Default::default()).unwrap());
        let jobs = Arc::new(Jobs::new(store.clone(), mailchimp.clone()));
        Auditor::new(store.clone(), mailchimp, jobs).unwrap()
    }

    async fn audited(store: &Store, store_id: &str, ago: i64) {
        let audit = pb::Audit {
            at: Some(prost_types::Timestamp {
                seconds: crate::domain::now() - ago,
                nanos: 0,
            }),
            found: Some(pb::Reconciliation {
                store_id: store_id.into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        store.save_audit(&audit).await.unwrap();
    }

    /// A restart does not push the next audit a whole period away.
    #[tokio::test]
    async fn the_first_audit_after_a_start_comes_a_period_after_the_last_one() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let a = auditor(&store);
        assert_eq!(
            a.catch_up_wait(),
            None,
            "never audited: a period from the start"
        );

        audited(&store, "s1", 23 * 3600).await;
        audited(&store, "s2", 30 * 3600).await;
        let wait = a.catch_up_wait().unwrap();
        assert!(
            wait <= Duration::from_secs(3600) && wait >= Duration::from_secs(3590),
            "the newest audit counts: {wait:?}"
        );
        audited(&store, "s1", 3 * 24 * 3600).await;
        audited(&store, "s2", 2 * 24 * 3600).await;
        assert_eq!(a.catch_up_wait(), Some(Duration::ZERO), "overdue: at once");

        a.set_interval(ListUpdateInterval::Never);
        assert_eq!(a.catch_up_wait(), None, "audits off");
    }

    #[test]
    fn a_trigger_says_what_was_found() {
        let r = pb::Reconciliation {
            store_id: "xc_1".into(),
            missing_in_mailchimp: 2,
            promo_codes_missing: 1,
            ..Default::default()
        };
        assert_eq!(
            describe(Some(&r)),
            "store xc_1: 2 missing in mailchimp, 1 promo codes missing"
        );
        let gone = pb::Reconciliation {
            store_recreated: true,
            ..r
        };
        assert_eq!(describe(Some(&gone)), "store xc_1 was deleted in Mailchimp");
    }
}
