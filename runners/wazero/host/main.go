// Command wazero-host is the wazero runner: it executes plans with wazero and reports
// observations, speaking runners/PROTOCOL.md on stdin/stdout (a hello line, then one
// observation line per plan line). It never judges.
//
// wazero is configured the way an embedder of Go wasip1 modules must configure it, which is
// also what wazero's own CLI (used by Go's CI) does:
//
//   - the compiler engine where wazero has one (wazero.NewRuntimeConfig picks it), with an
//     on-disk compilation cache (--cache DIR), or with -interpreter wazero's interpreter, the
//     engine "wazero-interpreter" (config.go);
//   - nothing runs at instantiation (WithStartFunctions()): _initialize and _start are steps;
//   - real clocks, real sleep and crypto/rand randomness (wazero's defaults are fake ones);
//   - wasi_snapshot_preview1 from wazero's imports package with exactly the plan's args, env
//     (in its order: wazero keeps WithEnv's insertion order) and stdin bytes, no filesystem
//     mounts, stdout and stderr captured per step, in memory and capped (output.go);
//   - WithCloseOnContextDone(true) plus a context deadline per step for timeouts, and a sleep
//     that the deadline also ends (sleep.go); WithMemoryLimitPages for the memory cap (one
//     runtime per distinct limit).
//
// Compiled modules stay in memory (modcache.go), keyed by sha256 and memory limit, least
// recently used closed first past WASMEXPORT_MODULE_CACHE_MB (default 256, MiB; counted as the
// .wasm size times a measured factor): a module seen before costs no decoding, validating,
// compiling or reflecting, only the instantiation. The module in use always stays. A guest's
// linear memory past 64 MiB is handed back to the system after its plan (plan.go).
//
// Bench mode (bench.go), the bare in-process loop the suite's per-item cost is compared to:
// `wazero-host --cache DIR --bench PLANS.jsonl [--repeat N]` (N default 5) runs every plan of
// the file (one plan per line, as the harness sends them) once to warm up, then the whole list
// N times through executeSafely, the function the protocol loop calls, with no JSON round trip
// and no observation written, and prints one JSON line: {"engine", "engine_version", "plans",
// "repeat", "per_plan_ms": {"median", "mean", "p90"}, "total_s", "module_cache": {"budget_mb",
// "modules", "bytes", "hits", "misses"}}, the times, hits and misses being the timed runs'.
// A budget too small to keep every module of the file warm is said on stderr.
//
// Files: main.go (documents, values, trap kinds, the protocol loop), config.go (compiler or
// interpreter), plan.go (runtimes and one plan), modcache.go (compiled modules in memory),
// bench.go, steps.go (call, write and read steps, bindings), hostfuncs.go (the plan's host
// functions), reflect.go and binary.go (export and import reflection), output.go and sleep.go.
//
// Two wazero behaviours shape the observations: proc_exit closes the module instance, and so
// does a timeout (close-on-context-done). Steps after either are reported as outcome "error"
// (the instance no longer exists), never as results of a dead instance.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"reflect"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"
)

const protocol = 3

// The host honestly has all of these; it has no fuel (wazero has no instruction budget).
var capabilities = []string{"host_imports", "command_mode", "exact_f32", "export_types",
	"import_types", "memory_types", "memory_limit", "timeout", "preload"}

// Trap messages of wazero's internal wasmruntime errors -> the protocol's trap kinds.
var trapKinds = map[string]string{
	"unreachable":                   "unreachable",
	"out of bounds memory access":   "memory_out_of_bounds",
	"integer divide by zero":        "integer_divide_by_zero",
	"integer overflow":              "integer_overflow",
	"invalid conversion to integer": "invalid_conversion",
	"stack overflow":                "stack_overflow",
	"invalid table access":          "indirect_call",
	"indirect call type mismatch":   "indirect_call",
}

// -- protocol documents -----------------------------------------------------------------------

type value struct {
	T string `json:"t"`
	V string `json:"v"`
}

// operand is a step's operand: a value, or a reference to one an earlier call step bound.
type operand struct {
	T   string  `json:"t"`
	V   string  `json:"v"`
	Ref *string `json:"ref"`
}

type expr struct {
	Value  *value  `json:"value,omitempty"`
	Param  *int    `json:"param,omitempty"`
	Result *int    `json:"result,omitempty"`
	Ref    *string `json:"ref,omitempty"`
}

type op struct {
	Call *string `json:"call,omitempty"`
	Args []expr  `json:"args,omitempty"`
	Read *struct {
		Ptr expr `json:"ptr"`
		Len expr `json:"len"`
	} `json:"read,omitempty"`
	Write *struct {
		Ptr expr   `json:"ptr"`
		Hex string `json:"hex"`
	} `json:"write,omitempty"`
	Trap *string `json:"trap,omitempty"`
}

