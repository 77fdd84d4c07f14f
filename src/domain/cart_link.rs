//! Cart recovery links: the `checkout_url` an abandoned-cart email carries when the merchant
//! set a recovery page. The link is that page plus one parameter, `mcsync_cart=<token>`, and
//! the token names the store and the cart, signed with a secret only mcsync holds, so the shop's
//! page can rebuild the cart on any device (StoreDataService/RecoverCart) and nobody can forge
//! one for another cart.
//!
//! A token is unpadded base64url of `version ‖ store ‖ cart id ‖ tag`: the store as 16 bytes
//! when it is one of mcsync's own ids (`xc_` and 32 hex digits), else its length and bytes; the
//! tag is the first 16 bytes of HMAC-SHA256 over what precedes it. No personal data goes in (the
//! cart id is the shop's opaque id), and with ids of at most 50 ASCII characters a token is at
//! most 112 characters.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::hmac;

/// The query parameter the link adds to the recovery page.
pub const PARAM: &str = "mcsync_cart";

const VERSION: u8 = 1;
const TAG_LEN: usize = 16;
/// The store tag byte that says "mcsync's own id, packed".
const PACKED: u8 = 0;
const OWN_PREFIX: &str = "xc_";

/// What a valid token names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CartRef {
    /// The Mailchimp store the link was sent to.
    pub store_id: String,
    /// The shop's cart.
    pub cart_id: String,
}

/// A token that is not one of ours: damaged, tampered with, signed with another secret (a
/// reset since), or not a token at all. Which of these is never said.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("is not a valid cart link of this shop")]
pub struct BadToken;

/// Makes and opens links with one secret.
#[derive(Clone)]
pub struct CartLinks {
    key: hmac::Key,
    /// The recovery page; empty when the merchant set none (tokens still open).
    page: String,
}

impl std::fmt::Debug for CartLinks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key is a secret.
        f.debug_struct("CartLinks")
            .field("page", &self.page)
            .finish()
    }
}

impl CartLinks {
    /// Links to `page` (validated by `validate::cart_recovery_url`; empty for none), signed
    /// with `secret`.
    pub fn new(secret: &[u8], page: &str) -> Self {
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret),
            page: page.to_owned(),
        }
    }

    /// The cart's `checkout_url`: the recovery page with the token, or `None` when no page is
    /// set (the cart keeps the URL the shop sent).
    pub fn link(&self, store_id: &str, cart_id: &str) -> Option<String> {
        if self.page.is_empty() {
            return None;
        }
        let sep = if self.page.contains('?') { '&' } else { '?' };
        Some(format!(
            "{}{sep}{PARAM}={}",
            self.page,
            self.token(store_id, cart_id)
        ))
    }

    /// The signed token for a store's cart.
    pub fn token(&self, store_id: &str, cart_id: &str) -> String {
        let mut bytes = Vec::with_capacity(2 + store_id.len() + cart_id.len() + TAG_LEN);
        bytes.push(VERSION);
        match packed(store_id) {
            Some(digest) => {
                bytes.push(PACKED);
                bytes.extend_from_slice(&digest);
            }
            None => {
                // Store ids are at most 50 characters (Mailchimp's limit), so the length fits.
                bytes.push(u8::try_from(store_id.len()).unwrap_or(u8::MAX));
                bytes.extend_from_slice(store_id.as_bytes());
            }
        }
        bytes.extend_from_slice(cart_id.as_bytes());
        let tag = hmac::sign(&self.key, &bytes);
        bytes.extend_from_slice(&tag.as_ref()[..TAG_LEN]);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// What a token names, once its tag is checked (in constant time).
    pub fn open(&self, token: &str) -> Result<CartRef, BadToken> {
        let bytes = URL_SAFE_NO_PAD.decode(token.trim()).map_err(|_| BadToken)?;
        if bytes.len() < 2 + TAG_LEN || bytes[0] != VERSION {
            return Err(BadToken);
        }
        let (signed, tag) = bytes.split_at(bytes.len() - TAG_LEN);
        let expected = hmac::sign(&self.key, signed);
        if !same(&expected.as_ref()[..TAG_LEN], tag) {
            return Err(BadToken);
        }
        let (store_id, cart) = match signed[1] {
            PACKED if signed.len() >= 18 => {
                let hex: String = signed[2..18].iter().map(|b| format!("{b:02x}")).collect();
                (format!("{OWN_PREFIX}{hex}"), &signed[18..])
            }
            PACKED => return Err(BadToken),
            n => {
                let end = 2 + usize::from(n);
                let store = signed.get(2..end).ok_or(BadToken)?;
                let store = std::str::from_utf8(store).map_err(|_| BadToken)?;
                (store.to_owned(), &signed[end..])
            }
        };
        let cart_id = std::str::from_utf8(cart).map_err(|_| BadToken)?;
        if cart_id.is_empty() {
            return Err(BadToken);
        }
        Ok(CartRef {
            store_id,
            cart_id: cart_id.to_owned(),
        })
    }
}

