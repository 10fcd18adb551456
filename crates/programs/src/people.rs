//! People as dense numbers, and rows grouped by person: what every program that joins or
//! bounds by person needs, at tens of millions of rows.
//!
//! Person ids are hashed with `ahash` (randomly seeded, so a dishonest owner cannot choose ids
//! that collide) into two shards by one bit of the hash; each shard is numbered by its own
//! thread, so the two cores share the lookups that dominate a join. Looking up people of
//! another table first checks a bit per hash slot, so that most people who were never numbered
//! cost no probe of the hash table. Rows are then grouped with
//! a counting sort on the numbers, which keeps each person's rows in file order and touches
//! memory in order.

use hashbrown::HashTable;
use sealroom_tables::{PersonColumn, PersonKey, Table, TableError};

/// Below this many rows one thread numbers both shards.
const PARALLEL_ROWS: usize = 1 << 16;

/// The number [`People::known`] gives a row whose person has not been numbered; [`ByPerson`]
/// leaves such rows out.
pub const UNKNOWN: u32 = u32::MAX;

/// Which hash bit picks the shard: clear of the low bits that place an entry in its table and
/// of the top bits kept as its tag.
const SHARD_BIT: u32 = 40;

/// A bit per slot of hash values, set for each numbered person: a person whose bit is clear
/// was never numbered. Most lookups of people who are not there end here, in a few megabytes
/// that stay in cache, instead of in the much larger hash table (a cache miss each).
struct Numbered {
    bits: Vec<u64>,
    mask: u64,
}

impl Numbered {
    /// Room for `people` at about 16 bits each (so about 94% of strangers find their bit
    /// clear), between 64 bits and 2^27 (16 MiB).
    fn with_room_for(people: usize) -> Self {
        let slots = people
            .saturating_mul(16)
            .next_power_of_two()
            .clamp(64, 1 << 27);
        Self {
            bits: vec![0; slots / 64],
            mask: slots as u64 - 1,
        }
    }

    fn slot(&self, hash: u64) -> (usize, u64) {
        // Bits 8 and up: clear of the low bits that place an entry in its hash table.
        let slot = (hash >> 8) & self.mask;
        ((slot / 64) as usize, 1 << (slot % 64))
    }

    fn insert(&mut self, hash: u64) {
        let (word, bit) = self.slot(hash);
        self.bits[word] |= bit;
    }

    fn may_hold(&self, hash: u64) -> bool {
        let (word, bit) = self.slot(hash);
        self.bits[word] & bit != 0
    }
}

/// Every person seen so far, numbered: a person first seen as the n-th of its shard s gets
/// `2n + s`, so numbers stay below [`People::len`] and each shard numbers on its own.
pub struct People<'t> {
    hasher: ahash::RandomState,
    shards: [HashTable<(PersonKey<'t>, u32)>; 2],
}

impl Default for People<'_> {
    fn default() -> Self {
        Self {
            hasher: ahash::RandomState::new(),
            shards: [HashTable::new(), HashTable::new()],
        }
    }
}

/// The number given to `person` in `shard`, numbering it if new.
fn number<'t>(
    shard: &mut HashTable<(PersonKey<'t>, u32)>,
    which: u32,
    hasher: &ahash::RandomState,
    hash: u64,
    person: PersonKey<'t>,
) -> u32 {
    let next = shard.len() as u32 * 2 + which;
    shard
        .entry(hash, |(p, _)| *p == person, |(p, _)| hasher.hash_one(p))
        .or_insert((person, next))
        .get()
        .1
}

/// Numbers the rows of `column` whose person falls in shard `which`; other rows get `u32::MAX`.
fn number_shard<'t>(
    shard: &mut HashTable<(PersonKey<'t>, u32)>,
    which: u32,
    hasher: &ahash::RandomState,
    column: PersonColumn<'t>,
) -> Vec<u32> {
    (0..column.len())
        .map(|row| {
            let person = column.get(row);
            let hash = hasher.hash_one(person);
            if (hash >> SHARD_BIT) as u32 & 1 == which {
                number(shard, which, hasher, hash, person)
            } else {
                u32::MAX
            }
        })
        .collect()
}

impl<'t> People<'t> {
    /// The number of each row's person in `table`, numbering new people as they come.
    pub fn ids(&mut self, table: &'t Table) -> Result<Vec<u32>, TableError> {
        let column = table.person_column()?;
        // Even if every row is a new person, every number stays below u32::MAX (the mark of
        // "the other shard's row" below).
        if self.len() + 2 * column.len() + 1 >= u32::MAX as usize {
            return Err(TableError::TooManyRows(self.len() / 2 + column.len()));
        }
        let hasher = &self.hasher;
        let [even, odd] = &mut self.shards;
        // Rows often repeat people: room for half as many people as rows, split in two.
        for shard in [&mut *even, &mut *odd] {
            shard.reserve((column.len() / 4).saturating_sub(shard.len()), |(p, _)| {
                hasher.hash_one(p)
            });
        }
        let (mut ids, odd_ids) = if column.len() < PARALLEL_ROWS {
            (
                number_shard(even, 0, hasher, column),
                number_shard(odd, 1, hasher, column),
            )
        } else {
            std::thread::scope(|scope| {
                let odd_ids = scope.spawn(|| number_shard(odd, 1, hasher, column));
                let even_ids = number_shard(even, 0, hasher, column);
                let odd_ids = odd_ids
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
                (even_ids, odd_ids)
            })
        };
        for (id, odd) in ids.iter_mut().zip(odd_ids) {
            if *id == u32::MAX {
                *id = odd;
            }
        }
        Ok(ids)
    }

