//! The `POST /api/vector/add` body: decoding (`{"a":[..],"b":[..]}` or `{"a":1,"b":2}`),
//! the sum, and the response encoding. Allocation is bounded by the body limit: every
//! element costs at least two bytes of body.

use crate::error::ApiError;
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use std::fmt;

/// One side of the addition.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    /// A number.
    Scalar(f64),
    /// A vector of numbers.
    Vector(Vec<f64>),
}

impl<'de> Deserialize<'de> for Operand {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Operand;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number or an array of numbers")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Operand, E> {
                Ok(Operand::Scalar(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Operand, E> {
                Ok(Operand::Scalar(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Operand, E> {
                Ok(Operand::Scalar(v as f64))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Operand, A::Error> {
                // Never trust a size hint for the allocation.
                let mut v = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
                while let Some(x) = seq.next_element::<f64>()? {
                    v.push(x);
                }
                Ok(Operand::Vector(v))
            }
        }
        d.deserialize_any(V)
    }
}

/// A decoded request.
#[derive(Debug, Clone, PartialEq)]
pub struct AddRequest {
    /// Left operand.
    pub a: Operand,
    /// Right operand.
    pub b: Operand,
}

impl<'de> Deserialize<'de> for AddRequest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = AddRequest;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object with the fields \"a\" and \"b\"")
            }
            // Only the object form: serde's derive would also take `[a, b]`.
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<AddRequest, A::Error> {
                let (mut a, mut b) = (None, None);
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    let slot = match key.as_ref() {
                        "a" => &mut a,
                        "b" => &mut b,
                        other => {
                            return Err(de::Error::unknown_field(other, &["a", "b"]));
                        }
                    };
                    if slot.is_some() {
                        return Err(de::Error::custom(format!("duplicate field `{key}`")));
                    }
                    *slot = Some(map.next_value::<Operand>()?);
                }
                Ok(AddRequest {
                    a: a.ok_or_else(|| de::Error::missing_field("a"))?,
                    b: b.ok_or_else(|| de::Error::missing_field("b"))?,
                })
            }
        }
        d.deserialize_map(V)
    }
}

/// Decode a request body; `max_len` caps each vector's length.
pub fn decode(body: &[u8], max_len: usize) -> Result<AddRequest, ApiError> {
    let req: AddRequest = serde_json::from_slice(body).map_err(|e| {
        use serde_json::error::Category;
        match e.classify() {
            Category::Data => ApiError::unprocessable(
                "invalid_body",
                format!(
                    "{e}: send {{\"a\":[numbers],\"b\":[numbers]}} or {{\"a\":number,\"b\":number}}"
                ),
            ),
            Category::Syntax | Category::Eof | Category::Io => {
                ApiError::malformed_json(format!("body is not valid JSON: {e}"))
            }
        }
    })?;
    for (name, op) in [("a", &req.a), ("b", &req.b)] {
        if let Operand::Vector(v) = op
            && v.len() > max_len
        {
            return Err(ApiError::unprocessable(
                "too_long",
                format!(
                    "'{name}' has {} elements, above the cap of {max_len} (--max-len)",
                    v.len()
                ),
            ));
        }
    }
    Ok(req)
}

/// Add the operands: element-wise for vectors of equal length, or two scalars.
pub fn add(req: &AddRequest) -> Result<Operand, ApiError> {
    let out = match (&req.a, &req.b) {
        (Operand::Scalar(a), Operand::Scalar(b)) => Operand::Scalar(a + b),
        (Operand::Vector(a), Operand::Vector(b)) => {
            if a.len() != b.len() {
                return Err(ApiError::unprocessable(
                    "length_mismatch",
                    format!(
                        "'a' has {} elements and 'b' has {}: they must be equal",
                        a.len(),
                        b.len()
                    ),
                ));
            }
            Operand::Vector(a.iter().zip(b).map(|(x, y)| x + y).collect())
        }
        _ => {
            return Err(ApiError::unprocessable(
                "shape_mismatch",
                "'a' and 'b' must both be numbers or both be arrays",
            ));
        }
    };
    let finite = match &out {
        Operand::Scalar(x) => x.is_finite(),
        Operand::Vector(v) => v.iter().all(|x| x.is_finite()),
    };
    if !finite {
        return Err(ApiError::unprocessable(
            "non_finite",
            "the sum overflows to infinity: use smaller numbers",
        ));
    }
    Ok(out)
}

