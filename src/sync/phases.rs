//! The kinds an upload's phases send, in order: one list that uploads, dry runs,
//! reconciliation and audits share, below all of them.

use crate::domain::record::RecordKind;

/// The kinds an upload sends, in order: what orders and carts name goes first.
pub fn phase_kinds(carts: bool) -> Vec<RecordKind> {
    let mut kinds = vec![
        RecordKind::Coupon,
        RecordKind::Product,
        RecordKind::Customer,
        RecordKind::Order,
    ];
    if carts {
        kinds.push(RecordKind::Cart);
    }
    kinds
}
