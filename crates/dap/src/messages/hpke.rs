//! HPKE configurations and ciphertexts (DAP-18 §4.1, §4.4.1).

use std::io::Cursor;

use prio::codec::{CodecError, Decode, Encode, decode_u16_items, encode_u16_items};

use super::codec::{DapMessage, MessageError, Opaque, Prefix, field, fields_in_order};

const PUBLIC_KEY: Opaque = Opaque::new("public_key", Prefix::U16, 1);
const ENC: Opaque = Opaque::new("enc", Prefix::U16, 1);
const PAYLOAD: Opaque = Opaque::new("payload", Prefix::U32, 1);

/// One HPKE configuration of an aggregator or collector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HpkeConfig {
    /// Its identifier, unique among the configurations offered.
    pub id: u8,
    /// KEM (RFC 9180 §7.1), e.g. 0x0020 for DHKEM(X25519, HKDF-SHA256).
    pub kem_id: u16,
    /// KDF (RFC 9180 §7.2), e.g. 0x0001 for HKDF-SHA256.
    pub kdf_id: u16,
    /// AEAD (RFC 9180 §7.3), e.g. 0x0001 for AES-128-GCM.
    pub aead_id: u16,
    /// The public key, as the KEM serializes it.
    pub public_key: Vec<u8>,
}

impl Encode for HpkeConfig {
    fn encode(&self, bytes: &mut Vec<u8>) -> Result<(), CodecError> {
        self.id.encode(bytes)?;
        self.kem_id.encode(bytes)?;
        self.kdf_id.encode(bytes)?;
        self.aead_id.encode(bytes)?;
        PUBLIC_KEY.encode(&self.public_key, bytes)
    }
}

impl Decode for HpkeConfig {
    fn decode(bytes: &mut Cursor<&[u8]>) -> Result<Self, CodecError> {
        Ok(Self {
            id: field(u8::decode(bytes), "HpkeConfig.id")?,
            kem_id: field(u16::decode(bytes), "kem_id")?,
            kdf_id: field(u16::decode(bytes), "kdf_id")?,
            aead_id: field(u16::decode(bytes), "aead_id")?,
            public_key: PUBLIC_KEY.decode(bytes)?,
        })
    }
}

/// The configurations an aggregator offers, in decreasing order of preference; never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HpkeConfigList(pub Vec<HpkeConfig>);

impl Encode for HpkeConfigList {
    fn encode(&self, bytes: &mut Vec<u8>) -> Result<(), CodecError> {
        if self.0.is_empty() {
            return Err(empty_list());
        }
        encode_u16_items(bytes, &(), &self.0)
    }
}

impl Decode for HpkeConfigList {
    fn decode(bytes: &mut Cursor<&[u8]>) -> Result<Self, CodecError> {
        let configs: Vec<HpkeConfig> = decode_u16_items(&(), bytes)?;
        if configs.is_empty() {
            return Err(empty_list());
        }
        for (i, config) in configs.iter().enumerate() {
            if configs[..i].iter().any(|c| c.id == config.id) {
                return Err(MessageError::Invalid {
                    field: "HpkeConfigList",
                    problem: format!("config id {} is listed twice", config.id),
                }
                .codec());
            }
        }
        Ok(Self(configs))
    }
}

fn empty_list() -> CodecError {
    MessageError::TooShort {
        field: "HpkeConfigList",
        minimum: 10,
        length: 0,
    }
    .codec()
}

impl DapMessage for HpkeConfigList {
    const MEDIA_TYPE: &'static str = "application/ppm-dap;message=hpke-config-list";
    const NAME: &'static str = "HpkeConfigList";
}

/// An HPKE-sealed message: which configuration, the encapsulated key and the ciphertext.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HpkeCiphertext {
    /// The recipient's configuration id.
    pub config_id: u8,
    /// The encapsulated key.
    pub enc: Vec<u8>,
    /// The ciphertext.
    pub payload: Vec<u8>,
}

fields_in_order!(HpkeCiphertext {
    config_id: u8,
    enc: [ENC],
    payload: [PAYLOAD]
});
