//! Showing a job's progress: on a terminal, indicatif redraws one line per store check, phase
//! and summary in place (cut to the terminal's width below 80 columns); otherwise one plain
//! line per update (logs, pipes, CI).

use std::io::{IsTerminal, Write};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::proto::v1 as pb;

/// Every line fits 80 columns: a list id is cut at 10 characters, a bar is 18 wide.
pub struct ProgressView {
    /// The terminal's lines, one indicatif line each; `None` off a terminal.
    tty: Option<(MultiProgress, Vec<ProgressBar>)>,
    /// Reconciliations already printed (plain output).
    reconciled: usize,
    /// The last plain line, so that an unchanged update prints nothing.
    last: String,
}

pub fn kind_name(kind: i32) -> &'static str {
    crate::domain::record::kind_from_pb(kind).map_or("records", |k| k.plural())
}

pub fn state_name(state: i32) -> &'static str {
    match pb::JobState::try_from(state) {
        Ok(pb::JobState::Running) => "running",
        Ok(pb::JobState::Succeeded) => "succeeded",
        Ok(pb::JobState::Failed) => "failed",
        Ok(pb::JobState::Cancelled) => "cancelled",
        _ => "unknown",
    }
}

fn bar(fraction: f64, width: usize) -> String {
    let full = ((fraction.clamp(0.0, 1.0)) * width as f64).round() as usize;
    format!("[{}{}]", "#".repeat(full), "-".repeat(width - full))
}

fn eta(seconds: f64) -> String {
    if seconds <= 0.0 {
        return "-".into();
    }
    let s = seconds.round() as u64;
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, s % 3600 / 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

/// The one-line summary of a job.
pub fn summary(p: &pb::JobProgress) -> String {
    let (mut done, mut total) = (0, 0);
    for ph in &p.phases {
        done += ph.done + ph.skipped + ph.failed;
        total += ph.total;
    }
    format!(
        "{} {} {:.1}% ({done}/{total}) {:.0} records/s ETA {}",
        p.job_id,
        state_name(p.state),
        p.percent,
        p.rate,
        eta(p.eta_seconds)
    )
}

impl ProgressView {
    pub fn new() -> Self {
        let tty = std::io::stdout().is_terminal().then(|| {
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stdout_with_hz(8));
            (multi, Vec::new())
        });
        Self {
            tty,
            reconciled: 0,
            last: String::new(),
        }
    }

    pub fn show(&mut self, p: &pb::JobProgress) {
        let Some((multi, lines)) = &mut self.tty else {
            let mut out = std::io::stdout().lock();
            for r in p.reconciliations.iter().skip(self.reconciled) {
                let _ = writeln!(out, "{}", reconciliation(r));
            }
            self.reconciled = p.reconciliations.len();
            let line = summary(p);
            if line != self.last {
                let _ = writeln!(out, "{line}");
                self.last = line;
            }
            return;
        };
        let screen = screen(p);
        // `wide_msg` cuts a line to the terminal's width, so nothing wraps below 80 columns.
        let style = ProgressStyle::with_template("{wide_msg}").expect("a valid template");
        while lines.len() < screen.len() {
            lines.push(multi.add(ProgressBar::new(0).with_style(style.clone())));
        }
        for (bar, line) in lines.iter().zip(screen) {
            bar.set_message(line);
        }
        if p.state != pb::JobState::Running as i32 {
            for bar in lines.iter() {
                bar.finish();
            }
        }
    }
}

/// The lines a terminal shows for a job: each store's check, a bar per phase, the summary.
fn screen(p: &pb::JobProgress) -> Vec<String> {
    let mut lines: Vec<String> = p.reconciliations.iter().map(reconciliation).collect();
    for ph in &p.phases {
        let processed = ph.done + ph.skipped + ph.failed;
        let fraction = if ph.total == 0 {
            1.0
        } else {
            processed as f64 / ph.total as f64
        };
        lines.push(format!(
            "{:<10.10} {:<9} {} {:>7}/{:<7} skip {:<6} fail {}",
            ph.list_id,
            kind_name(ph.kind),
            bar(fraction, 18),
            processed,
            ph.total,
            ph.skipped,
            ph.failed
        ));
    }
    lines.push(summary(p));
    lines
}

/// What reconciling a store found, in one line.
pub fn reconciliation(r: &pb::Reconciliation) -> String {
    let mut line = format!(
        "{:<10.10} missing {} orphans {} adopted {}",
        r.list_id, r.missing_in_mailchimp, r.orphans, r.adopted
    );
    if r.variants_missing + r.variants_deleted > 0 {
        line.push_str(&format!(
            " var +{}/-{}",
            r.variants_missing, r.variants_deleted
        ));
    }
    if r.promo_codes_missing > 0 {
        line.push_str(&format!(" codes {}", r.promo_codes_missing));
    }
    if r.store_recreated {
        line.push_str(" rebuilt");
    }
    line
}