fn push_number(out: &mut String, x: f64) {
    use std::fmt::Write;
    // Integral values print as integers (3, not 3.0) while they are exact in an f64.
    if x.fract() == 0.0 && x.abs() < 9_007_199_254_740_992.0 {
        let _ = write!(out, "{}", x as i64);
    } else {
        let _ = write!(
            out,
            "{}",
            serde_json::Number::from_f64(x).map_or_else(|| "null".to_string(), |n| n.to_string())
        );
    }
}

/// Encode `{"result": ...}`.
pub fn encode(result: &Operand) -> String {
    let mut out = String::from("{\"result\":");
    match result {
        Operand::Scalar(x) => push_number(&mut out, *x),
        Operand::Vector(v) => {
            out.reserve(v.len() * 4);
            out.push('[');
            for (i, x) in v.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                push_number(&mut out, *x);
            }
            out.push(']');
        }
    }
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(body: &str) -> Result<String, ApiError> {
        decode(body.as_bytes(), 4)
            .and_then(|r| add(&r))
            .map(|r| encode(&r))
    }

    #[test]
    fn adds_vectors_and_scalars() {
        assert_eq!(
            run(r#"{"a":[1,2,3],"b":[4,5,6]}"#).unwrap(),
            r#"{"result":[5,7,9]}"#
        );
        assert_eq!(run(r#"{"a":1,"b":2}"#).unwrap(), r#"{"result":3}"#);
        assert_eq!(
            run(r#"{"a":0.1,"b":0.2}"#).unwrap(),
            r#"{"result":0.30000000000000004}"#
        );
        assert_eq!(run(r#"{"a":[],"b":[]}"#).unwrap(), r#"{"result":[]}"#);
        assert_eq!(
            run(r#"{"a":-1.5,"b":1e20}"#).unwrap(),
            r#"{"result":1e+20}"#
        );
    }

    #[test]
    fn table_of_bad_bodies() {
        let cases = [
            ("", 400, "malformed_json"),
            ("{", 400, "malformed_json"),
            ("not json", 400, "malformed_json"),
            (r#"{"a":1e400,"b":1}"#, 400, "malformed_json"),
            (r#"{"a":[1],"b":[1,2]}"#, 422, "length_mismatch"),
            (r#"{"a":[1,2,3,4,5],"b":[1,2,3,4,5]}"#, 422, "too_long"),
            (r#"{"a":1e308,"b":1e308}"#, 422, "non_finite"),
            (r#"{"a":[1],"b":2}"#, 422, "shape_mismatch"),
            (r#"{"a":"1","b":2}"#, 422, "invalid_body"),
            (r#"{"a":[1,"x"],"b":[1,2]}"#, 422, "invalid_body"),
            (r#"{"a":1}"#, 422, "invalid_body"),
            (r#"{"a":1,"b":2,"c":3}"#, 422, "invalid_body"),
            (r#"[1,2]"#, 422, "invalid_body"),
            (r#"{"a":null,"b":2}"#, 422, "invalid_body"),
            (r#"{"a":1,"a":2,"b":2}"#, 422, "invalid_body"),
            ("{\"a\":1,\"b\":2} trailing", 400, "malformed_json"),
        ];
        for (body, status, code) in cases {
            let e = run(body).unwrap_err();
            assert_eq!(
                (e.status.as_u16(), e.code),
                (status, code),
                "body {body:?}: {e}"
            );
        }
    }
}
