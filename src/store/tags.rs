//! What mcsync's tag rules did: `tagged` holds `<list>\0<tag>\0<email>` → a state byte (the
//! member has the tag from mcsync, or was not a member when mcsync tried), and `tag_segments`
//! holds `<list>\0<tag>` → the id of the tag's static segment in Mailchimp. Only the tags
//! listed here are ever removed: a tag the merchant gave by hand is never mcsync's.

use std::collections::HashMap;

use super::{Store, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
/// Where an email stands with a rule's tag.
pub enum TagState {
    /// mcsync gave the member the tag.
    Tagged,
    /// Not a member of the audience when mcsync tried (tagging never makes one).
    NotMember,
}

impl TagState {
    fn byte(self) -> u8 {
        match self {
            Self::Tagged => b't',
            Self::NotMember => b'n',
        }
    }
}

fn prefix(list: &str, tag: &str) -> Vec<u8> {
    format!("{list}\0{tag}\0").into_bytes()
}

impl Store {
    /// The emails of a list's tag that mcsync tagged or tried to.
    pub fn tag_states(
        &self,
        list: &str,
        tag: &str,
    ) -> Result<HashMap<String, TagState>, StoreError> {
        let p = prefix(list, tag);
        let mut out = HashMap::new();
        for kv in self.tagged.scan_prefix(&p) {
            let (k, v) = kv?;
            let email = String::from_utf8_lossy(&k[p.len()..]).into_owned();
            let state = if v.first() == Some(&b'n') {
                TagState::NotMember
            } else {
                TagState::Tagged
            };
            out.insert(email, state);
        }
        Ok(out)
    }

    /// Records emails' new states (`None`: forgotten), flushed before it returns.
    pub async fn set_tag_states(
        &self,
        list: &str,
        tag: &str,
        changes: &[(&str, Option<TagState>)],
    ) -> Result<(), StoreError> {
        let p = prefix(list, tag);
        let mut batch = sled::Batch::default();
        for (email, state) in changes {
            let mut k = p.clone();
            k.extend_from_slice(email.as_bytes());
            match state {
                Some(s) => batch.insert(k, &[s.byte()]),
                None => batch.remove(k),
            }
        }
        self.tagged.apply_batch(batch)?;
        self.flush().await
    }

    /// The static segment of a list's tag, as mcsync last found or made it.
    pub fn tag_segment(&self, list: &str, tag: &str) -> Result<Option<i64>, StoreError> {
        Ok(self
            .tag_segments
            .get(format!("{list}\0{tag}"))?
            .and_then(|v| v.as_ref().try_into().ok().map(i64::from_be_bytes)))
    }

    /// Remembers (or, `None`, forgets) the static segment of a list's tag.
    pub fn set_tag_segment(
        &self,
        list: &str,
        tag: &str,
        id: Option<i64>,
    ) -> Result<(), StoreError> {
        let k = format!("{list}\0{tag}");
        match id {
            Some(id) => self.tag_segments.insert(k, &id.to_be_bytes())?,
            None => self.tag_segments.remove(k)?,
        };
        Ok(())
    }

    /// The tags of a list that mcsync holds state for (rules, or rules removed since).
    pub fn tags_of(&self, list: &str) -> Result<Vec<String>, StoreError> {
        let p = format!("{list}\0").into_bytes();
        let mut out = Vec::new();
        for kv in self.tag_segments.scan_prefix(&p) {
            let (k, _) = kv?;
            out.push(String::from_utf8_lossy(&k[p.len()..]).into_owned());
        }
        Ok(out)
    }
}
