//! The module's export and import sections as wasmi reflects them.
//!
//! wasmi's `Module::exports` iterates its export map, which is sorted by name, not the section's
//! order: the order comes from the export section itself (read with wasmparser, the version
//! wasmi parses with), each entry's type from wasmi (`Module::get_export`). `Module::imports`
//! keeps the section's order.

use serde_json::{Value as Json, json};
use wasmi::{ExternType, Module};
use wasmparser::{Parser, Payload};

use crate::values::type_name;

/// The export names in the export section's order.
fn export_order(wasm: &[u8]) -> Result<Vec<String>, String> {
    let mut names = Vec::new();
    for payload in Parser::new(0).parse_all(wasm) {
        if let Payload::ExportSection(reader) = payload.map_err(|e| e.to_string())? {
            for export in reader {
                names.push(export.map_err(|e| e.to_string())?.name.to_string());
            }
        }
    }
    Ok(names)
}

pub fn exports(module: &Module, wasm: &[u8]) -> Result<Json, String> {
    let entries = export_order(wasm)?.into_iter().map(|name| {
        let ty =
            module.get_export(&name).ok_or_else(|| format!("wasmi does not know the export {name:?}"))?;
        Ok(entry(json!({"name": name}), &ty, true))
    });
    entries.collect::<Result<Vec<_>, String>>().map(Json::Array)
}

pub fn imports(module: &Module) -> Json {
    Json::Array(
        module
            .imports()
            .map(|i| entry(json!({"module": i.module(), "name": i.name()}), i.ty(), false))
            .collect(),
    )
}

/// `base` with the kind and what the type says: a function's signature, a memory's pages (for
/// exports only: the protocol's import entries have no pages).
fn entry(mut base: Json, ty: &ExternType, pages: bool) -> Json {
    match ty {
        ExternType::Func(f) => {
            base["kind"] = json!("func");
            base["params"] = json!(f.params().iter().map(type_name).collect::<Vec<_>>());
            base["results"] = json!(f.results().iter().map(type_name).collect::<Vec<_>>());
        }
        ExternType::Memory(m) => {
            base["kind"] = json!("memory");
            if pages {
                base["min"] = json!(m.minimum());
                base["max"] = json!(m.maximum());
            }
        }
        ExternType::Table(_) => base["kind"] = json!("table"),
        ExternType::Global(_) => base["kind"] = json!("global"),
    }
    base
}
