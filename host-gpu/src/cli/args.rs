//! A small flag parser shared by the subcommands: `--name value` flags,
//! `--switch` flags and positional arguments, with typed lookups and
//! errors that name the flag.

use std::collections::HashMap;
use std::str::FromStr;

use super::{usage, Fail};

/// Parsed arguments of one subcommand.
pub struct Args<'a> {
    values: HashMap<&'static str, &'a str>,
    switches: Vec<&'static str>,
    /// Arguments that are not flags, in order.
    pub positional: Vec<&'a str>,
}

impl<'a> Args<'a> {
    /// Splits `args` given the flags that take a value and the switches.
    /// Unknown flags and flags missing their value are usage errors.
    pub fn parse(
        args: &[&'a str],
        valued: &[&'static str],
        switches: &[&'static str],
    ) -> Result<Self, Fail> {
        let mut out = Args {
            values: HashMap::new(),
            switches: Vec::new(),
            positional: Vec::new(),
        };
        let mut it = args.iter();
        while let Some(&a) = it.next() {
            if let Some(&name) = valued.iter().find(|&&v| v == a) {
                let v = it
                    .next()
                    .ok_or_else(|| usage(format!("{name} needs a value")))?;
                out.values.insert(name, v);
            } else if let Some(&name) = switches.iter().find(|&&s| s == a) {
                out.switches.push(name);
            } else if a.starts_with("--") {
                return Err(usage(format!("unknown flag '{a}'")));
            } else {
                out.positional.push(a);
            }
        }
        Ok(out)
    }

    /// The raw value of a flag.
    pub fn value(&self, name: &str) -> Option<&'a str> {
        self.values.get(name).copied()
    }

    /// Whether a switch was given.
    pub fn has(&self, name: &str) -> bool {
        self.switches.contains(&name)
    }

    /// A flag's value parsed as `T`, or `default` when absent.
    pub fn get<T: FromStr>(&self, name: &str, default: T) -> Result<T, Fail> {
        match self.value(name) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| usage(format!("{name}: '{v}' is not a valid value"))),
        }
    }
}
