use std::io::{Cursor, Read, Write};

use sealroom_core::ids::{AgreementId, Digest};

use super::*;
use crate::identity::Identity;
use crate::secret::DataKey;

const CHUNK: u32 = MIN_CHUNK_SIZE;
const AGREEMENT: AgreementId = AgreementId([4; 32]);

/// Seals `plaintext`, handing it to the writer in pieces of `piece` bytes.
fn seal_in_pieces(owner: &Identity, plaintext: &[u8], key: &DataKey, piece: usize) -> Vec<u8> {
    let params = HeaderParams {
        owner,
        agreement: AGREEMENT,
        dataset: "visits",
        schema_digest: Digest([9; 32]),
        chunk_size: CHUNK,
        sealed_at_ms: 1_700_000_000_000,
    };
    let header = new_header(&params, key).unwrap();
    let mut w = EnvelopeWriter::new(Vec::new(), &header, key).unwrap();
    for piece in plaintext.chunks(piece.max(1)) {
        w.write_all(piece).unwrap();
    }
    w.finish().unwrap()
}

/// Seals in odd-sized pieces, to exercise the writer's buffering.
fn seal(owner: &Identity, plaintext: &[u8], key: &DataKey) -> Vec<u8> {
    seal_in_pieces(owner, plaintext, key, 333)
}

fn open(bytes: &[u8], key: &DataKey) -> Result<Vec<u8>, EnvelopeError> {
    let mut input = Cursor::new(bytes);
    let (header, digest) = read_header(&mut input)?;
    let mut reader = EnvelopeReader::new(input, &header, digest, key);
    let mut out = Vec::new();
    reader
        .read_to_end(&mut out)
        .map_err(EnvelopeError::from_io)?;
    Ok(out)
}

fn body_start(bytes: &[u8]) -> usize {
    MAGIC.len()
        + 4
        + u32::from_be_bytes(bytes[MAGIC.len()..MAGIC.len() + 4].try_into().unwrap()) as usize
}

