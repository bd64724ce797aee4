//! Reads a TOML table key by key, so that every unknown key and every
//! mistyped value becomes a [`Problem`] with its full key path instead of
//! stopping at the first one, as a derived `Deserialize` would.

use toml::{Table, Value};

use super::Problem;

/// One TOML table being read; reports keys nobody asked for when finished.
pub(super) struct Section<'a> {
    path: String,
    table: Option<&'a Table>,
    known: Vec<&'static str>,
}

impl<'a> Section<'a> {
    /// The sub-table `key` of `parent` (absent is fine: all keys are optional).
    pub(super) fn of(parent: &'a Table, key: &'static str, problems: &mut Vec<Problem>) -> Self {
        let table = match parent.get(key) {
            None => None,
            Some(Value::Table(t)) => Some(t),
            Some(other) => {
                problems.push(Problem::new(
                    key,
                    format!("must be a section ([{key}]), not {}", kind(other)),
                ));
                None
            }
        };
        Self {
            path: key.to_owned(),
            table,
            known: Vec::new(),
        }
    }

    fn get(&mut self, key: &'static str) -> Option<&'a Value> {
        self.known.push(key);
        self.table?.get(key)
    }

    fn key(&self, key: &str) -> String {
        format!("{}.{}", self.path, key)
    }

    /// A string value.
    pub(super) fn string(
        &mut self,
        key: &'static str,
        problems: &mut Vec<Problem>,
    ) -> Option<String> {
        match self.get(key)? {
            Value::String(s) => Some(s.clone()),
            other => {
                problems.push(Problem::new(
                    self.key(key),
                    format!("must be a string, not {}", kind(other)),
                ));
                None
            }
        }
    }

    /// An integer value.
    pub(super) fn integer(
        &mut self,
        key: &'static str,
        problems: &mut Vec<Problem>,
    ) -> Option<i64> {
        match self.get(key)? {
            Value::Integer(i) => Some(*i),
            other => {
                problems.push(Problem::new(
                    self.key(key),
                    format!("must be a whole number, not {}", kind(other)),
                ));
                None
            }
        }
    }

    /// A list of strings; a single string is taken as a list of one.
    pub(super) fn strings(
        &mut self,
        key: &'static str,
        problems: &mut Vec<Problem>,
    ) -> Option<Vec<String>> {
        match self.get(key)? {
            Value::String(s) => Some(vec![s.clone()]),
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    match item {
                        Value::String(s) => out.push(s.clone()),
                        other => problems.push(Problem::new(
                            format!("{}[{i}]", self.key(key)),
                            format!("must be a string, not {}", kind(other)),
                        )),
                    }
                }
                Some(out)
            }
            other => {
                problems.push(Problem::new(
                    self.key(key),
                    format!("must be a list of strings, not {}", kind(other)),
                ));
                None
            }
        }
    }

    /// Reports every key of the table that was never asked for.
    pub(super) fn finish(self, problems: &mut Vec<Problem>) {
        let Some(table) = self.table else { return };
        for key in table.keys() {
            if !self.known.contains(&key.as_str()) {
                problems.push(Problem::new(
                    self.key(key),
                    format!(
                        "unknown key; [{}] accepts {}",
                        self.path,
                        self.known.join(", ")
                    ),
                ));
            }
        }
    }
}

/// Reports top-level keys that are not known sections.
pub(super) fn unknown_sections(root: &Table, known: &[&str], problems: &mut Vec<Problem>) {
    for key in root.keys() {
        if !known.contains(&key.as_str()) {
            problems.push(Problem::new(
                key.as_str(),
                format!("unknown section; the sections are {}", known.join(", ")),
            ));
        }
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::String(_) => "a string",
        Value::Integer(_) => "a whole number",
        Value::Float(_) => "a decimal number",
        Value::Boolean(_) => "true/false",
        Value::Datetime(_) => "a date",
        Value::Array(_) => "a list",
        Value::Table(_) => "a section",
    }
}
