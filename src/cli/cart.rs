//! `mcsync cart TOKEN`: what a cart recovery link rebuilds, for an operator checking a link
//! from an abandoned-cart email.

use super::ops::{Remote, clients, failure};
use crate::domain::cart_link::PARAM;
use crate::proto::v1 as pb;

/// The token itself, or the `mcsync_cart` parameter of a whole link.
fn token_of(arg: &str) -> String {
    let query = arg.split_once('?').map_or("", |(_, q)| q);
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == PARAM)
        .map_or_else(|| arg.trim().to_owned(), |(_, v)| v.into_owned())
}

pub async fn recover(remote: &Remote, arg: &str) -> Result<(), String> {
    let mut c = clients(remote).await?;
    let r = c
        .records
        .recover_cart(pb::RecoverCartRequest {
            token: token_of(arg),
        })
        .await
        .map_err(failure)?
        .into_inner();
    print!("{}", render(&r));
    Ok(())
}

fn render(r: &pb::RecoverCartResponse) -> String {
    let cart = r.cart.clone().unwrap_or_default();
    let customer = cart.customer.unwrap_or_default();
    let mut o = format!(
        "Cart {} (store {}), {} {}\nCustomer: {} <{}>\n",
        cart.id, r.store_id, cart.order_total, cart.currency_code, customer.id, customer.email
    );
    for l in &cart.lines {
        o.push_str(&format!(
            "  {} × {} ({} / {}) at {}\n",
            l.quantity, l.title, l.product_id, l.variant_id, l.price
        ));
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_whole_link_or_its_token_alone() {
        let link =
            "https://shop.example.com/cart.php?target=mailchimp_cart&mcsync_cart=AbC-_9&mc_cid=x";
        assert_eq!(token_of(link), "AbC-_9");
        assert_eq!(token_of(" AbC-_9\n"), "AbC-_9");
    }
}
