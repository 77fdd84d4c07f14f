//! Direct phases that run at once. A wave is a run of consecutive direct phases (coupons,
//! products, customers and orders of every store; carts, after `is_syncing=false`, are a wave
//! of their own). Each phase is a lane with its own sliding window and durable cursor, and all
//! lanes share one fan-out, so the key's 10 connections stay busy across what used to be phase
//! boundaries: customers do not wait for products, and orders fill the tails of both.
//!
//! What Mailchimp requires still holds: an order (or cart) starts only once its customer and
//! products are done in their lanes, since Mailchimp would otherwise create the customer from
//! the order and the customer's own create would be refused as a duplicate.

use std::collections::VecDeque;
use std::ops::Range;

use tracing::Instrument;

use super::super::dependencies::push_with_dependencies;
use super::super::fan_out::{FAN_OUT, FanOut};
use super::super::push::{PushError, Pushed};
use super::super::window::Window;
use super::{CHUNK, Phase, RESUME_MAY_EXIST, WINDOW_OPEN, count};
use crate::domain::record::RecordKind;
use crate::proto::v1 as pb;
use crate::store::jobs::PHASE_DONE;
use crate::store::records::decode_stored;

/// A record read from the mirror and waiting for its lane to start it.
struct Waiting {
    key: Vec<u8>,
    id: String,
    record: Result<pb::record::Record, PushError>,
    /// Whether it may already be in Mailchimp (see [`RESUME_MAY_EXIST`]), set by its place in
    /// key order when it enters the window.
    may_exist: bool,
}

/// Which record of a lane starts next.
enum Pick {
    /// One held back until what it names was done.
    Held(usize),
    /// The lane's next record in key order.
    Next,
}

/// One phase of a wave.
struct Lane {
    /// The phase's index in the job.
    i: usize,
    kind: RecordKind,
    store_id: String,
    waiting: VecDeque<Waiting>,
    /// In the window (so the watermark waits for them) but held back: an order or cart whose
    /// customer or products are not done yet. The records after them need not wait.
    held: Vec<Waiting>,
    read_from: Option<Vec<u8>>,
    /// Every record of the mirror has been read.
    exhausted: bool,
    window: Window,
    /// The lane's durable cursor as last saved (at first, the one it resumed from): every
    /// record up to it is done.
    saved: Option<Vec<u8>>,
    /// Records that entered the window, in key order.
    entered: usize,
    /// A resumed job: the first records past the cursor may already be in Mailchimp.
    resumed: bool,
    passed_at_save: usize,
    finished: bool,
    span: tracing::Span,
}

impl Lane {
    /// Whether every record of this lane up to `id` has ended (sent, refused or skipped).
    fn has_done(&self, id: &str) -> bool {
        self.finished
            || self
                .window
                .watermark()
                .or(self.saved.as_deref())
                .is_some_and(|mark| id.as_bytes() <= mark)
    }
}

type Tasks = FanOut<(usize, String), Result<Pushed, PushError>>;

