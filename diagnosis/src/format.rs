//! Number and load formatting shared by the diagnosis's sentences and the reports, so the
//! renderers depend on the model and never the reverse.

use crate::model::StepRow;

/// `N = 32` or `120 req/s offered`.
pub fn load_label(row: &StepRow, open: bool) -> String {
    if open {
        format!("{} req/s offered", fmt_num(row.load))
    } else {
        format!("N = {}", fmt_num(row.load))
    }
}

/// A number with thousands separators and no decimals past what matters.
pub fn fmt_num(x: f64) -> String {
    if !x.is_finite() {
        return "–".into();
    }
    if x.abs() < 10.0 && x.fract() != 0.0 {
        return format!("{x:.2}");
    }
    if x.abs() < 100.0 && x.fract() != 0.0 {
        return format!("{x:.1}");
    }
    let v = x.round() as i64;
    let s = v.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    if v < 0 { format!("-{out}") } else { out }
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_have_separators_and_few_decimals() {
        assert_eq!(fmt_num(1_234_567.0), "1,234,567");
        assert_eq!(fmt_num(-1234.4), "-1,234");
        assert_eq!(fmt_num(2.346), "2.35");
        assert_eq!(fmt_num(42.26), "42.3");
        assert_eq!(fmt_num(f64::NAN), "–");
    }
}
