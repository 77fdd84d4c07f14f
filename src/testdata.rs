//! Sample shop records with every field set, already in canonical form (so that what is read
//! back equals what was sent). Used by the tests, the ingest benchmark and the demo.

use crate::proto::v1 as pb;

fn address(i: u64) -> pb::Address {
    pb::Address {
        address1: format!("{i} Peachtree St"),
        address2: "Suite 5".into(),
        city: "Atlanta".into(),
        province: "Georgia".into(),
        province_code: "GA".into(),
        postal_code: "30308".into(),
        country: "United States".into(),
        country_code: "US".into(),
    }
}

fn money(cents: u64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

/// Product `i`, with variants, an image and categories.
pub fn product(i: u64) -> pb::Product {
    pb::Product {
        id: format!("p{i}"),
        title: format!("Boot model {i}"),
        url: format!("https://shop.example.com/product/{i}"),
        description: "Waterproof leather boot with a cushioned sole.".into(),
        vendor: "Acme Boots".into(),
        image_url: format!("https://shop.example.com/img/{i}.jpg"),
        images: vec![pb::ProductImage {
            id: format!("img{i}"),
            url: format!("https://shop.example.com/img/{i}-side.jpg"),
            variant_ids: vec![format!("p{i}-42")],
        }],
        categories: vec!["Shoes".into(), "Boots".into()],
        published_at: "2026-01-15T09:30:00Z".into(),
        // Kept in the mirror; Mailchimp gets the variants' own (see `simple_product`).
        price: money(12_990 + i % 1000),
        sku: format!("SKU-{i}"),
        inventory_quantity: (i % 50) as i64,
        visibility: "visible".into(),
        variants: vec![
            pb::ProductVariant {
                id: format!("p{i}-42"),
                title: "Size 42".into(),
                sku: format!("SKU-{i}-42"),
                price: money(12_990 + i % 1000),
                inventory_quantity: (i % 50) as i64,
                url: format!("https://shop.example.com/product/{i}?size=42"),
                image_url: format!("https://shop.example.com/img/{i}.jpg"),
                visibility: "visible".into(),
            },
            pb::ProductVariant {
                id: format!("p{i}-43"),
                title: "Size 43".into(),
                sku: format!("SKU-{i}-43"),
                price: money(12_990 + i % 1000),
                inventory_quantity: 3,
                url: String::new(),
                image_url: String::new(),
                visibility: "hidden".into(),
            },
        ],
    }
}

/// A product without variants, as most X-Cart products are: its price, SKU and stock go on
/// the default variant `<id>_dv`.
pub fn simple_product(i: u64) -> pb::Product {
    pb::Product {
        id: format!("sp{i}"),
        title: format!("Shoe polish {i}"),
        variants: Vec::new(),
        images: Vec::new(),
        price: money(499 + i % 100),
        sku: format!("POLISH-{i}"),
        inventory_quantity: (i % 5) as i64,
        visibility: "visible".into(),
        ..product(i)
    }
}

/// Customer `i`, with an address.
pub fn customer(i: u64) -> pb::Customer {
    pb::Customer {
        id: format!("c{i}"),
        email: format!("customer{i}@example.com"),
        first_name: "Urist".into(),
        last_name: format!("McCustomer{i}"),
        company: "Freddie's Jokes".into(),
        address: Some(address(i)),
        accepts_marketing: i % 2 == 0,
        ..Default::default()
    }
}

fn order_customer(i: u64) -> pb::OrderCustomer {
    pb::OrderCustomer {
        id: format!("c{i}"),
        email: format!("customer{i}@example.com"),
        first_name: "Urist".into(),
        last_name: format!("McCustomer{i}"),
        company: "Freddie's Jokes".into(),
        address: Some(address(i)),
    }
}

fn line(i: u64, n: u64) -> pb::LineItem {
    pb::LineItem {
        id: format!("l{n}"),
        product_id: format!("p{}", i + n),
        variant_id: format!("p{}-42", i + n),
        title: format!("Boot model {}", i + n),
        sku: format!("SKU-{}-42", i + n),
        quantity: (n + 1) as i64,
        price: "129.90".into(),
        discount: "5.00".into(),
    }
}

fn tracking(i: u64) -> pb::CampaignTracking {
    pb::CampaignTracking {
        campaign_id: "839488a60b".into(),
        email_id: format!("{:010x}", i),
        tracking_code: "prec".into(),
        landing_site: format!("https://shop.example.com/?mc_cid=839488a60b&mc_eid={i}"),
        outreach_id: String::new(),
    }
}

/// Order `i` of customer `i`, with two lines and a discount.
pub fn order(i: u64) -> pb::Order {
    pb::Order {
        id: format!("{}", 100_000 + i),
        customer: Some(order_customer(i)),
        currency_code: "USD".into(),
        order_total: "264.80".into(),
        tax_total: "10.00".into(),
        shipping_total: "5.00".into(),
        discount_total: "10.00".into(),
        lines: vec![line(i, 0), line(i, 1)],
        payment_status: pb::PaymentStatus::Paid as i32,
        shipping_status: pb::ShippingStatus::Shipped as i32,
        placed_at: "2026-11-20T10:00:00Z".into(),
        updated_at: "2026-11-21T08:15:00Z".into(),
        cancelled_at: String::new(),
        tracking: Some(tracking(i)),
        promos: vec![pb::PromoUse {
            code: "WELCOME10".into(),
            amount_discounted: "10.00".into(),
            r#type: "fixed".into(),
        }],
        billing_address: Some(address(i)),
        shipping_address: Some(address(i + 1)),
        order_url: format!("https://shop.example.com/order/{}", 100_000 + i),
        cart_id: format!("placed-cart{i}"),
        // Every other order has shipped.
        shipment: (i % 2 == 1).then(|| pb::Shipment {
            tracking_number: format!("1Z999AA1{i:010}"),
            tracking_carrier: "UPS".into(),
            tracking_url: format!("https://www.ups.com/track?tracknum=1Z999AA1{i:010}"),
        }),
    }
}

/// Cart `i` of customer `i`, with two lines.
pub fn cart(i: u64) -> pb::Cart {
    pb::Cart {
        id: format!("cart{i}"),
        customer: Some(order_customer(i)),
        currency_code: "USD".into(),
        order_total: "259.80".into(),
        tax_total: "10.00".into(),
        lines: vec![line(i, 0), line(i, 1)],
        checkout_url: "https://shop.example.com/cart".into(),
        tracking: Some(tracking(i)),
        updated_at: "2026-11-25T18:45:00Z".into(),
    }
}

/// Coupon `i`, with a condition on products (as X-Cart coupons have).
pub fn coupon(i: u64) -> pb::Coupon {
    pb::Coupon {
        id: format!("k{i}"),
        code: format!("SAVE{i}"),
        enabled: true,
        r#type: pb::CouponType::Percent as i32,
        value: "15.00".into(),
        comment: "Autumn sale".into(),
        valid_from: "2026-11-01T00:00:00Z".into(),
        valid_until: "2026-12-31T23:59:59Z".into(),
        total_min: "50.00".into(),
        total_max: "500.00".into(),
        uses: 3,
        uses_limit: 100,
        uses_limit_per_user: 1,
        single_use: false,
        product_ids: vec!["p1".into()],
        product_class_ids: vec!["class1".into()],
        membership_ids: vec!["wholesale".into()],
        zone_ids: vec!["us".into()],
        category_ids: vec!["boots".into()],
    }
}

/// The `i`-th record of a shop-like mix: 40 % orders, 25 % customers, 20 % products,
/// 10 % carts, 5 % coupons.
pub fn mixed(i: u64) -> pb::Record {
    use pb::record::Record as R;
    let record = match i % 20 {
        0..=7 => R::Order(order(i)),
        8..=12 => R::Customer(customer(i)),
        13..=16 => R::Product(product(i)),
        17 | 18 => R::Cart(cart(i)),
        _ => R::Coupon(coupon(i)),
    };
    pb::Record {
        record: Some(record),
    }
}

/// A feed message holding `r`.
pub fn record(r: pb::record::Record) -> pb::Record {
    pb::Record { record: Some(r) }
}

/// An order Mailchimp refuses although it is valid here: it names customer `c1` (who must be
/// in Mailchimp first) with another email, and Mailchimp never changes an email through an order.
pub fn order_with_a_foreign_email(i: u64) -> pb::Order {
    let mut o = order(i);
    let c = o.customer.as_mut().expect("test orders name a customer");
    c.id = "c1".into();
    c.email = format!("someone-else{i}@example.com");
    o
}

/// An order whose first line names a variant its product does not have (yet): Mailchimp
/// refuses it unless the variant is made from the line first.
pub fn order_with_a_missing_variant(i: u64) -> pb::Order {
    let mut o = order(i);
    o.lines[0].variant_id = format!("p{i}-missing");
    o
}
