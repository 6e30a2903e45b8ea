//! The module's export and import sections as wasmer reflects them (`Module::exports` and
//! `Module::imports` iterate the module's index maps, which keep the sections' order, also for a
//! module deserialized from the cache).

use serde_json::{Value as Json, json};
use wasmer::{ExternType, Module};

use crate::values::type_name;

pub fn exports(module: &Module) -> Json {
    Json::Array(module.exports().map(|e| entry(json!({"name": e.name()}), e.ty(), true)).collect())
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
        ExternType::Function(f) => {
            base["kind"] = json!("func");
            base["params"] = json!(f.params().iter().map(type_name).collect::<Vec<_>>());
            base["results"] = json!(f.results().iter().map(type_name).collect::<Vec<_>>());
        }
        ExternType::Memory(m) => {
            base["kind"] = json!("memory");
            if pages {
                base["min"] = json!(m.minimum.0);
                base["max"] = json!(m.maximum.map(|p| p.0));
            }
        }
        ExternType::Table(_) => base["kind"] = json!("table"),
        // globals, and tags (the exception-handling proposal) which the protocol has no kind for
        _ => base["kind"] = json!("global"),
    }
    base
}
