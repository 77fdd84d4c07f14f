//! Property tests: whatever a client sends, as well-formed messages with hostile values or as
//! random bytes, validation and storage never panic, every refusal names a field, and every
//! accepted record reads back exactly as it was normalised.

use mcsync::domain::record::{Change, parse};
use mcsync::proto::v1::{self as pb, record::Record as R};
use mcsync::store::Store;
use mcsync::store::records::Prepared;
use proptest::prelude::*;
use prost::Message;

/// Checks one message: parsed, and stored and read back when accepted.
fn check(store: &Store, record: pb::Record) -> Result<(), TestCaseError> {
    match parse(record) {
        Err(refused) => {
            prop_assert!(!refused.errors.is_empty(), "a refusal says why");
            for e in &refused.errors {
                prop_assert!(!e.field.is_empty(), "every error names a field: {e:?}");
                prop_assert!(!e.reason.is_empty());
            }
        }
        Ok(change) => {
            store
                .apply_prepared(&[Prepared::from(&change)])
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            if let Change::Upsert(valid) = &change {
                let stored = store
                    .record(valid.kind(), valid.id())
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                let (_, bytes) = stored.expect("an accepted record is stored");
                prop_assert_eq!(bytes, valid.encode(), "read back as normalised");
            }
        }
    }
    Ok(())
}

/// Text a hostile client would send: any characters, sometimes very long.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,20}",
        "[a-z0-9@._+-]{0,60}",
        "[0-9]{0,12}(\\.[0-9]{0,4})?",
        ".{200,600}",
    ]
}

fn line() -> impl Strategy<Value = pb::LineItem> {
    (text(), text(), text(), any::<i64>(), text(), text()).prop_map(
        |(id, product_id, variant_id, quantity, price, discount)| pb::LineItem {
            id,
            product_id,
            variant_id,
            quantity,
            price,
            discount,
            ..Default::default()
        },
    )
}

fn record() -> impl Strategy<Value = pb::Record> {
    let product = (text(), text(), text(), text(), any::<i64>()).prop_map(
        |(id, title, url, price, inventory)| {
            R::Product(pb::Product {
                id,
                title,
                url,
                price,
                inventory_quantity: inventory,
                ..Default::default()
            })
        },
    );
    let customer =
        (text(), text(), text(), any::<bool>()).prop_map(|(id, email, name, consent)| {
            R::Customer(pb::Customer {
                id,
                email,
                first_name: name,
                accepts_marketing: consent,
                ..Default::default()
            })
        });
    let order = (text(), text(), text(), prop::collection::vec(line(), 0..8)).prop_map(
        |(id, email, total, lines)| {
            R::Order(pb::Order {
                id,
                customer: Some(pb::OrderCustomer {
                    id: email.clone(),
                    email,
                    ..Default::default()
                }),
                currency_code: "USD".into(),
                order_total: total,
                lines,
                ..Default::default()
            })
        },
    );
    let cart =
        (text(), text(), prop::collection::vec(line(), 0..8)).prop_map(|(id, email, lines)| {
            R::Cart(pb::Cart {
                id,
                customer: Some(pb::OrderCustomer {
                    id: email.clone(),
                    email,
                    ..Default::default()
                }),
                lines,
                ..Default::default()
            })
        });
    let coupon = (text(), text(), text(), prop::collection::vec(text(), 0..4)).prop_map(
        |(id, code, value, product_ids)| {
            R::Coupon(pb::Coupon {
                id,
                code,
                value,
                product_ids,
                ..Default::default()
            })
        },
    );
    let delete =
        (any::<i32>(), text()).prop_map(|(kind, id)| R::Delete(pb::RecordKey { kind, id }));
    prop_oneof![product, customer, order, cart, coupon, delete]
        .prop_map(|r| pb::Record { record: Some(r) })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn any_well_formed_message_is_refused_by_field_or_stored_exactly(record in record()) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        check(&store, record)?;
    }

    #[test]
    fn random_bytes_decoded_as_a_record_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(record) = pb::Record::decode(bytes.as_slice()) {
            let dir = tempfile::tempdir().unwrap();
            let store = Store::open(dir.path()).unwrap();
            check(&store, record)?;
        }
    }
}
