package main

import "github.com/tetratelabs/wazero"

// -- the engine configuration: wazero's optimizing compiler or its interpreter ---------------

// configuration is one of wazero's two engines, each a separate engine of the suite: "wazero",
// its optimizing compiler (the default, wazero.NewRuntimeConfig, which picks it on amd64 and
// arm64), and "wazero-interpreter" (flag -interpreter, wazero.NewRuntimeConfigInterpreter).
// Everything else (WASI, timeouts, memory limit, the module cache) is the same for both.
type configuration struct {
	interpreter bool
}

// engineName is the name the suite knows the configuration by (the hello's "engine").
func (c configuration) engineName() string {
	if c.interpreter {
		return "wazero-interpreter"
	}
	return "wazero"
}

// version is wazero's module version, naming the interpreter when it runs.
func (c configuration) version() string {
	if c.interpreter {
		return wazeroVersion() + " (interpreter)"
	}
	return wazeroVersion()
}

// Resident memory a module held by the interpreter costs, per byte of .wasm: its compiled
// functions (wazero's IR operations, on the Go heap) and the GC's headroom over them, measured
// as the peak RSS growth of a bench run holding every module: 23.8 × over the first 40 Go
// modules of the suite, 27.3 × over all 133 (the compiler: 6.2 and 6.45, sizeFactor).
const interpreterSizeFactor = 25

// sizeFactor is the module cache's measure of a held module per byte of .wasm (modcache.go).
func (c configuration) sizeFactor() float64 {
	if c.interpreter {
		return interpreterSizeFactor
	}
	return sizeFactor
}

// runtimeConfig is a new RuntimeConfig for the configuration's engine.
func (c configuration) runtimeConfig() wazero.RuntimeConfig {
	if c.interpreter {
		return wazero.NewRuntimeConfigInterpreter()
	}
	return wazero.NewRuntimeConfig() // the compiler where supported, else the interpreter
}
