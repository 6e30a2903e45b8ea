"""Two small modules the runners' bench-mode tests run: one with WASI output, one without."""

ADD = """
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 64) "guest output\\n")
  (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
  (func (export "say")
    (i32.store (i32.const 0) (i32.const 64))
    (i32.store (i32.const 4) (i32.const 13))
    (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))
"""

MUL = """
(module
  (func (export "mul") (param i64 i64) (result i64) (i64.mul (local.get 0) (local.get 1))))
"""
