//! Sending one shop record to one Mailchimp store, idempotently: nothing when Mailchimp already
//! has this exact body, an update (never a second create) when it has an older one, a create
//! otherwise, and an "already exists" answer turns a create into an update. The building block
//! of uploads and of live sync.

use crate::domain::cart_link::CartLinks;
use serde_json::Value;

use crate::domain::CouponUploadMode;
use crate::domain::record::RecordKind;
use crate::mailchimp::ecommerce::{self as map, Patchable};
use crate::mailchimp::{
    AccountClient, Collection, ErrorKind, MailchimpError, Records, Request, Verb,
};
use crate::proto::v1 as pb;
use crate::store::records::{HASH_LEN, content_hash};
use crate::store::synced::MAYBE;
use crate::store::{Store, StoreError};

/// Where a record goes, and the settings that shape what is sent.
pub struct Target<'a> {
    /// The connected account's client.
    pub client: &'a AccountClient,
    /// The Mailchimp store.
    pub store_id: &'a str,
    /// The shop's URL (promo codes link to it).
    pub shop_url: &'a str,
    /// Which coupons go to Mailchimp.
    pub coupon_mode: CouponUploadMode,
    /// The merchant's single opt-in: only then may a consenting customer be subscribed by
    /// Mailchimp itself (`opt_in_status: true`).
    pub single_opt_in: bool,
    /// Where a consenting customer's pending subscription is queued under double opt-in;
    /// `None` leaves consent alone (a push outside any account's settings).
    pub consent: Option<Consent<'a>>,
    /// A cart's `checkout_url` is its recovery link when the merchant set a recovery page.
    pub cart_links: Option<&'a CartLinks>,
}

/// The account and its selected lists, to find the audience of a store.
#[derive(Clone, Copy)]
pub struct Consent<'a> {
    /// The connected account.
    pub account_id: &'a str,
    /// (list id, list name) of every selected list.
    pub lists: &'a [(String, String)],
    /// Where Mailchimp's unsubscribes are kept (`Store::suppression`).
    pub store: &'a Store,
    /// The merchant's merge-field maps (`sync::member_fields`).
    pub merge_maps: &'a super::member_fields::MergeMaps,
}