type hostFunc struct {
	Module  string   `json:"module"`
	Name    string   `json:"name"`
	Params  []string `json:"params"`
	Results []string `json:"results"`
	Do      []op     `json:"do"`
	Return  []expr   `json:"return"`
}

// step is exactly one of a call, a write or a read.
type step struct {
	Call  *string   `json:"call"`
	Args  []operand `json:"args"`
	Bind  []*string `json:"bind"`
	Write *struct {
		Ptr operand `json:"ptr"`
		Hex string  `json:"hex"`
	} `json:"write"`
	Read *struct {
		Ptr operand `json:"ptr"`
		Len operand `json:"len"`
	} `json:"read"`
	TimeoutMs int64 `json:"timeout_ms"`
}

type plan struct {
	Type   string `json:"type"` // "plan", or "preload": only module and limits then (preload.go)
	ID     string `json:"id"`
	Module struct {
		Path   string `json:"path"`
		Sha256 string `json:"sha256"`
	} `json:"module"`
	Wasi struct {
		Args     []string   `json:"args"`
		Env      [][]string `json:"env"`
		StdinB64 string     `json:"stdin_b64"`
	} `json:"wasi"`
	Limits struct {
		MemoryBytes int64 `json:"memory_bytes"`
		OutputBytes int64 `json:"output_bytes"`
	} `json:"limits"`
	Imports []hostFunc `json:"imports"`
	Steps   []step     `json:"steps"`
}

type event map[string]any

type stepResult struct {
	Outcome   string   `json:"outcome"`
	Results   *[]value `json:"results,omitempty"` // present (maybe empty) exactly when ok
	Trap      string   `json:"trap,omitempty"`
	Code      *uint32  `json:"code,omitempty"`
	Message   string   `json:"message,omitempty"`
	StdoutB64 string   `json:"stdout_b64"`
	StderrB64 string   `json:"stderr_b64"`
	// Every byte written during the step, kept or not: count and SHA-256 (output.go).
	StdoutLen    int64   `json:"stdout_len"`
	StderrLen    int64   `json:"stderr_len"`
	StdoutSha256 string  `json:"stdout_sha256"`
	StderrSha256 string  `json:"stderr_sha256"`
	Trace        []event `json:"trace"`
	DataB64      *string `json:"data_b64,omitempty"` // a read step's bytes
	DurationMs   float64 `json:"duration_ms"`
}

type exportInfo struct {
	Name    string    `json:"name"`
	Kind    string    `json:"kind"`
	Params  *[]string `json:"params,omitempty"` // functions only
	Results *[]string `json:"results,omitempty"`
	// Memories only: pages; max is the JSON null when the memory declares none.
	Min *uint64         `json:"min,omitempty"`
	Max json.RawMessage `json:"max,omitempty"`
}

type importInfo struct {
	Module  string    `json:"module"`
	Name    string    `json:"name"`
	Kind    string    `json:"kind"`
	Params  *[]string `json:"params,omitempty"` // functions only
	Results *[]string `json:"results,omitempty"`
}

type loadInfo struct {
	Ok      bool   `json:"ok"`
	Stage   string `json:"stage,omitempty"`
	Message string `json:"message,omitempty"`
}

type observation struct {
	Type     string        `json:"type"`
	Protocol int           `json:"protocol"`
	ID       *string       `json:"id"`
	Error    string        `json:"error,omitempty"`
	Load     *loadInfo     `json:"load,omitempty"`
	Exports  *[]exportInfo `json:"exports"`
	Imports  *[]importInfo `json:"imports"`
	Steps    []stepResult  `json:"steps"`
}

// -- values: raw bits in, raw bits out, so NaN payloads survive -------------------------------

func decode(v value) (uint64, error) {
	switch v.T {
	case "i32", "i64":
		n, err := strconv.ParseInt(v.V, 10, 64)
		if v.T == "i32" {
			return uint64(uint32(n)), err
		}
		return uint64(n), err
	case "f32", "f64":
		n, err := strconv.ParseUint(strings.TrimPrefix(v.V, "0x"), 16, 64)
		if v.T == "f32" {
			return uint64(uint32(n)), err
		}
		return n, err
	}
	return 0, fmt.Errorf("unknown value type %q", v.T)
}

func encode(t string, bits uint64) value {
	switch t {
	case "i32":
		return value{t, strconv.FormatInt(int64(int32(uint32(bits))), 10)}
	case "i64":
		return value{t, strconv.FormatInt(int64(bits), 10)}
	case "f32":
		return value{t, fmt.Sprintf("0x%08x", uint32(bits))}
	}
	return value{t, fmt.Sprintf("0x%016x", bits)}
}

