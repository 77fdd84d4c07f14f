//! Live sync's building blocks: which records a slice of the outbox touches (several changes of
//! one record coalesce into one push of what the mirror holds now, which also keeps each
//! record's changes in order), and in which order they go (a record's dependencies first).

use std::collections::HashSet;

use crate::domain::record::RecordKind;
use crate::store::records::OutboxEntry;

/// The distinct records of `entries`, dependencies first, otherwise in the order of their
/// first change.
pub fn coalesce(entries: &[OutboxEntry]) -> Vec<(RecordKind, String)> {
    let mut seen = HashSet::new();
    let mut out: Vec<(RecordKind, String)> = entries
        .iter()
        .filter(|e| seen.insert((e.kind, e.id.as_str())))
        .map(|e| (e.kind, e.id.clone()))
        .collect();
    out.sort_by_key(|(kind, _)| kind.rank());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::records::Operation;

    fn entry(sequence: u64, kind: RecordKind, id: &str, operation: Operation) -> OutboxEntry {
        OutboxEntry {
            sequence,
            kind,
            operation,
            id: id.into(),
            written_at_ms: None,
        }
    }

    #[test]
    fn changes_of_one_record_coalesce_and_products_go_before_orders() {
        use Operation::*;
        use RecordKind::*;
        let entries = [
            entry(1, Order, "100", Upsert),
            entry(2, Product, "p1", Upsert),
            entry(3, Order, "100", Upsert),
            entry(4, Cart, "c1", Upsert),
            entry(5, Product, "p2", Upsert),
            entry(6, Cart, "c1", Delete),
            entry(7, Product, "p1", Upsert),
        ];
        assert_eq!(
            coalesce(&entries),
            [
                (Product, "p1".to_string()),
                (Product, "p2".to_string()),
                (Order, "100".to_string()),
                (Cart, "c1".to_string()),
            ]
        );
    }
}
