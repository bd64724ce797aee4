//! Value encoding: every stored value is a serde type encoded with bincode.
//!
//! Kept in one place so that the encoding can change (with a schema version
//! in the meta table) without touching the operations.

use serde::{Serialize, de::DeserializeOwned};

use crate::Error;

/// Encodes a value for storage.
pub(crate) fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Encoding plain structs into a Vec cannot fail: there are no maps with
    // non-string keys and no sequences of unknown length.
    bincode::serialize(value).expect("bincode encoding of a plain struct")
}

/// Decodes a stored value; `what` names the record kind for the error.
pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8], what: &'static str) -> Result<T, Error> {
    bincode::deserialize(bytes).map_err(|e| Error::Corrupt {
        what,
        reason: e.to_string(),
    })
}
