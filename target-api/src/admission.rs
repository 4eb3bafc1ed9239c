//! Admission control and load shedding: counts admitted requests (the index count-driven
//! events use) and refuses new ones above the in-flight bound (`--shed-above`).

use crate::live::Live;
use std::sync::atomic::{AtomicU64, Ordering};

/// Admission control: counts admitted requests (the index count-driven events use) and
/// sheds above the in-flight bound.
#[derive(Debug, Default)]
pub struct Admission {
    in_flight: AtomicU64,
    admitted: AtomicU64,
}

/// A request that was admitted; dropping it leaves the in-flight count.
#[derive(Debug)]
pub struct Admitted<'a> {
    admission: &'a Admission,
    /// 1-based index among admitted requests.
    pub index: u64,
}

impl Drop for Admitted<'_> {
    fn drop(&mut self) {
        self.admission.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Admission {
    /// Admit a request, or refuse it with the shed status when `shed_above` requests are
    /// already in flight (0 = never shed).
    pub fn admit(&self, live: &Live) -> Result<Admitted<'_>, u16> {
        let before = self.in_flight.fetch_add(1, Ordering::AcqRel);
        let bound = live.shed_above();
        if bound > 0 && before >= bound {
            self.in_flight.fetch_sub(1, Ordering::AcqRel);
            return Err(live.shed_status());
        }
        let index = self.admitted.fetch_add(1, Ordering::AcqRel) + 1;
        Ok(Admitted {
            admission: self,
            index,
        })
    }

    /// Requests in flight now.
    pub fn in_flight(&self) -> u64 {
        self.in_flight.load(Ordering::Acquire)
    }

    /// Requests admitted so far.
    pub fn admitted(&self) -> u64 {
        self.admitted.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;

    #[test]
    fn admission_sheds_above_the_bound_and_counts_admitted() {
        let mut s = Settings::default();
        s.events.shed_above = 2;
        let live = Live::new(&s);
        let adm = Admission::default();
        let a = adm.admit(&live).unwrap();
        let b = adm.admit(&live).unwrap();
        assert_eq!((a.index, b.index), (1, 2));
        assert_eq!(adm.admit(&live).unwrap_err(), 429);
        drop(a);
        assert_eq!(adm.admit(&live).unwrap().index, 3);
        assert_eq!(adm.in_flight(), 1);
    }
}
