//! Names of the events other services report (the event convention in
//! `docs/events.md`): checked, interned so an [`crate::EventKind`] stays `Copy`, and
//! bounded so no input can grow the table without limit.

use std::sync::Mutex;

/// The most distinct reported event names one process keeps.
pub const MAX_NAMES: usize = 256;
/// The longest event name, bytes.
pub const MAX_NAME_LEN: usize = 64;

static NAMES: Mutex<Table> = Mutex::new(Table {
    names: Vec::new(),
    cap: MAX_NAMES,
});

/// Interned names, at most `cap`.
struct Table {
    names: Vec<&'static str>,
    cap: usize,
}

/// Why a reported event name is not taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventNameError {
    /// Empty, too long, or with a character outside `A–Z a–z 0–9 . _ -`.
    #[error("event name {0:?} is not 1–{MAX_NAME_LEN} characters of A–Z, a–z, 0–9, '.', '_', '-'")]
    Invalid(String),
    /// [`MAX_NAMES`] distinct names are already known.
    #[error("more than {MAX_NAMES} distinct event names; {0:?} is not kept")]
    Full(String),
}

/// The interned copy of `name`.
pub fn intern(name: &str) -> Result<&'static str, EventNameError> {
    let valid = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if !valid {
        return Err(EventNameError::Invalid(name.chars().take(80).collect()));
    }
    NAMES.lock().unwrap_or_else(|p| p.into_inner()).get(name)
}

impl Table {
    fn get(&mut self, name: &str) -> Result<&'static str, EventNameError> {
        if let Some(&n) = self.names.iter().find(|&&n| n == name) {
            return Ok(n);
        }
        if self.names.len() >= self.cap {
            return Err(EventNameError::Full(name.into()));
        }
        // Leaked on purpose: at most MAX_NAMES × MAX_NAME_LEN bytes for the process's life.
        let n: &'static str = Box::leak(name.to_owned().into_boxed_str());
        self.names.push(n);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_and_interned_once() {
        let a = intern("python.gc").unwrap();
        let b = intern(&String::from("python.gc")).unwrap();
        assert!(std::ptr::eq(a, b));
        for bad in ["", "has space", "ü", &"x".repeat(MAX_NAME_LEN + 1)] {
            let e = intern(bad).unwrap_err();
            assert!(matches!(e, EventNameError::Invalid(_)), "{bad:?}");
            assert!(e.to_string().contains("0–9"), "{e}");
        }
    }

    #[test]
    fn the_table_is_bounded() {
        let mut t = Table {
            names: Vec::new(),
            cap: 2,
        };
        t.get("a").unwrap();
        t.get("b").unwrap();
        t.get("a").unwrap();
        assert_eq!(t.get("c"), Err(EventNameError::Full("c".into())));
    }
}
