//! `mcsync audit`: the scheduled self-audit of every live store, now.

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
        println!("{store}: {}", progress::audit(a));
    }
    Ok(())
}