fn data(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

#[test]
fn round_trips_at_every_chunk_boundary() {
    let owner = Identity::generate("alice", None).unwrap();
    let key = DataKey::generate();
    let c = CHUNK as usize;
    for len in [0, 1, c - 1, c, c + 1, 3 * c, 3 * c + 17] {
        let plain = data(len);
        let sealed = seal(&owner, &plain, &key);
        let chunks = len / c + 1;
        assert_eq!(
            sealed.len(),
            body_start(&sealed) + len + chunks * TAG_LEN,
            "len {len}"
        );
        assert_eq!(open(&sealed, &key).unwrap(), plain, "len {len}");
    }
}

#[test]
fn every_flipped_byte_is_caught_and_names_the_chunk() {
    let owner = Identity::generate("alice", None).unwrap();
    let key = DataKey::generate();
    let c = CHUNK as usize;
    let sealed = seal(&owner, &data(2 * c + 100), &key);
    let body = body_start(&sealed);
    for pos in (0..sealed.len()).step_by(97) {
        let mut bad = sealed.clone();
        bad[pos] ^= 0x01;
        let err = open(&bad, &key).expect_err("flip must be detected");
        if pos >= body {
            let expected = ((pos - body) / (c + TAG_LEN)) as u64;
            match err {
                EnvelopeError::ChunkRejected { chunk, ref dataset } => {
                    assert_eq!(chunk, expected, "flip at {pos}");
                    assert_eq!(dataset, "alice/visits");
                }
                other => panic!("flip at {pos}: {other:?}"),
            }
        }
    }
}

#[test]
fn truncation_reordering_splicing_and_appended_data_are_caught() {
    let owner = Identity::generate("alice", None).unwrap();
    let key = DataKey::generate();
    let c = CHUNK as usize;
    let sealed = seal(&owner, &data(3 * c + 5), &key);
    let body = body_start(&sealed);
    let full = c + TAG_LEN;

    let at_boundary = &sealed[..body + 2 * full];
    assert!(matches!(
        open(at_boundary, &key),
        Err(EnvelopeError::Truncated { chunk: 1, .. })
    ));
    let mid_chunk = &sealed[..body + full + 100];
    assert!(matches!(
        open(mid_chunk, &key),
        Err(EnvelopeError::ChunkRejected { chunk: 1, .. })
    ));

    let mut swapped = sealed.clone();
    let (a, b) = (body..body + full, body + full..body + 2 * full);
    let first = sealed[a.clone()].to_vec();
    swapped[a].copy_from_slice(&sealed[b.clone()]);
    swapped[b].copy_from_slice(&first);
    assert!(matches!(
        open(&swapped, &key),
        Err(EnvelopeError::ChunkRejected { chunk: 0, .. })
    ));

    let mut trailing = sealed.clone();
    trailing.push(0);
    assert!(matches!(
        open(&trailing, &key),
        Err(EnvelopeError::ChunkRejected { chunk: 3, .. })
    ));

    // Chunks from another envelope under the same key but another header do not open.
    let other = seal(&owner, &data(3 * c + 5), &key);
    let mut spliced = sealed[..body].to_vec();
    spliced.extend_from_slice(&other[body_start(&other)..]);
    let r = open(&spliced, &key);
    assert!(
        matches!(r, Err(EnvelopeError::ChunkRejected { chunk: 0, .. })),
        "{r:?}"
    );

    assert!(matches!(
        open(&sealed, &DataKey::generate()),
        Err(EnvelopeError::ChunkRejected { chunk: 0, .. })
    ));
    assert!(matches!(
        open(b"not an envelope at all", &key),
        Err(EnvelopeError::NotAnEnvelope)
    ));
}

#[test]
fn wrapped_key_opens_only_for_the_owner_and_the_same_dataset() {
    use crate::hpke_box::open_sealed;
    use sealroom_core::labels;
    let owner = Identity::generate("alice", None).unwrap();
    let key = DataKey::generate();
    let sealed = seal(&owner, b"x", &key);
    let (header, _) = read_header(&mut Cursor::new(&sealed)).unwrap();
    let aad = wrap_aad(
        &header.owner_fingerprint,
        &AGREEMENT,
        "visits",
        &header.schema_digest,
    );
    let opened = open_sealed(
        owner.hpke_secret(),
        &header.wrapped_key,
        labels::ENVELOPE_KEY,
        &aad,
    )
    .unwrap();
    assert_eq!(opened.as_slice(), key.expose());
    let other_dataset = wrap_aad(
        &header.owner_fingerprint,
        &AGREEMENT,
        "purchases",
        &header.schema_digest,
    );
    let other_agreement = wrap_aad(
        &header.owner_fingerprint,
        &AgreementId([5; 32]),
        "visits",
        &header.schema_digest,
    );
    for aad in [other_dataset, other_agreement] {
        assert!(
            open_sealed(
                owner.hpke_secret(),
                &header.wrapped_key,
                labels::ENVELOPE_KEY,
                &aad
            )
            .is_err()
        );
    }
}

#[test]
fn whole_chunk_writes_and_small_reads_give_the_same_envelope_semantics() {
    let owner = Identity::generate("alice", None).unwrap();
    let key = DataKey::generate();
    let c = CHUNK as usize;
    for len in [0, c - 1, c, 2 * c, 5 * c + 3] {
        let plain = data(len);
        let sealed = seal_in_pieces(&owner, &plain, &key, plain.len());
        assert_eq!(
            sealed.len(),
            body_start(&sealed) + len + (len / c + 1) * TAG_LEN,
            "len {len}"
        );
        assert_eq!(
            open(&sealed, &key).unwrap(),
            plain,
            "large reads, len {len}"
        );

        let mut input = Cursor::new(&sealed);
        let (h, digest) = read_header(&mut input).unwrap();
        let mut reader = EnvelopeReader::new(input, &h, digest, &key);
        let mut out = Vec::new();
        let mut piece = [0u8; 100];
        loop {
            let n = reader.read(&mut piece).unwrap();
            if n == 0 {
                break;
            }
            out.extend_from_slice(&piece[..n]);
        }
        assert!(reader.is_complete());
        assert_eq!(out, plain, "small reads, len {len}");
    }
}

#[test]
fn the_header_is_signed_by_its_owner_and_any_change_breaks_the_signature() {
    let owner = Identity::generate("alice", None).unwrap();
    let other = Identity::generate("alice", None).unwrap();
    let sealed = seal(&owner, b"x", &DataKey::generate());
    let (header, digest) = read_header(&mut Cursor::new(&sealed)).unwrap();
    assert_eq!(header.digest().unwrap(), digest);
    assert_eq!(header.agreement, AGREEMENT);
    header.verify_owner(&owner.card()).unwrap();
    assert!(
        header.verify_owner(&other.card()).is_err(),
        "another key of the same name"
    );
    let mut moved = header.clone();
    moved.agreement = AgreementId([5; 32]);
    assert!(moved.verify_owner(&owner.card()).is_err());
    let mut older = header.clone();
    older.sealed_at_ms -= 1;
    assert!(older.verify_owner(&owner.card()).is_err());
    let mut forged = header.clone();
    forged.signature.0[0] ^= 1;
    assert!(forged.verify_owner(&owner.card()).is_err());
}

#[test]
fn a_header_not_in_canonical_form_is_refused() {
    let owner = Identity::generate("alice", None).unwrap();
    let sealed = seal(&owner, b"x", &DataKey::generate());
    let len = body_start(&sealed) - PREAMBLE_LEN;
    let text = std::str::from_utf8(&sealed[PREAMBLE_LEN..PREAMBLE_LEN + len]).unwrap();
    let spaced = text.replacen(',', ", ", 1);
    let r = parse_header(spaced.as_bytes());
    assert!(
        matches!(&r, Err(EnvelopeError::BadHeader(m)) if m.contains("canonical")),
        "{r:?}"
    );
}