func typeNames(ts []api.ValueType) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = api.ValueTypeName(t)
	}
	return out
}

func encodeAll(types []string, bits []uint64) []value {
	out := make([]value, len(bits))
	for i, b := range bits {
		out[i] = encode(types[i], b)
	}
	return out
}

// -- errors and trap kinds --------------------------------------------------------------------

// hostTrap is a host function failing on purpose (the trap op) or by a bad memory access; it is
// panicked inside the host function, so wazero makes the guest call fail with it.
type hostTrap struct{ msg string }

func (e *hostTrap) Error() string { return e.msg }

// trapKind names the failure of a call. wazero wraps its trap sentinels (type
// *wasmruntime.Error, an internal package) in errors carrying a stack trace, and wraps a panic
// from a host function in "... (recovered by wazero)"; both keep the cause on the Unwrap chain.
func trapKind(err error) string {
	for e := err; e != nil; e = errors.Unwrap(e) {
		if _, ok := e.(*hostTrap); ok {
			return "host_error"
		}
		if reflect.TypeOf(e).String() == "*wasmruntime.Error" {
			if kind, ok := trapKinds[e.Error()]; ok {
				return kind
			}
			return "other"
		}
	}
	return "other"
}

// exitOf reports whether err is a proc_exit (and its code) as opposed to wazero closing the
// module because the step's context expired, which it reports with the same error type.
func exitOf(ctx context.Context, err error) (code uint32, exited bool, timedOut bool) {
	var ee *sys.ExitError
	if !errors.As(err, &ee) {
		return 0, false, false
	}
	if ee.ExitCode() == sys.ExitCodeDeadlineExceeded && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return 0, false, true
	}
	return ee.ExitCode(), true, false
}

// -- the protocol loop ------------------------------------------------------------------------

func main() {
	cacheDir := flag.String("cache", "", "directory for wazero's compilation cache")
	benchFile := flag.String("bench", "", "run the plans of this file in a timed loop (bench.go)")
	repeat := flag.Int("repeat", 5, "with --bench: how many times the whole list is timed")
	interpreter := flag.Bool("interpreter", false,
		"run wazero's interpreter instead of its compiler (config.go)")
	flag.Parse()
	budget, err := budgetFromEnv()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	eng, err := newEngine(*cacheDir, budget, configuration{interpreter: *interpreter})
	if err != nil {
		fmt.Fprintln(os.Stderr, "wazero compilation cache:", err)
		os.Exit(1)
	}
	if *benchFile != "" {
		os.Exit(bench(eng, *benchFile, *repeat))
	}
	out := bufio.NewWriter(os.Stdout)
	send := func(doc any) {
		line, err := json.Marshal(doc)
		if err != nil {
			line, _ = json.Marshal(observation{Type: "observation", Protocol: protocol,
				Error: "cannot encode the observation: " + err.Error(), Steps: []stepResult{}})
		}
		out.Write(append(line, '\n'))
		out.Flush()
	}
	send(map[string]any{"type": "hello", "protocol": protocol, "engine": eng.config.engineName(),
		"engine_version": eng.config.version(), "capabilities": capabilities})

	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 64<<20)
	for in.Scan() {
		if strings.TrimSpace(in.Text()) == "" {
			continue
		}
		var p plan
		err := json.Unmarshal(in.Bytes(), &p)
		if p.Type == "preload" { // a hint, never answered; a malformed one is dropped
			if err == nil {
				eng.preload(&p)
			}
			continue
		}
		send(serveOne(eng, &p, err))
		eng.absorbPreloads(context.Background())
	}
}

// serveOne answers one plan line, decoded into p (with decodeErr); the runner's own failures
// become an observation error.
func serveOne(eng *engine, p *plan, decodeErr error) observation {
	if decodeErr != nil {
		return observation{Type: "observation", Protocol: protocol, ID: idOf(p),
			Error: "bad plan: " + decodeErr.Error(), Steps: []stepResult{}}
	}
	return executeSafely(eng, p)
}

// executeSafely runs one plan; a panic of the runner's own becomes the observation's error.
func executeSafely(eng *engine, p *plan) (obs observation) {
	defer eng.afterPlan()
	defer func() {
		if r := recover(); r != nil {
			obs = observation{Type: "observation", Protocol: protocol, ID: idOf(p),
				Error: fmt.Sprintf("runner panic: %v\n%s", r, debug.Stack()), Steps: []stepResult{}}
		}
	}()
	return eng.execute(p)
}

func idOf(p *plan) *string {
	if p.ID == "" {
		return nil
	}
	return &p.ID
}
