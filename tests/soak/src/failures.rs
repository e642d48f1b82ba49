//! What went wrong, kept for the report: the first few of each group, and
//! a line saying when more were left out.

use std::sync::Mutex;

/// How many failures of one group the report lists.
const LISTED: usize = 20;

#[derive(Default)]
pub struct Failures(Mutex<Vec<String>>);

impl Failures {
    pub fn push(&self, what: String) {
        let mut list = self.0.lock().unwrap();
        match list.len() {
            n if n < LISTED => list.push(what),
            LISTED => list.push("(more not listed)".into()),
            _ => {}
        }
    }

    pub fn list(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}
