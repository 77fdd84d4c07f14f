//! "Audit the stores now": the scheduled self-audit (`sync::audit`), on an operator's request.

use super::{App, AppError};
use crate::proto::v1 as pb;

impl App {
    /// Audits every live store now; drift starts the repair job.
    pub async fn audit_stores(&self) -> Result<Vec<pb::Audit>, AppError> {
        Ok(self.auditor.audit().await?)
    }

    /// The scheduled audit, now: the auditor's worker runs it as if its period had come (a
    /// test's trigger in place of a day's wait).
    pub fn request_audit(&self) {
        self.auditor.request_now();
    }
}
