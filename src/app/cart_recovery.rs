//! Cart recovery: the token of an abandoned-cart email's link back to the cart it names, from
//! the mirror, so the shop's recovery page can rebuild the cart on any device.

use super::{App, AppError, Missing, Unmet};
use crate::domain::ValidationError;
use crate::domain::cart_link::{CartLinks, CartRef};
use crate::domain::record::RecordKind;
use crate::proto::v1 as pb;

impl App {
    /// The cart a recovery link names, and the store whose email carried it.
    pub fn recover_cart(&self, token: &str) -> Result<(pb::Cart, String), AppError> {
        // The page does not matter to opening a token; only the secret does.
        let links = CartLinks::new(&self.store.cart_link_secret()?, "");
        let CartRef { store_id, cart_id } = links
            .open(token)
            .map_err(|e| AppError::Invalid(vec![ValidationError::new("token", e.to_string())]))?;
        if let Some(order_id) = self.store.placed_order(&cart_id)? {
            return Err(Unmet::CartPlaced { cart_id, order_id }.into());
        }
        match self.store.decoded_record(RecordKind::Cart, &cart_id)? {
            Some(pb::record::Record::Cart(cart)) => Ok((cart, store_id)),
            _ => Err(Missing::Cart(cart_id).into()),
        }
    }
}
