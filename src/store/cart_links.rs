//! The secret that signs cart recovery links (`domain::cart_link`): made on first use, kept in
//! the `settings` tree, replaced by a connection reset (links already mailed stop working), and
//! never put in a backup (a restored mcsync makes a new one).

use super::{Store, StoreError};

/// Its key in the `settings` tree.
pub(super) const SECRET_KEY: &[u8] = b"cart_link_secret";

impl Store {
    /// The secret recovery links are signed with, made on first use. Not flushed here: the
    /// settings write that turns links on flushes it, and any other first use (a restored data
    /// dir) is flushed with the sync state of the first cart sent with it.
    pub fn cart_link_secret(&self) -> Result<Vec<u8>, StoreError> {
        if let Some(v) = self.settings.get(SECRET_KEY)? {
            return Ok(v.to_vec());
        }
        // Two first uses at once keep the same one.
        let _ = self.settings.compare_and_swap(
            SECRET_KEY,
            None as Option<&[u8]>,
            Some(super::random_bytes::<32>().as_slice()),
        )?;
        Ok(self
            .settings
            .get(SECRET_KEY)?
            .expect("just written")
            .to_vec())
    }

    /// A new secret: every link signed with the old one is refused from now on.
    pub async fn rotate_cart_link_secret(&self) -> Result<(), StoreError> {
        self.settings
            .insert(SECRET_KEY, super::random_bytes::<32>().as_slice())?;
        self.flush().await
    }
}