/// mcsync's own store id (`xc_` + 32 lower-case hex digits) as its 16 bytes.
fn packed(store_id: &str) -> Option<[u8; 16]> {
    let hex = store_id.strip_prefix(OWN_PREFIX)?;
    if hex.len() != 32 || !hex.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

/// Equality that takes the same time wherever the first difference is.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    const STORE: &str = "xc_0123456789abcdef0123456789abcdef";
    const PAGE: &str = "https://shop.example.com/cart.php?target=mailchimp_cart";

    fn links() -> CartLinks {
        CartLinks::new(b"a secret of mcsync's", PAGE)
    }

    #[test]
    fn a_link_opens_to_its_store_and_cart() {
        let link = links().link(STORE, "cart-77").unwrap();
        let token = link
            .strip_prefix(&format!("{PAGE}&{PARAM}="))
            .expect("the page, then one parameter");
        let opened = links().open(token).unwrap();
        assert_eq!(opened.store_id, STORE);
        assert_eq!(opened.cart_id, "cart-77");
        let other = CartLinks::new(b"k", "https://shop.example.com/restore");
        assert!(
            other
                .link("s", "c")
                .unwrap()
                .starts_with("https://shop.example.com/restore?mcsync_cart=")
        );
        assert_eq!(
            other
                .open(&other.token("a-store-of-another-integration", "c"))
                .unwrap()
                .store_id,
            "a-store-of-another-integration"
        );
        assert!(CartLinks::new(b"k", "").link(STORE, "c").is_none());
    }

    #[test]
    fn tokens_stay_short_and_carry_nothing_readable() {
        let longest = "c".repeat(50);
        let token = links().token(STORE, &longest);
        assert!(token.len() <= 112, "{} characters", token.len());
        assert!(!token.contains("cccc"), "not the id in clear: {token}");
        assert!(
            token
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
    }

    #[test]
    fn a_changed_byte_another_secret_or_garbage_is_refused_alike() {
        let token = links().token(STORE, "cart-77");
        let mut bytes = URL_SAFE_NO_PAD.decode(&token).unwrap();
        for i in 0..bytes.len() {
            bytes[i] ^= 1;
            assert_eq!(
                links().open(&URL_SAFE_NO_PAD.encode(&bytes)),
                Err(BadToken),
                "byte {i}"
            );
            bytes[i] ^= 1;
        }
        let foreign = CartLinks::new(b"another shop's secret", PAGE);
        assert_eq!(foreign.open(&token), Err(BadToken));
        for garbage in [
            "",
            "!!",
            "AAAA",
            &token[..token.len() - 2],
            &format!("{token}AA"),
        ] {
            assert_eq!(links().open(garbage), Err(BadToken), "{garbage:?}");
        }
    }
}
