//! Protocol values and types (runners/PROTOCOL.md, "Values") as wasmer values and types.

use std::collections::HashMap;

use serde_json::{Value as Json, json};
use wasmer::{FunctionType, Type, Value};

/// The values a plan's call steps bound by name (`bind`), for later `{ref: NAME}` operands.
pub type Bindings = HashMap<String, Value>;

/// An operand: a protocol value, or `{ref: NAME}`, a value an earlier step bound.
pub fn operand(v: &Json, bound: &Bindings) -> Result<Value, String> {
    match v.get("ref") {
        Some(name) => {
            let name = name.as_str().ok_or_else(|| format!("bad reference {v}"))?;
            bound.get(name).cloned().ok_or_else(|| format!("no earlier step bound the name {name:?}"))
        }
        None => decode(v),
    }
}

/// An i32 operand as the unsigned 32-bit pointer or length it stands for.
pub fn address(v: &Json, bound: &Bindings) -> Result<u64, String> {
    match operand(v, bound)? {
        Value::I32(n) => Ok(n as u32 as u64),
        other => Err(format!("a pointer or length must be an i32, not {}", type_name(&other.ty()))),
    }
}

/// A protocol value (`{"t": "f32", "v": "0x7fa00001"}`) as a wasmer value, bits kept exactly.
pub fn decode(v: &Json) -> Result<Value, String> {
    let t = v["t"].as_str().ok_or_else(|| format!("bad value {v}"))?;
    let s = v["v"].as_str().ok_or_else(|| format!("bad value {v}"))?;
    let bits: u64 = match t {
        "f32" | "f64" => {
            u64::from_str_radix(s.trim_start_matches("0x"), 16).map_err(|e| format!("bad {t} {s:?}: {e}"))?
        }
        _ => s.parse::<i128>().map_err(|e| format!("bad {t} {s:?}: {e}"))? as u64,
    };
    Ok(match t {
        "i32" => Value::I32(bits as u32 as i32),
        "i64" => Value::I64(bits as i64),
        "f32" => Value::F32(f32::from_bits(bits as u32)),
        "f64" => Value::F64(f64::from_bits(bits)),
        _ => return Err(format!("unknown value type {t:?}")),
    })
}

pub fn encode(v: &Value) -> Json {
    match v {
        Value::I32(n) => json!({"t": "i32", "v": n.to_string()}),
        Value::I64(n) => json!({"t": "i64", "v": n.to_string()}),
        Value::F32(f) => json!({"t": "f32", "v": format!("0x{:08x}", f.to_bits())}),
        Value::F64(f) => json!({"t": "f64", "v": format!("0x{:016x}", f.to_bits())}),
        other => json!({"t": type_name(&other.ty()), "v": "0"}),
    }
}

pub fn encode_all(values: &[Value]) -> Json {
    Json::Array(values.iter().map(encode).collect())
}

/// The value's bits as an unsigned number (pointers and lengths in host ops).
pub fn unsigned(v: &Value) -> u64 {
    match v {
        Value::I32(n) => *n as u32 as u64,
        Value::I64(n) => *n as u64,
        Value::F32(f) => f.to_bits() as u64,
        Value::F64(f) => f.to_bits(),
        _ => 0,
    }
}

pub fn type_name(t: &Type) -> String {
    match t {
        Type::I32 => "i32".into(),
        Type::I64 => "i64".into(),
        Type::F32 => "f32".into(),
        Type::F64 => "f64".into(),
        other => format!("{other:?}").to_lowercase(),
    }
}

pub fn parse_type(t: &Json) -> Result<Type, String> {
    match t.as_str() {
        Some("i32") => Ok(Type::I32),
        Some("i64") => Ok(Type::I64),
        Some("f32") => Ok(Type::F32),
        Some("f64") => Ok(Type::F64),
        _ => Err(format!("unknown value type {t}")),
    }
}

fn type_list(types: &[Type]) -> String {
    types.iter().map(type_name).collect::<Vec<_>>().join(", ")
}

/// Whether `args` fit the parameters of `ty`, with both lists in the error.
pub fn check_args(ty: &FunctionType, args: &[Value]) -> Result<(), String> {
    let got: Vec<Type> = args.iter().map(Value::ty).collect();
    if got != ty.params() {
        return Err(format!(
            "arguments ({}) do not match the export's parameters ({})",
            type_list(&got),
            type_list(ty.params())
        ));
    }
    Ok(())
}

pub fn hex_bytes(s: &str) -> Result<Vec<u8>, String> {
    (0..s.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(s.get(i..i + 2).unwrap_or("?"), 16).map_err(|e| format!("bad hex {s:?}: {e}"))
        })
        .collect()
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