impl Phase<'_> {
    /// Runs the direct phases `range` at once. `may_exist`: the first records each lane sends
    /// may already be in Mailchimp (a resumed job); returns whether that still holds for the
    /// next phase (only when every lane here was already done).
    pub(super) async fn run_wave(
        &self,
        job: &mut pb::JobProgress,
        range: Range<usize>,
        may_exist: bool,
    ) -> Result<bool, super::Stop> {
        let mut lanes = Vec::new();
        for i in range {
            let kind = super::phase_kind(job, i)?;
            let store_id = job.phases[i].store_id.clone();
            let cursor = self.store.cursor(&job.job_id, &store_id, kind)?;
            let finished = cursor.as_deref() == Some(PHASE_DONE);
            let span = tracing::info_span!("phase", store = %store_id, kind = kind.name());
            lanes.push(Lane {
                i,
                kind,
                store_id,
                waiting: VecDeque::new(),
                held: Vec::new(),
                read_from: cursor.clone().filter(|_| !finished),
                exhausted: finished,
                window: Window::default(),
                saved: cursor,
                entered: 0,
                resumed: may_exist,
                passed_at_save: 0,
                finished,
                span,
            });
        }
        if lanes.iter().all(|l| l.finished) {
            return Ok(may_exist);
        }
        let mut tasks: Tasks = FanOut::new(FAN_OUT);
        loop {
            self.signals.check()?;
            for lane in &mut lanes {
                if !lane.finished
                    && lane.exhausted
                    && lane.waiting.is_empty()
                    && lane.window.open() == 0
                {
                    self.finish_lane(job, lane).await?;
                }
            }
            if lanes.iter().all(|l| l.finished) {
                return Ok(false);
            }
            while tasks.running() < FAN_OUT {
                let Some((l, pick)) = self.startable(&mut lanes)? else {
                    break;
                };
                self.start(&mut lanes[l], l, pick, &mut tasks).await;
            }
            if tasks.running() == 0 {
                // Every unfinished lane is waiting for another one that has ended: it is
                // finished at the top of the loop.
                continue;
            }
            let Some(first) = tasks.next().await else {
                continue;
            };
            let mut ended = vec![first];
            ended.extend(tasks.ended());
            for ((l, id), result) in ended {
                let lane = &mut lanes[l];
                lane.window.ended(id.as_bytes());
                let result = result.unwrap_or_else(|p| Err(p.into()));
                count(self.store, job, lane.i, lane.kind, id, result)?;
            }
            for lane in &mut lanes {
                if lane.window.passed() - lane.passed_at_save >= CHUNK {
                    lane.passed_at_save = lane.window.passed();
                    self.save_lane(job, lane).await?;
                }
            }
        }
    }

    /// The first lane, in phase order, with a record that can start now: one it held back
    /// whose customer and products are done in their lanes, or else its next one, when its
    /// window has room. A next record that must wait is held back (it stays in the window), so
    /// the records after it go on.
    fn startable(&self, lanes: &mut [Lane]) -> Result<Option<(usize, Pick)>, super::Stop> {
        for l in 0..lanes.len() {
            if lanes[l].finished {
                continue;
            }
            let lane = &lanes[l];
            if let Some(h) = lane
                .held
                .iter()
                .position(|w| !waits_for_another_lane(lanes, lane, w))
            {
                return Ok(Some((l, Pick::Held(h))));
            }
            while lanes[l].window.open() < WINDOW_OPEN {
                self.refill(&mut lanes[l])?;
                let Some(next) = lanes[l].waiting.front() else {
                    break;
                };
                if !waits_for_another_lane(lanes, &lanes[l], next) {
                    return Ok(Some((l, Pick::Next)));
                }
                let held = enter(&mut lanes[l]);
                lanes[l].held.push(held);
            }
        }
        Ok(None)
    }

    /// Reads the lane's next page of records from the mirror when none is waiting.
    fn refill(&self, lane: &mut Lane) -> Result<(), super::Stop> {
        if !lane.waiting.is_empty() || lane.exhausted {
            return Ok(());
        }
        let page = self
            .store
            .records_after(lane.kind, lane.read_from.as_deref(), CHUNK)?;
        if page.len() < CHUNK {
            lane.exhausted = true;
        }
        for (key, bytes) in page {
            let id = String::from_utf8_lossy(&key).into_owned();
            let record = decode_stored(lane.kind, &id, &bytes).map_err(PushError::from);
            lane.read_from = Some(key.clone());
            lane.waiting.push_back(Waiting {
                key,
                id,
                record,
                may_exist: false,
            });
        }
        Ok(())
    }

    async fn start(&self, lane: &mut Lane, l: usize, pick: Pick, tasks: &mut Tasks) {
        let Waiting {
            id,
            record,
            may_exist: first,
            ..
        } = match pick {
            Pick::Held(h) => lane.held.remove(h),
            // Only ever picked when the lane's window has room.
            Pick::Next => enter(lane),
        };
        let (store, ctx, sid, kind) = (
            self.store.clone(),
            self.ctx.clone(),
            lane.store_id.clone(),
            lane.kind,
        );
        let key = (l, id.clone());
        let work = async move {
            let record = record?;
            push_with_dependencies(&store, &ctx, &sid, kind, &id, Some(&record), first).await
        };
        tasks.spawn(key, work.instrument(lane.span.clone())).await;
    }

    async fn save_lane(
        &self,
        job: &mut pb::JobProgress,
        lane: &mut Lane,
    ) -> Result<(), super::Stop> {
        let (store_id, kind) = (&lane.store_id, lane.kind);
        self.save_watermark(job, store_id, kind, &lane.window, &mut lane.saved)
            .await
    }

    /// A lane with every record ended: its last watermark, then what the shop deleted, then
    /// the phase is done.
    async fn finish_lane(
        &self,
        job: &mut pb::JobProgress,
        lane: &mut Lane,
    ) -> Result<(), super::Stop> {
        self.save_lane(job, lane).await?;
        self.finish(job, lane.i, lane.kind, &lane.store_id)
            .instrument(lane.span.clone())
            .await?;
        lane.finished = true;
        Ok(())
    }
}

/// Takes the lane's next record into its window (the watermark waits for it from now on).
fn enter(lane: &mut Lane) -> Waiting {
    let mut w = lane.waiting.pop_front().expect("a record is waiting");
    lane.window.started(w.key.clone());
    w.may_exist = lane.resumed && lane.entered < RESUME_MAY_EXIST;
    lane.entered += 1;
    w
}

/// Whether `next` (of `lane`) names a customer or a product that a lane of its store has not
/// done yet.
fn waits_for_another_lane(lanes: &[Lane], lane: &Lane, next: &Waiting) -> bool {
    let (customer, lines) = match &next.record {
        Ok(pb::record::Record::Order(o)) => (o.customer.as_ref(), o.lines.as_slice()),
        Ok(pb::record::Record::Cart(c)) => (c.customer.as_ref(), c.lines.as_slice()),
        _ => return false,
    };
    let pending = |kind: RecordKind, id: &str| {
        lanes
            .iter()
            .any(|o| o.kind == kind && o.store_id == lane.store_id && !o.has_done(id))
    };
    customer.is_some_and(|c| pending(RecordKind::Customer, &c.id))
        || lines
            .iter()
            .any(|line| pending(RecordKind::Product, &line.product_id))
}
