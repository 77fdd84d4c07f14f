//! MemberEventsService: thin handlers over [`App`], and the follower behind WatchMemberEvents.

use std::pin::Pin;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use crate::app::App;
use crate::proto::v1 as pb;
use crate::proto::v1::member_events_service_server::MemberEventsService;

pub struct MemberEvents(pub Arc<App>);

type EventStream = Pin<Box<dyn Stream<Item = Result<pb::MemberEvent, Status>> + Send>>;

/// Events read from the store per step of a follower.
const STEP: usize = 100;

fn after(sequence: i64, field: &str) -> Result<u64, Status> {
    u64::try_from(sequence).map_err(|_| {
        super::status::invalid(&[crate::domain::ValidationError::new(
            field,
            "must be 0 or more",
        )])
    })
}

#[tonic::async_trait]
impl MemberEventsService for MemberEvents {
    type WatchMemberEventsStream = EventStream;

    async fn watch_member_events(
        &self,
        req: Request<pb::WatchMemberEventsRequest>,
    ) -> Result<Response<EventStream>, Status> {
        let mut place = after(req.into_inner().after_sequence, "after_sequence")?;
        let app = self.0.clone();
        let mut newest = app.member_event_sequence();
        let mut closing = app.closing();
        // Small: a slow reader holds the follower back, never the store.
        let (tx, out) = mpsc::channel(16);
        tokio::spawn(async move {
            loop {
                let page = match app.member_events(place, STEP) {
                    Ok((page, _)) => page,
                    Err(e) => {
                        let _ = tx.send(Err(Status::from(e))).await;
                        return;
                    }
                };
                if page.is_empty() {
                    tokio::select! {
                        changed = newest.changed() => if changed.is_err() { return },
                        _ = closing.wait_for(|c| *c) => return,
                        () = tx.closed() => return,
                    }
                    continue;
                }
                for event in page {
                    place = u64::try_from(event.sequence).unwrap_or(place);
                    if tx.send(Ok(event)).await.is_err() {
                        return; // the reader left
                    }
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(out))))
    }

    async fn list_member_events(
        &self,
        req: Request<pb::ListMemberEventsRequest>,
    ) -> Result<Response<pb::ListMemberEventsResponse>, Status> {
        let req = req.into_inner();
        let place = after(req.after_sequence, "after_sequence")?;
        let limit = match req.limit {
            0 => 100,
            n if (1..=1000).contains(&n) => n as usize,
            n => {
                return Err(super::status::invalid(&[
                    crate::domain::ValidationError::new(
                        "limit",
                        format!("must be between 1 and 1000 (or 0 for 100), not {n}"),
                    ),
                ]));
            }
        };
        let (events, last) = self.0.member_events(place, limit)?;
        Ok(Response::new(pb::ListMemberEventsResponse {
            events,
            last_sequence: i64::try_from(last).unwrap_or(i64::MAX),
        }))
    }
}
