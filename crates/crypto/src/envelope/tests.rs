use std::io::{Cursor, Read, Write};

use sealroom_core::ids::Digest;

use super::*;
use crate::identity::Identity;
use crate::secret::DataKey;

const CHUNK: u32 = MIN_CHUNK_SIZE;

/// Seals `plaintext`, handing it to the writer in pieces of `piece` bytes.
fn seal_in_pieces(owner: &Identity, plaintext: &[u8], key: &DataKey, piece: usize) -> Vec<u8> {
    let card = owner.card();
    let params = HeaderParams {
        owner: &card,
        dataset: "visits",
        schema_digest: Digest([9; 32]),
        chunk_size: CHUNK,
    };
    let header = EnvelopeHeader::new(&params, key).unwrap();
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
    let (header, digest) = EnvelopeHeader::read_from(&mut input)?;
    let mut reader = EnvelopeReader::new(input, &header, digest, key);
    let mut out = Vec::new();
    reader
        .read_to_end(&mut out)
        .map_err(EnvelopeError::from_io)?;
    Ok(out)
}

fn header_len(bytes: &[u8]) -> usize {
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
            header_len(&sealed) + len + chunks * TAG_LEN,
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
    let body = header_len(&sealed);
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
    let body = header_len(&sealed);
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
    spliced.extend_from_slice(&other[header_len(&other)..]);
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
    let (header, _) = EnvelopeHeader::read_from(&mut Cursor::new(&sealed)).unwrap();
    let aad = wrap_aad(&header.owner_fingerprint, "visits", &header.schema_digest);
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
        "purchases",
        &header.schema_digest,
    );
    assert!(
        open_sealed(
            owner.hpke_secret(),
            &header.wrapped_key,
            labels::ENVELOPE_KEY,
            &other_dataset
        )
        .is_err()
    );
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
            header_len(&sealed) + len + (len / c + 1) * TAG_LEN,
            "len {len}"
        );
        assert_eq!(
            open(&sealed, &key).unwrap(),
            plain,
            "large reads, len {len}"
        );

        let mut input = Cursor::new(&sealed);
        let (h, digest) = EnvelopeHeader::read_from(&mut input).unwrap();
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
