//! `mcsync audit`: the scheduled self-audit of every live store, now; and how `mcsync status`
//! shows a store's last audit.

use super::ops::{Remote, clients, failure};
use super::progress;
use crate::proto::v1 as pb;

pub async fn audit(remote: &Remote) -> Result<(), String> {
    let mut c = clients(remote).await?;
    let audits = c
        .sync
        .audit_stores(pb::AuditStoresRequest {})
        .await
        .map_err(failure)?
        .into_inner()
        .audits;
    if audits.is_empty() {
        println!("Nothing audited: no store has been uploaded yet, or an upload is running.");
    }
    for a in &audits {
        let store = a.found.as_ref().map_or("", |f| f.store_id.as_str());
        println!("{store}: {}", line(a));
    }
    Ok(())
}

/// "2026-12-04T10:00:00Z, 1200 records checked: in sync", or what was found and the repair.
pub fn line(a: &pb::Audit) -> String {
    let when =
        a.at.as_ref()
            .and_then(|t| time::OffsetDateTime::from_unix_timestamp(t.seconds).ok())
            .and_then(|d| {
                d.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
            .unwrap_or_default();
    let head = format!("{when}, {} records checked", a.records_checked);
    if !a.error.is_empty() {
        return format!("{head}: could not check ({})", a.error);
    }
    if a.in_sync {
        return format!("{head}: in sync");
    }
    let found = a
        .found
        .as_ref()
        .map(progress::reconciliation)
        .unwrap_or_default();
    let repair = match pb::JobState::try_from(a.repair_state) {
        Ok(pb::JobState::Succeeded) => "repaired",
        Ok(pb::JobState::Running) => "repairing",
        Ok(pb::JobState::Failed | pb::JobState::Cancelled) => "repair did not finish",
        _ => "no repair started",
    };
    format!("{head}: found {found}; {repair} (job {})", a.repair_job_id)
}