/// "list1234 would get 10 new contacts: 4 subscribed, 0 pending, 6 transactional".
pub fn new_contacts(c: &pb::NewContacts) -> String {
    let n = c.subscribed + c.pending + c.transactional;
    let bound = if c.exact { "" } else { "at most " };
    format!(
        "{:<10.10} would get {bound}{n} new contacts: {} subscribed, {} pending, {} transactional",
        c.list_id, c.subscribed, c.pending, c.transactional
    )
}

/// A dry run's plan: what each store found, then a row per store and kind (fits 80 columns).
pub fn plan_table(p: &pb::JobProgress) -> String {
    let mut out = String::from("Dry run: nothing was sent to Mailchimp.\n");
    for r in &p.reconciliations {
        out.push_str(&reconciliation(r));
        out.push('\n');
    }
    for c in &p.new_contacts {
        out.push_str(&new_contacts(c));
        out.push('\n');
    }
    for t in &p.tag_rules {
        out.push_str(&format!(
            "{:<10.10} tag {:?}: {} would gain it, {} would lose it\n",
            t.list_id, t.tag, t.gain, t.lose
        ));
    }
    out.push_str(&format!(
        "{:<10} {:<9} {:>9} {:>9} {:>9} {:>10}\n",
        "list", "kind", "create", "update", "delete", "unchanged"
    ));
    for ph in &p.plan {
        out.push_str(&format!(
            "{:<10.10} {:<9} {:>9} {:>9} {:>9} {:>10}\n",
            ph.list_id,
            kind_name(ph.kind),
            ph.creates,
            ph.updates,
            ph.deletes,
            ph.unchanged
        ));
    }
    out
}

/// The job's refused records, for the end of a run.
pub fn errors(p: &pb::JobProgress) -> String {
    let mut out = String::new();
    for e in &p.errors {
        out.push_str(&format!(
            "  {} {} {}: {} {}: {}",
            e.store_id,
            kind_name(e.kind),
            e.id,
            e.status,
            e.title,
            e.detail
        ));
        for f in &e.field_errors {
            out.push_str(&format!("\n    {f}"));
        }
        out.push('\n');
    }
    out
}

/// A timestamp as RFC 3339 ("2026-12-04T10:00:00Z"), or its seconds if out of range.
pub fn rfc3339(t: &prost_types::Timestamp) -> String {
    time::OffsetDateTime::from_unix_timestamp(t.seconds)
        .ok()
        .and_then(|d| {
            d.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| t.seconds.to_string())
}

/// "2026-12-04T10:00:00Z, 1200 records checked: in sync", or what was found and the repair.
pub fn audit(a: &pb::Audit) -> String {
    let when = a.at.as_ref().map(rfc3339).unwrap_or_default();
    let head = format!("{when}, {} records checked", a.records_checked);
    if !a.error.is_empty() {
        return format!("{head}: could not check ({})", a.error);
    }
    if a.in_sync {
        return format!("{head}: in sync");
    }
    let found = a.found.as_ref().map(reconciliation).unwrap_or_default();
    let repair = match pb::JobState::try_from(a.repair_state) {
        Ok(pb::JobState::Succeeded) => "repaired",
        Ok(pb::JobState::Running) => "repairing",
        Ok(pb::JobState::Failed | pb::JobState::Cancelled) => "repair did not finish",
        _ => "no repair started",
    };
    format!("{head}: found {found}; {repair} (job {})", a.repair_job_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_fits_80_columns_with_large_figures() {
        let phase = pb::PhaseProgress {
            list_id: "a-very-long-list-id-indeed".into(),
            kind: pb::RecordKind::Customer as i32,
            total: 9_999_999,
            done: 8_900_000,
            skipped: 999_999,
            failed: 99_999,
            ..Default::default()
        };
        let job = pb::JobProgress {
            job_id: "job-001796203449496".into(),
            state: pb::JobState::Running as i32,
            phases: vec![phase; 5],
            reconciliations: vec![pb::Reconciliation {
                list_id: "a-very-long-list-id-indeed".into(),
                missing_in_mailchimp: 999_999,
                orphans: 99_999,
                adopted: 99_999,
                variants_missing: 9_999,
                variants_deleted: 9_999,
                store_recreated: true,
                ..Default::default()
            }],
            percent: 99.9,
            rate: 12_345.0,
            eta_seconds: 7_000.0,
            ..Default::default()
        };
        for line in screen(&job) {
            assert!(line.chars().count() <= 80, "{} columns: {line}", line.len());
        }
    }
}