    /// The number of each row's person in `table` if already numbered, else [`UNKNOWN`]:
    /// a join that only needs the people of another table looks them up here instead of
    /// numbering everyone. Nothing is added, so the two cores share the rows.
    pub fn known(&self, table: &Table) -> Result<Vec<u32>, TableError> {
        let column = table.person_column()?;
        let mut numbered = Numbered::with_room_for(self.shards[0].len() + self.shards[1].len());
        for (person, _) in self.shards.iter().flat_map(HashTable::iter) {
            numbered.insert(self.hasher.hash_one(person));
        }
        let look_up = |rows: std::ops::Range<usize>| -> Vec<u32> {
            rows.map(|row| {
                let person = column.get(row);
                let hash = self.hasher.hash_one(person);
                if numbered.may_hold(hash) {
                    self.find(hash, &person).unwrap_or(UNKNOWN)
                } else {
                    UNKNOWN
                }
            })
            .collect()
        };
        let half = column.len() / 2;
        if column.len() < PARALLEL_ROWS {
            return Ok(look_up(0..column.len()));
        }
        Ok(std::thread::scope(|scope| {
            let second = scope.spawn(|| look_up(half..column.len()));
            let mut ids = look_up(0..half);
            ids.extend(
                second
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            );
            ids
        }))
    }

    /// The number of `person`, if seen.
    pub fn get(&self, person: &PersonKey<'t>) -> Option<u32> {
        self.find(self.hasher.hash_one(person), person)
    }

    /// The number of `person`, whose hash is `hash`, if seen.
    fn find(&self, hash: u64, person: &PersonKey<'_>) -> Option<u32> {
        let shard = &self.shards[(hash >> SHARD_BIT) as usize & 1];
        shard.find(hash, |(p, _)| p == person).map(|(_, id)| *id)
    }

    /// A bound on the numbers given so far: every number is below it. The shards fill about
    /// evenly, so it is close to the number of people.
    pub fn len(&self) -> usize {
        2 * self.shards[0].len().max(self.shards[1].len())
    }

    /// Whether nobody has been numbered.
    pub fn is_empty(&self) -> bool {
        self.shards.iter().all(HashTable::is_empty)
    }
}

/// Rows grouped by person: `rows[starts[p]..starts[p + 1]]` are person p's rows, in file order.
pub struct ByPerson {
    starts: Vec<usize>,
    rows: Vec<u32>,
}

impl ByPerson {
    /// Groups rows by their person's dense number (`ids[row]`, each below `people`).
    pub fn new(ids: &[u32], people: usize) -> Self {
        debug_assert!(
            ids.iter().all(|&id| (id as usize) < people),
            "a row's person is not numbered"
        );
        Self::leaving_out_unknown(ids, people)
    }

    /// Groups rows as [`ByPerson::new`] does, leaving out rows whose person is [`UNKNOWN`]
    /// (from [`People::known`]).
    pub fn leaving_out_unknown(ids: &[u32], people: usize) -> Self {
        let mut starts = vec![0usize; people + 1];
        for &id in ids.iter().filter(|&&id| id != UNKNOWN) {
            starts[id as usize + 1] += 1;
        }
        for p in 0..people {
            starts[p + 1] += starts[p];
        }
        let mut next = starts.clone();
        let mut rows = vec![0u32; starts[people]];
        for (row, &id) in ids.iter().enumerate() {
            if id == UNKNOWN {
                continue;
            }
            let at = &mut next[id as usize];
            rows[*at] = row as u32;
            *at += 1;
        }
        Self { starts, rows }
    }

    /// Person `person`'s rows (none for a person beyond those grouped).
    pub fn rows(&self, person: u32) -> &[u32] {
        let p = person as usize;
        match (self.starts.get(p), self.starts.get(p + 1)) {
            (Some(&start), Some(&end)) => &self.rows[start..end],
            _ => &[],
        }
    }