impl Consent<'_> {
    /// The audiences of a store (one, unless two selections ever shared it).
    pub fn lists_of(&self, store_id: &str) -> impl Iterator<Item = &str> {
        self.lists
            .iter()
            .map(|(l, _)| l.as_str())
            .filter(move |list| {
                self.store
                    .mc_store(self.account_id, list)
                    .ok()
                    .flatten()
                    .as_deref()
                    == Some(store_id)
            })
    }

    /// Whether Mailchimp unsubscribed or cleaned this email on the store's audience: then no
    /// sync may subscribe it there again. A store that cannot be read counts as yes.
    fn suppressed(&self, store_id: &str, email: &str) -> bool {
        self.lists_of(store_id)
            .any(|list| !matches!(self.store.suppression(list, email), Ok(None)))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
/// What a push did.
pub enum Pushed {
    /// Mailchimp did not have it: created.
    Created,
    /// Mailchimp had an older body: updated.
    Updated,
    /// Mailchimp already has this exact body: no request was sent.
    Unchanged,
    /// Deleted from Mailchimp.
    Deleted,
    /// Nothing to do: a coupon the upload mode leaves out, or a delete of what Mailchimp lacks.
    Skipped,
}

#[derive(Debug, thiserror::Error)]
/// Why a push did not happen.
pub enum PushError {
    #[error(transparent)]
    /// Mailchimp refused or failed (the caller sorts refusals from outages).
    Mailchimp(#[from] MailchimpError),
    /// This record keeps failing (5xx, no answer) after its retries while Mailchimp answers
    /// other requests: parked like a refusal, so that it never stalls the rest.
    #[error("keeps failing while Mailchimp is up: {0}")]
    Failing(MailchimpError),
    #[error(transparent)]
    /// The store failed.
    Store(#[from] StoreError),
    /// The push's task panicked: the record is listed as failed, like a refusal.
    #[error(transparent)]
    Panicked(#[from] super::fan_out::Panicked),
}

fn hash(bodies: &[&Value]) -> [u8; HASH_LEN] {
    // serde_json's maps are ordered, so equal bodies serialise identically.
    content_hash(&serde_json::to_vec(bodies).expect("JSON values serialise"))
}

/// Sends `record` (or deletes the record when `None`) to the target store.
pub async fn push(
    store: &Store,
    t: &Target<'_>,
    kind: RecordKind,
    id: &str,
    record: Option<&pb::record::Record>,
) -> Result<Pushed, PushError> {
    push_as(store, t, kind, id, record, false).await
}

/// [`push`], told whether Mailchimp may have the record although we never saw it accepted (a
/// request in flight when the process died, or a create a batch found existing): then an
/// update is tried before a create, so that no create is ever sent twice.
///
/// A record that still fails with a 5xx (or no answer) after its retries is told apart from
/// an outage by one `GET /ping`: if Mailchimp answers that, the record is [`PushError::Failing`].
pub async fn push_as(
    store: &Store,
    t: &Target<'_>,
    kind: RecordKind,
    id: &str,
    record: Option<&pb::record::Record>,
    may_exist: bool,
) -> Result<Pushed, PushError> {
    match push_once(store, t, kind, id, record, may_exist).await {
        Err(PushError::Mailchimp(e)) if e.is_unavailable() && t.client.ping().await.is_ok() => {
            Err(PushError::Failing(e))
        }
        other => other,
    }
}

async fn push_once(
    store: &Store,
    t: &Target<'_>,
    kind: RecordKind,
    id: &str,
    record: Option<&pb::record::Record>,
    may_exist: bool,
) -> Result<Pushed, PushError> {
    let synced = store.synced_hash(t.store_id, kind, id)?;
    let Some(record) = record else {
        // Mailchimp never had it from us: nothing to delete.
        if synced.is_none() && !may_exist {
            return Ok(Pushed::Skipped);
        }
        return delete(store, t, kind, id).await;
    };
    match record {
        pb::record::Record::Coupon(c) => {
            return coupon(store, t, c, synced, may_exist).await;
        }
        // An emptied cart has nothing to remind anyone of.
        pb::record::Record::Cart(c) if c.lines.is_empty() => {
            return if synced.is_some() {
                delete(store, t, kind, id).await
            } else {
                Ok(Pushed::Skipped)
            };
        }
        _ => {}
    }
    if let pb::record::Record::Customer(c) = record {
        member_side(store, t, c)?;
    }
    let p = match decide(t, kind, id, record, synced, may_exist) {
        Plan::Unchanged => return Ok(Pushed::Unchanged),
        Plan::Direct => return Ok(Pushed::Skipped),
        Plan::Send(p) => p,
    };
    let outcome = if p.request.verb() == Verb::Upsert {
        put_customer(t.client, records(t, kind), id, &p.body).await?;
        if p.creates {
            Pushed::Created
        } else {
            Pushed::Updated
        }
    } else {
        let create = entity_body(record, t).expect("decide planned a body");
        let patch = patch_of(kind).map_or_else(|| create.clone(), |w| map::patch_body(w, &create));
        let rec = Rec { kind, id };
        let bodies = (&create, &patch);
        let known = p.request.verb() == Verb::Update;
        upsert(store, t, rec, records(t, kind), bodies, known).await?
    };
    store.set_synced(t.store_id, kind, id, p.hash)?;
    if let (Pushed::Created, pb::record::Record::Order(o)) = (outcome, record) {
        placed_cart(store, t, &o.cart_id).await?;
    }
    Ok(outcome)
}

/// What a customer's push owes its audiences' members: consent, and mapped merge fields.
fn member_side(store: &Store, t: &Target<'_>, c: &pb::Customer) -> Result<(), PushError> {
    consent(store, t, c)?;
    if let Some(consent) = &t.consent {
        super::member_fields::queue(store, consent, t.store_id, c)?;
    }
    Ok(())
}

/// Under double opt-in, a customer who accepted marketing is never subscribed by the
/// e-commerce API (the body says `opt_in_status: false`); instead one subscription request is
/// queued for the store's audience, which the subscription worker applies as a `pending`
/// member, so that Mailchimp mails the confirmation link. Queued once per email and audience,
/// and never where the shop has asked anything for that email already. Written before the
/// customer's own push is noted: sled keeps writes in order, so a crash that loses this loses
/// that note too, and the customer (with its consent) is pushed again.
fn consent(store: &Store, t: &Target<'_>, c: &pb::Customer) -> Result<(), PushError> {
    let Some(consent) = t.consent else {
        return Ok(());
    };
    if !c.accepts_marketing || t.single_opt_in {
        return Ok(());
    }
    for (list_id, _) in consent.lists {
        if store.mc_store(consent.account_id, list_id)?.as_deref() == Some(t.store_id)
            && store.suppression(list_id, &c.email)?.is_none()
        {
            store.queue_consent(consent.account_id, list_id, c)?;
        }
    }
    Ok(())
}

/// Customers have an upsert. Mailchimp refuses to change a customer's email, so a customer
/// whose email changed is deleted and created again under the same id: its orders name that
/// id, so they stay attributed to it.
async fn put_customer(
    client: &AccountClient,
    customers: Records<'_>,
    id: &str,
    body: &Value,
) -> Result<(), MailchimpError> {
    let put = customers.upsert(id);
    match client.execute(&put, Some(body)).await {
        Err(e) if e.kind() == ErrorKind::ImmutableField => {
            match client.execute(&customers.delete(id), None).await {
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
            client.execute(&put, Some(body)).await?;
            Ok(())
        }
        other => other.map(|_| ()),
    }
}

/// A placed order's cart leaves the store, if it is there.
async fn placed_cart(store: &Store, t: &Target<'_>, cart_id: &str) -> Result<(), PushError> {
    if cart_id.is_empty()
        || store
            .synced_hash(t.store_id, RecordKind::Cart, cart_id)?
            .is_none()
    {
        return Ok(());
    }
    delete(store, t, RecordKind::Cart, cart_id).await?;
    Ok(())
}

/// The create body of a product, customer, order or cart; `None` for a coupon (a rule and a
/// code) and a delete.
fn entity_body(record: &pb::record::Record, t: &Target<'_>) -> Option<Value> {
    use pb::record::Record as R;
    match record {
        R::Product(p) => Some(map::product_body(p)),
        R::Customer(c) => Some(map::customer_body(c, may_subscribe(t, c))),
        R::Order(o) => Some(map::order_body(o)),
        R::Cart(c) => {
            let link = t.cart_links.and_then(|l| l.link(t.store_id, &c.id));
            Some(map::cart_body(c, link.as_deref()))
        }
        R::Coupon(_) | R::Delete(_) => None,
    }
}

/// Whether a consenting customer may be subscribed by Mailchimp itself (`opt_in_status:
/// true`): only under single opt-in, and never where Mailchimp unsubscribed or cleaned the
/// email (a member Mailchimp deleted would otherwise come back subscribed).
fn may_subscribe(t: &Target<'_>, c: &pb::Customer) -> bool {
    t.single_opt_in
        && !t
            .consent
            .as_ref()
            .is_some_and(|consent| consent.suppressed(t.store_id, &c.email))
}

/// The PATCH body of a kind: the create body less what its PATCH does not take.
fn patch_of(kind: RecordKind) -> Option<Patchable> {
    match kind {
        RecordKind::Product => Some(Patchable::Product),
        RecordKind::Order => Some(Patchable::Order),
        RecordKind::Cart => Some(Patchable::Cart),
        RecordKind::Coupon => Some(Patchable::PromoRule),
        RecordKind::Customer => None,
    }
}

/// One request that brings Mailchimp up to date with a record, for a batch.
#[derive(Debug, Clone)]
pub struct Planned {
    /// The request.
    pub request: Request,
    /// Its body.
    pub body: Value,
    hash: [u8; HASH_LEN],
    creates: bool,
}

/// What settling a planned request needs once its body has gone to Mailchimp: a window of
/// batches keeps this, not the bodies.
#[derive(Debug, Clone, Copy)]
pub struct Sent {
    /// The request's verb.
    pub verb: Verb,
    hash: [u8; HASH_LEN],
    creates: bool,
}

impl Planned {
    /// What settling this request needs.
    pub fn sent(&self) -> Sent {
        Sent {
            verb: self.request.verb(),
            hash: self.hash,
            creates: self.creates,
        }
    }
}

/// What a batch sends for one record.
pub enum Plan {
    /// Nothing to send: Mailchimp has this exact body.
    Unchanged,
    /// One request.
    Send(Planned),
    /// Not one request: push it with [`push`].
    Direct,
}

/// What [`push_as`] would send for a record, without sending it: one request, nothing, or
/// more than one request (a coupon's rule and code, a delete, an emptied cart, an order whose
/// cart Mailchimp has and must lose), which only [`push_as`] sends.
pub fn plan(
    store: &Store,
    t: &Target<'_>,
    kind: RecordKind,
    id: &str,
    record: &pb::record::Record,
    may_exist: bool,
) -> Result<Plan, PushError> {
    use pb::record::Record as R;
    let more_than_one = match record {
        R::Cart(c) => c.lines.is_empty(),
        R::Order(o) => {
            !o.cart_id.is_empty()
                && store
                    .synced_hash(t.store_id, RecordKind::Cart, &o.cart_id)?
                    .is_some()
        }
        _ => false,
    };
    if more_than_one {
        return Ok(Plan::Direct);
    }
    if let R::Customer(c) = record {
        member_side(store, t, c)?;
    }
    let synced = store.synced_hash(t.store_id, kind, id)?;
    Ok(decide(t, kind, id, record, synced, may_exist))
}

/// The one request that brings Mailchimp up to date with a product, customer, order or cart,
/// given the hash it last accepted; [`Plan::Direct`] for the rest.
fn decide(
    t: &Target<'_>,
    kind: RecordKind,
    id: &str,
    record: &pb::record::Record,
    synced: Option<[u8; HASH_LEN]>,
    may_exist: bool,
) -> Plan {
    let Some(body) = entity_body(record, t) else {
        return Plan::Direct;
    };
    let h = hash(&[&body]);
    if synced == Some(h) {
        return Plan::Unchanged;
    }
    let records = records(t, kind);
    let (request, body) = match patch_of(kind) {
        None => (records.upsert(id), body),
        Some(what) if synced.is_some() || may_exist => {
            (records.update(id), map::patch_body(what, &body))
        }
        Some(_) => (records.create(), body),
    };
    let creates = match request.verb() {
        Verb::Create => true,
        Verb::Upsert => synced.is_none(),
        Verb::Update | Verb::Delete => false,
    };
    Plan::Send(Planned {
        request,
        body,
        creates,
        hash: h,
    })
}

/// Notes that Mailchimp may hold a record whose create had an ambiguous answer (a 5xx, no
/// answer, a broken connection), so that every later push of it, in this job, a later one or
/// live sync, updates first. Called before a batch's 5xx is settled too.
pub fn maybe_created(
    store: &Store,
    t: &Target<'_>,
    kind: RecordKind,
    id: &str,
) -> Result<(), PushError> {
    if store.synced_hash(t.store_id, kind, id)?.is_none() {
        store.set_synced(t.store_id, kind, id, MAYBE)?;
    }
    Ok(())
}

/// Records that Mailchimp accepted a planned request.
pub fn accepted(
    store: &Store,
    t: &Target<'_>,
    kind: RecordKind,
    id: &str,
    sent: &Sent,
) -> Result<Pushed, PushError> {
    store.set_synced(t.store_id, kind, id, sent.hash)?;
    Ok(if sent.creates {
        Pushed::Created
    } else {
        Pushed::Updated
    })
}

/// The record a request is for, where its "maybe created" note is kept.
#[derive(Clone, Copy)]
struct Rec<'a> {
    kind: RecordKind,
    id: &'a str,
}

/// Update what Mailchimp has from us, create what it has not; never create twice. A create
/// whose answer was ambiguous is noted ([`maybe_created`]) and followed by an update (which
/// finds it, or answers 404 and the create is tried again), within the retry policy's attempts.
async fn upsert(
    store: &Store,
    t: &Target<'_>,
    rec: Rec<'_>,
    records: Records<'_>,
    (create, patch): (&Value, &Value),
    known: bool,
) -> Result<Pushed, PushError> {
    let client = t.client;
    let update = records.update(rec.id);
    let mut known = known;
    let mut attempt = 0;
    loop {
        attempt += 1;
        if known {
            match client.execute(&update, Some(patch)).await {
                Ok(_) => return Ok(Pushed::Updated),
                // Not there (deleted in Mailchimp meanwhile, or an ambiguous create that did
                // not happen): create it.
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => return Err(e.into()),
            }
        }
        match client.execute(&records.create(), Some(create)).await {
            Ok(_) => return Ok(Pushed::Created),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                client.execute(&update, Some(patch)).await?;
                return Ok(Pushed::Updated);
            }
            Err(e) if e.is_ambiguous() => {
                maybe_created(store, t, rec.kind, rec.id)?;
                if !client.back_off(attempt).await {
                    return Err(e.into());
                }
                known = true;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// A coupon is a promo rule with one promo code. In "matching promo rules" mode a coupon with
/// other conditions is not uploaded, and one that stopped matching is deleted.
async fn coupon(
    store: &Store,
    t: &Target<'_>,
    c: &pb::Coupon,
    synced: Option<[u8; HASH_LEN]>,
    may_exist: bool,
) -> Result<Pushed, PushError> {
    let Some((rule, code)) = coupon_bodies(t, c) else {
        return if synced.is_some() {
            delete(store, t, RecordKind::Coupon, &c.id).await
        } else {
            Ok(Pushed::Skipped)
        };
    };
    let h = hash(&[&rule, &code]);
    if synced == Some(h) {
        return Ok(Pushed::Unchanged);
    }
    let rules = records(t, RecordKind::Coupon);
    let known = synced.is_some() || may_exist;
    let rec = Rec {
        kind: RecordKind::Coupon,
        id: &c.id,
    };
    let rule_patch = map::patch_body(Patchable::PromoRule, &rule);
    let outcome = upsert(store, t, rec, rules, (&rule, &rule_patch), known).await?;
    let codes = Records::promo_codes(t.store_id, &c.id);
    let code_patch = map::patch_body(Patchable::PromoCode, &code);
    // A rule that existed may have its code already.
    let code_known = known || outcome == Pushed::Updated;
    upsert(store, t, rec, codes, (&code, &code_patch), code_known).await?;
    store.set_synced(t.store_id, RecordKind::Coupon, &c.id, h)?;
    Ok(outcome)
}

/// A coupon's promo rule and code; `None` when the coupon mode leaves the coupon out.
fn coupon_bodies(t: &Target<'_>, c: &pb::Coupon) -> Option<(Value, Value)> {
    let rule = map::promo_rule_body(c, t.coupon_mode)?;
    Some((rule, map::promo_code_body(c, t.shop_url)))
}

/// The hash of what a push would send for a record (what `synced` holds once Mailchimp took
/// it); `None` when nothing would be sent (a coupon the coupon mode leaves out, an emptied cart).
pub fn body_hash(t: &Target<'_>, record: &pb::record::Record) -> Option<[u8; HASH_LEN]> {
    match record {
        pb::record::Record::Coupon(c) => {
            coupon_bodies(t, c).map(|(rule, code)| hash(&[&rule, &code]))
        }
        pb::record::Record::Cart(c) if c.lines.is_empty() => None,
        other => entity_body(other, t).map(|b| hash(&[&b])),
    }
}

/// A store's collection for a kind of record; a coupon lives as a promo rule.
pub fn collection(kind: RecordKind) -> Collection {
    match kind {
        RecordKind::Product => Collection::Products,
        RecordKind::Customer => Collection::Customers,
        RecordKind::Order => Collection::Orders,
        RecordKind::Cart => Collection::Carts,
        RecordKind::Coupon => Collection::PromoRules,
    }
}

/// Where a kind of record lives in the target's store.
fn records<'a>(t: &Target<'a>, kind: RecordKind) -> Records<'a> {
    Records::new(t.store_id, collection(kind))
}

async fn delete(
    store: &Store,
    t: &Target<'_>,
    kind: RecordKind,
    id: &str,
) -> Result<Pushed, PushError> {
    let request = records(t, kind).delete(id);
    let outcome = match t.client.execute(&request, None).await {
        Ok(_) => Pushed::Deleted,
        Err(e) if e.kind() == ErrorKind::NotFound => Pushed::Skipped,
        Err(e) => return Err(e.into()),
    };
    store.clear_synced(t.store_id, kind, id)?;
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mailchimp::{Mailchimp, MailchimpConfig};
    use crate::testdata;
    use pb::record::Record as R;

    fn client() -> AccountClient {
        let key = crate::domain::ApiKey::parse("0123456789abcdef0123456789abcdef-us1").unwrap();
        Mailchimp::new(MailchimpConfig::default(), Default::default())
            .unwrap()
            .for_key(&key)
    }

    /// What one push sends, given what Mailchimp last accepted from us: the one decision every
    /// upload, batch and live push goes through.
    #[test]
    fn decide_sends_one_request_never_a_second_create() {
        let client = client();
        let t = Target {
            client: &client,
            store_id: "s",
            shop_url: "https://shop.example.com",
            coupon_mode: CouponUploadMode::All,
            single_opt_in: false,
            consent: None,
            cart_links: None,
        };
        let product = R::Product(testdata::product(1));
        let customer = R::Customer(testdata::customer(1));
        let coupon = R::Coupon(testdata::coupon(1));
        let synced = |r: &R| body_hash(&t, r);
        let other = Some([7u8; HASH_LEN]);
        // (record, kind, what Mailchimp holds from us, may exist, expected verb, creates)
        let table = [
            (
                &product,
                RecordKind::Product,
                None,
                false,
                Some((Verb::Create, true)),
            ),
            (
                &product,
                RecordKind::Product,
                other,
                false,
                Some((Verb::Update, false)),
            ),
            (
                &product,
                RecordKind::Product,
                None,
                true,
                Some((Verb::Update, false)),
            ),
            (&product, RecordKind::Product, synced(&product), false, None),
            (
                &customer,
                RecordKind::Customer,
                None,
                false,
                Some((Verb::Upsert, true)),
            ),
            (
                &customer,
                RecordKind::Customer,
                other,
                false,
                Some((Verb::Upsert, false)),
            ),
            (
                &customer,
                RecordKind::Customer,
                synced(&customer),
                true,
                None,
            ),
        ];
        for (i, (record, kind, held, may_exist, expected)) in table.into_iter().enumerate() {
            match (decide(&t, kind, "1", record, held, may_exist), expected) {
                (Plan::Send(p), Some((verb, creates))) => {
                    assert_eq!((p.request.verb(), p.creates), (verb, creates), "row {i}");
                }
                (Plan::Unchanged, None) => {}
                (_, expected) => panic!("row {i}: expected {expected:?}"),
            }
        }
        assert!(matches!(
            decide(&t, RecordKind::Coupon, "1", &coupon, None, false),
            Plan::Direct
        ));
    }
}
