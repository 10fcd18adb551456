//! Extensions: of tasks, reports, aggregation jobs and collection jobs (DAP-18 §4.2.2, §4.4.3,
//! §4.5.1, §4.6.2). All four share one encoding; each list must be in strictly increasing order
//! of type. Types are kept as numbers: whether a type is known is for the role reading it to
//! decide (`unsupportedExtension`), while order is checked here (the problem type depends on
//! the message: see [`MessageError::ExtensionsOutOfOrder`]).

use std::io::Cursor;

use prio::codec::{CodecError, Decode, Encode, decode_u16_items, encode_u16_items};

use super::codec::{MessageError, Opaque, Prefix, fields_in_order};

const DATA: Opaque = Opaque::new("extension_data", Prefix::U16, 0);

/// The task extension carrying the task's interval.
pub const TASK_INTERVAL: u16 = 1;
/// The aggregation job extension carrying the batch id in the leader-selected mode.
pub const LEADER_SELECTED_BATCH_ID: u16 = 1;

/// One extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extension {
    /// Its type; 0 is reserved.
    pub extension_type: u16,
    /// Its data.
    pub extension_data: Vec<u8>,
}

fields_in_order!(Extension {
    extension_type: u16,
    extension_data: [DATA]
});

/// A list of extensions as it was on the wire (order unchecked: see [`Extensions::check_order`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extensions(pub Vec<Extension>);

impl Extensions {
    /// An error unless types strictly increase (no duplicates) and none is the reserved 0.
    pub fn check_order(&self) -> Result<(), MessageError> {
        let mut previous: Option<u16> = None;
        for e in &self.0 {
            if e.extension_type == 0 {
                return Err(MessageError::UnknownValue {
                    field: "extension_type",
                    value: 0,
                });
            }
            if let Some(previous) = previous.filter(|&p| p >= e.extension_type) {
                return Err(MessageError::ExtensionsOutOfOrder {
                    previous,
                    next: e.extension_type,
                });
            }
            previous = Some(e.extension_type);
        }
        Ok(())
    }

    /// The types not in `known`, in order.
    pub fn unknown(&self, known: &[u16]) -> Vec<u16> {
        self.0
            .iter()
            .map(|e| e.extension_type)
            .filter(|t| !known.contains(t))
            .collect()
    }

    /// The data of the extension of type `extension_type`, if present.
    pub fn get(&self, extension_type: u16) -> Option<&[u8]> {
        self.0
            .iter()
            .find(|e| e.extension_type == extension_type)
            .map(|e| e.extension_data.as_slice())
    }
}

impl Encode for Extensions {
    fn encode(&self, bytes: &mut Vec<u8>) -> Result<(), CodecError> {
        encode_u16_items(bytes, &(), &self.0)
    }
}

impl Decode for Extensions {
    fn decode(bytes: &mut Cursor<&[u8]>) -> Result<Self, CodecError> {
        Ok(Self(decode_u16_items(&(), bytes)?))
    }
}
