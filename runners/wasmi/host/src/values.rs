//! Protocol values and types (runners/PROTOCOL.md, "Values") as wasmi values and types.

use std::collections::HashMap;

use serde_json::{Value as Json, json};
use wasmi::{F32, F64, FuncType, Val, ValType};

/// The values a plan's call steps bound by name (`bind`), for later `{ref: NAME}` operands.
pub type Bindings = HashMap<String, Val>;

/// An operand: a protocol value, or `{ref: NAME}`, a value an earlier step bound.
pub fn operand(v: &Json, bound: &Bindings) -> Result<Val, String> {
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
        Val::I32(n) => Ok(n as u32 as u64),
        other => Err(format!("a pointer or length must be an i32, not {}", type_name(&other.ty()))),
    }
}

/// A protocol value (`{"t": "f32", "v": "0x7fa00001"}`) as a wasmi value, bits kept exactly.
pub fn decode(v: &Json) -> Result<Val, String> {
    let t = v["t"].as_str().ok_or_else(|| format!("bad value {v}"))?;
    let s = v["v"].as_str().ok_or_else(|| format!("bad value {v}"))?;
    let bits: u64 = match t {
        "f32" | "f64" => {
            u64::from_str_radix(s.trim_start_matches("0x"), 16).map_err(|e| format!("bad {t} {s:?}: {e}"))?
        }
        _ => s.parse::<i128>().map_err(|e| format!("bad {t} {s:?}: {e}"))? as u64,
    };
    Ok(match t {
        "i32" => Val::I32(bits as u32 as i32),
        "i64" => Val::I64(bits as i64),
        "f32" => Val::F32(F32::from_bits(bits as u32)),
        "f64" => Val::F64(F64::from_bits(bits)),
        _ => return Err(format!("unknown value type {t:?}")),
    })
}

pub fn encode(v: &Val) -> Json {
    match v {
        Val::I32(n) => json!({"t": "i32", "v": n.to_string()}),
        Val::I64(n) => json!({"t": "i64", "v": n.to_string()}),
        Val::F32(f) => json!({"t": "f32", "v": format!("0x{:08x}", f.to_bits())}),
        Val::F64(f) => json!({"t": "f64", "v": format!("0x{:016x}", f.to_bits())}),
        other => json!({"t": type_name(&other.ty()), "v": "0"}),
    }
}

pub fn encode_all(values: &[Val]) -> Json {
    Json::Array(values.iter().map(encode).collect())
}

/// The value's bits as an unsigned number (pointers and lengths in host ops).
pub fn unsigned(v: &Val) -> u64 {
    match v {
        Val::I32(n) => *n as u32 as u64,
        Val::I64(n) => *n as u64,
        Val::F32(f) => f.to_bits() as u64,
        Val::F64(f) => f.to_bits(),
        _ => 0,
    }
}

pub fn type_name(t: &ValType) -> String {
    match t {
        ValType::I32 => "i32".into(),
        ValType::I64 => "i64".into(),
        ValType::F32 => "f32".into(),
        ValType::F64 => "f64".into(),
        other => format!("{other:?}").to_lowercase(),
    }
}

pub fn parse_type(t: &Json) -> Result<ValType, String> {
    match t.as_str() {
        Some("i32") => Ok(ValType::I32),
        Some("i64") => Ok(ValType::I64),
        Some("f32") => Ok(ValType::F32),
        Some("f64") => Ok(ValType::F64),
        _ => Err(format!("unknown value type {t}")),
    }
}

fn type_list(types: &[ValType]) -> String {
    types.iter().map(type_name).collect::<Vec<_>>().join(", ")
}

/// Whether `args` fit the parameters of `ty`, with both lists in the error.
pub fn check_args(ty: &FuncType, args: &[Val]) -> Result<(), String> {
    let got: Vec<ValType> = args.iter().map(Val::ty).collect();
    if got != ty.params() {
        return Err(format!(
            "arguments ({}) do not match the export's parameters ({})",
            type_list(&got),
            type_list(ty.params())
        ));
    }
    Ok(())
}

/// Zero values of the function's result types: the buffer a call writes its results into.
pub fn result_slots(ty: &FuncType) -> Vec<Val> {
    ty.results().iter().map(|t| Val::default_for_ty(*t)).collect()
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