    /// Calls `f` with each person's rows, mutably (to sort them).
    pub fn for_each_mut(&mut self, mut f: impl FnMut(&mut [u32])) {
        for p in 0..self.starts.len().saturating_sub(1) {
            f(&mut self.rows[self.starts[p]..self.starts[p + 1]]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    use crate::overlap::tests::table;

    /// Numbers two tables, sharing people, large enough to take the two-thread path, and checks
    /// the numbering against a plain map from person to number.
    #[test]
    fn the_same_person_gets_the_same_number_in_every_table_and_others_never() {
        let names_a: Vec<String> = (0..100_000).map(|i| format!("p{}", i % 70_001)).collect();
        let names_b: Vec<String> = (0..3_000).map(|i| format!("p{}", i * 37)).collect();
        let rows = |names: &[String]| -> Table {
            let refs: Vec<[&str; 1]> = names.iter().map(|n| [n.as_str()]).collect();
            let rows: Vec<&[&str]> = refs.iter().map(|r| &r[..]).collect();
            table(&["person"], &rows)
        };
        let (a, b) = (rows(&names_a), rows(&names_b));
        let mut people = People::default();
        let mut seen: HashMap<&str, u32> = HashMap::new();
        let mut numbers: HashMap<u32, &str> = HashMap::new();
        for (names, ids) in [
            (&names_a, people.ids(&a).unwrap()),
            (&names_b, people.ids(&b).unwrap()),
        ] {
            assert_eq!(ids.len(), names.len());
            for (name, id) in names.iter().zip(ids) {
                assert_eq!(*seen.entry(name).or_insert(id), id, "{name}");
                assert_eq!(*numbers.entry(id).or_insert(name), name.as_str(), "{id}");
                assert!((id as usize) < people.len());
            }
        }
        // b's p0, p37, …, p69967 (1,892 people) are also in a.
        assert_eq!(seen.len(), 70_001 + 3_000 - 1_892);
        assert!(people.len() < 2 * seen.len(), "{} slots", people.len());
        assert_eq!(people.get(&PersonKey::Text("p37")), Some(seen["p37"]));
        assert_eq!(people.get(&PersonKey::Text("nobody")), None);
    }

    #[test]
    fn known_people_keep_their_numbers_and_others_are_left_out() {
        let names: Vec<String> = (0..90_000).map(|i| format!("p{}", i % 40_000)).collect();
        let refs: Vec<[&str; 1]> = names.iter().map(|n| [n.as_str()]).collect();
        let rows: Vec<&[&str]> = refs.iter().map(|r| &r[..]).collect();
        let everyone = table(&["person"], &rows);
        let some = table(&["person"], &[&["p7"], &["p39999"], &["p12"], &["p7"]]);
        let mut people = People::default();
        let numbered = people.ids(&some).unwrap();
        let found = people.known(&everyone).unwrap();
        assert_eq!(found.len(), names.len());
        for (name, id) in names.iter().zip(&found) {
            let expected = match name.as_str() {
                "p7" => numbered[0],
                "p39999" => numbered[1],
                "p12" => numbered[2],
                _ => UNKNOWN,
            };
            assert_eq!(*id, expected, "{name}");
        }
        let grouped = ByPerson::leaving_out_unknown(&found, people.len());
        assert_eq!(grouped.rows(numbered[0]), [7, 40_007, 80_007]);
        assert_eq!(grouped.rows(numbered[1]), [39_999, 79_999]);
        let grouped_rows: usize = (0..people.len() as u32)
            .map(|p| grouped.rows(p).len())
            .sum();
        assert_eq!(grouped_rows, 8);
    }

    /// Many people numbered (so the bits of numbered people are dense), then looked up among
    /// as many strangers: every numbered person is found, with its number, and no stranger.
    #[test]
    fn a_lookup_finds_every_numbered_person_and_no_stranger() {
        let numbered_names: Vec<String> = (0..50_000).map(|i| format!("n{i}")).collect();
        let mixed: Vec<String> = (0..100_000)
            .map(|i| match i % 2 {
                0 => format!("n{}", i / 2),
                _ => format!("s{i}"),
            })
            .collect();
        let rows = |names: &[String]| -> Table {
            let refs: Vec<[&str; 1]> = names.iter().map(|n| [n.as_str()]).collect();
            let rows: Vec<&[&str]> = refs.iter().map(|r| &r[..]).collect();
            table(&["person"], &rows)
        };
        let (numbered, looked_up) = (rows(&numbered_names), rows(&mixed));
        let mut people = People::default();
        let ids = people.ids(&numbered).unwrap();
        let found = people.known(&looked_up).unwrap();
        for (i, id) in found.iter().enumerate() {
            match i % 2 {
                0 => assert_eq!(*id, ids[i / 2], "{}", mixed[i]),
                _ => assert_eq!(*id, UNKNOWN, "{}", mixed[i]),
            }
        }
    }

    #[test]
    fn rows_are_grouped_by_person_in_file_order() {
        let ids = [2, 0, 2, 1, 0, 2];
        let mut grouped = ByPerson::new(&ids, 4);
        assert_eq!(grouped.rows(0), [1, 4]);
        assert_eq!(grouped.rows(1), [3]);
        assert_eq!(grouped.rows(2), [0, 2, 5]);
        assert!(grouped.rows(3).is_empty() && grouped.rows(9).is_empty());
        let mut sizes = Vec::new();
        grouped.for_each_mut(|rows| {
            rows.reverse();
            sizes.push(rows.len());
        });
        assert_eq!(sizes, [2, 1, 3, 0]);
        assert_eq!(grouped.rows(2), [5, 2, 0]);
    }
}
