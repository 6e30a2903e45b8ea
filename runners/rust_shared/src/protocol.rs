//! The protocol loop's engine-independent pieces: writing a document, reading a flag, naming a
//! panic.

use std::any::Any;
use std::io::Write;

use serde_json::Value as Json;

/// Write one document as one line; a failed write means the harness has gone away: exit.
pub fn send(out: &mut impl Write, doc: &Json) {
    if writeln!(out, "{doc}").and_then(|_| out.flush()).is_err() {
        std::process::exit(0);
    }
}

/// The value of `--name VALUE` on the command line.
pub fn flag<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).map(String::as_str)
}

/// The message a caught panic carries, for the observation's `error`.
pub fn panic_message(panic: &(dyn Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "panic".into())
}
