//! The program's inputs joined by person (people numbered across every input), and written in
//! the guest ABI's byte format: one person for a contribution call, everyone for an analysis.

use sealroom_guest::abi::{self, Joined as JoinedInput, Person, Rows, Writer};
use sealroom_programs::people::{ByPerson, People};
use sealroom_programs::wasm::WasmParams;
use sealroom_tables::{Cell, Table};

use crate::error::WasmError;

/// The tables' rows grouped by person, people numbered across every table.
pub(crate) struct Joined<'t> {
    tables: Vec<&'t Table>,
    by_person: Vec<ByPerson>,
    /// How many person numbers there are.
    pub(crate) people: usize,
}

impl<'t> Joined<'t> {
    /// Joins `tables`, named `names` for messages, for `program`.
    pub(crate) fn new(
        program: &str,
        names: &[String],
        tables: Vec<&'t Table>,
    ) -> Result<Self, WasmError> {
        let mut people = People::default();
        let ids = tables
            .iter()
            .zip(names)
            .map(|(t, name)| {
                people.ids(t).map_err(|e| WasmError::Input {
                    program: program.into(),
                    input: name.clone(),
                    reason: e.to_string(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let count = people.len();
        Ok(Self {
            by_person: ids.iter().map(|ids| ByPerson::new(ids, count)).collect(),
            tables,
            people: count,
        })
    }

    /// Whether person number `person` has a row in any table.
    fn has_rows(&self, person: u32) -> bool {
        self.by_person.iter().any(|b| !b.rows(person).is_empty())
    }

    /// Writes person number `person`'s rows from each table.
    fn write_rows(&self, w: &mut Writer, person: u32) {
        for (table, by_person) in self.tables.iter().zip(&self.by_person) {
            let rows = by_person.rows(person);
            let columns = table.schema().columns.len();
            Rows::write_header(w, columns as u32, rows.len() as u32);
            for &row in rows {
                for column in 0..columns {
                    w.cell(match table.cell(row as usize, column) {
                        Cell::Empty => abi::Cell::Empty,
                        Cell::Text(t) => abi::Cell::Text(t),
                        Cell::Number(n) => abi::Cell::Number(n),
                        Cell::Bool(b) => abi::Cell::Bool(b),
                    });
                }
            }
        }
    }

    /// The contribution call's input for person number `person`, or none when the number is
    /// unused.
    pub(crate) fn person_input(
        &self,
        person: u32,
        round: u32,
        params: &WasmParams,
        state: &[f64],
    ) -> Option<Vec<u8>> {
        if !self.has_rows(person) {
            return None;
        }
        let mut w = Writer::new();
        Person::write_header(
            &mut w,
            round,
            &params.params,
            state,
            self.tables.len() as u32,
        );
        self.write_rows(&mut w, person);
        Person::write_groups(&mut w, &params.groups);
        Some(w.into_bytes())
    }

    /// The analysis call's input: everyone with a row, person by person in number order.
    pub(crate) fn everyone_input(&self, params: &WasmParams) -> Vec<u8> {
        let people: Vec<u32> = (0..self.people as u32)
            .filter(|&p| self.has_rows(p))
            .collect();
        let mut w = Writer::new();
        JoinedInput::write_header(
            &mut w,
            &params.params,
            &params.groups,
            self.tables.len() as u32,
            people.len() as u32,
        );
        for person in people {
            self.write_rows(&mut w, person);
        }
        w.into_bytes()
    }
}
