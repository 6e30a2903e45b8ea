// Command wazero-host is the wazero runner: it executes plans with wazero and reports
// observations, speaking runners/PROTOCOL.md on stdin/stdout (a hello line, then one
// observation line per plan line). It never judges.
//
// wazero is configured the way an embedder of Go wasip1 modules must configure it, which is
// also what wazero's own CLI (used by Go's CI) does:
//
//   - the compiler engine where wazero has one (wazero.NewRuntimeConfig picks it), with an
//     on-disk compilation cache (--cache DIR);
//   - nothing runs at instantiation (WithStartFunctions()): _initialize and _start are steps;
//   - real clocks, real sleep and crypto/rand randomness (wazero's defaults are fake ones);
//   - wasi_snapshot_preview1 from wazero's imports package with exactly the plan's args and
//     env, an empty stdin, no filesystem mounts, stdout and stderr captured per step;
//   - WithCloseOnContextDone(true) plus a context deadline per step for timeouts, and
//     WithMemoryLimitPages for the memory cap (one runtime per distinct limit).
//
// Two wazero behaviours shape the observations: proc_exit closes the module instance, and so
// does a timeout (close-on-context-done). Steps after either are reported as outcome "error"
// (the instance no longer exists), never as results of a dead instance.
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"reflect"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"
)

const protocol = 1

// The host honestly has all of these; it has no fuel (wazero has no instruction budget).
var capabilities = []string{"host_imports", "command_mode", "exact_f32", "export_types",
	"memory_limit", "timeout"}

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

type expr struct {
	Value  *value `json:"value,omitempty"`
	Param  *int   `json:"param,omitempty"`
	Result *int   `json:"result,omitempty"`
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

type step struct {
	Call      string  `json:"call"`
	Args      []value `json:"args"`
	TimeoutMs int64   `json:"timeout_ms"`
}

type plan struct {
	ID     string `json:"id"`
	Module struct {
		Path   string `json:"path"`
		Sha256 string `json:"sha256"`
	} `json:"module"`
	Wasi struct {
		Args []string   `json:"args"`
		Env  [][]string `json:"env"`
	} `json:"wasi"`
	Limits struct {
		MemoryBytes int64 `json:"memory_bytes"`
	} `json:"limits"`
	Imports []hostFunc `json:"imports"`
	Steps   []step     `json:"steps"`
}

type event map[string]any

type stepResult struct {
	Outcome    string   `json:"outcome"`
	Results    *[]value `json:"results,omitempty"` // present (maybe empty) exactly when ok
	Trap       string   `json:"trap,omitempty"`
	Code       *uint32  `json:"code,omitempty"`
	Message    string   `json:"message,omitempty"`
	StdoutB64  string   `json:"stdout_b64"`
	StderrB64  string   `json:"stderr_b64"`
	Trace      []event  `json:"trace"`
	DurationMs float64  `json:"duration_ms"`
}

type exportInfo struct {
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

// -- engine: runtimes per memory limit, the compilation cache ---------------------------------

type engine struct {
	cache    wazero.CompilationCache
	runtimes map[uint32]wazero.Runtime
}

func newEngine(cacheDir string) (*engine, error) {
	var cache wazero.CompilationCache
	if cacheDir == "" {
		cache = wazero.NewCompilationCache()
	} else {
		c, err := wazero.NewCompilationCacheWithDir(cacheDir)
		if err != nil {
			return nil, err
		}
		cache = c
	}
	return &engine{cache: cache, runtimes: map[uint32]wazero.Runtime{}}, nil
}

// runtime returns the runtime capping linear memory at `pages`, with WASI instantiated in it.
// The plan's own host modules and the guest are instantiated per plan and closed after it.
func (e *engine) runtime(ctx context.Context, pages uint32) (wazero.Runtime, error) {
	if r, ok := e.runtimes[pages]; ok {
		return r, nil
	}
	cfg := wazero.NewRuntimeConfig(). // the compiler where supported, else the interpreter
						WithCompilationCache(e.cache).
						WithCloseOnContextDone(true).
						WithMemoryLimitPages(pages)
	r := wazero.NewRuntimeWithConfig(ctx, cfg)
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, r); err != nil {
		return nil, err
	}
	e.runtimes[pages] = r
	return r, nil
}

func memoryPages(limitBytes int64) uint32 {
	const maxPages = 65536 // wazero panics above this
	if limitBytes <= 0 || limitBytes/65536 >= maxPages {
		return maxPages
	}
	return uint32(limitBytes / 65536)
}

func wazeroVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if dep.Path == "github.com/tetratelabs/wazero" {
				return dep.Version
			}
		}
	}
	return "unknown"
}

// -- one plan ---------------------------------------------------------------------------------

// streams collects what the guest writes to one fd; drained after every step.
type stream struct {
	mu  sync.Mutex
	buf []byte
}

func (s *stream) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf = append(s.buf, p...)
	return len(p), nil
}

func (s *stream) drain() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := base64.StdEncoding.EncodeToString(s.buf)
	s.buf = s.buf[:0]
	return out
}

type run struct {
	plan           *plan
	stdout, stderr stream
	trace          []event
	closedBy       string // why wazero closed the instance, once it has
}

func (e *engine) execute(p *plan) (obs observation) {
	ctx := context.Background()
	obs = observation{Type: "observation", Protocol: protocol, ID: &p.ID, Steps: []stepResult{}}
	r, err := e.runtime(ctx, memoryPages(p.Limits.MemoryBytes))
	if err != nil {
		obs.Error = "cannot create the wazero runtime: " + err.Error()
		return obs
	}
	binary, err := os.ReadFile(p.Module.Path)
	if err != nil {
		obs.Error = err.Error()
		return obs
	}
	compiled, err := r.CompileModule(ctx, binary)
	if err != nil {
		obs.Load = &loadInfo{Ok: false, Stage: "compile", Message: err.Error()}
		return obs
	}
	defer compiled.Close(ctx)
	exports, err := exportTypes(binary, compiled)
	if err != nil {
		obs.Error = err.Error()
		return obs
	}
	obs.Exports = &exports

	ru := &run{plan: p}
	mod, closers, err := ru.instantiate(ctx, r, compiled)
	for _, c := range closers {
		defer c.Close(ctx)
	}
	if err != nil {
		obs.Load = &loadInfo{Ok: false, Stage: "instantiate", Message: err.Error()}
		return obs
	}
	obs.Load = &loadInfo{Ok: true}
	for _, s := range p.Steps {
		obs.Steps = append(obs.Steps, ru.step(ctx, mod, s))
	}
	return obs
}

// instantiate defines the plan's host functions (one host module per import module name) and
// instantiates the guest. Everything it returns to close must be closed after the plan.
func (ru *run) instantiate(ctx context.Context, r wazero.Runtime, compiled wazero.CompiledModule) (api.Module, []api.Closer, error) {
	var closers []api.Closer
	byModule := map[string][]hostFunc{}
	var order []string
	for _, h := range ru.plan.Imports {
		if _, seen := byModule[h.Module]; !seen {
			order = append(order, h.Module)
		}
		byModule[h.Module] = append(byModule[h.Module], h)
	}
	for _, name := range order {
		b := r.NewHostModuleBuilder(name)
		for _, h := range byModule[name] {
			params, err := valueTypes(h.Params)
			if err != nil {
				return nil, closers, err
			}
			results, err := valueTypes(h.Results)
			if err != nil {
				return nil, closers, err
			}
			b.NewFunctionBuilder().WithGoModuleFunction(ru.host(h), params, results).Export(h.Name)
		}
		m, err := b.Instantiate(ctx)
		if err != nil {
			return nil, closers, err
		}
		closers = append(closers, m)
	}

	cfg := wazero.NewModuleConfig().
		WithName("").         // anonymous: plans never collide on a module name
		WithStartFunctions(). // _initialize and _start are the plan's steps
		WithArgs(ru.plan.Wasi.Args...).
		WithStdin(eofReader{}).
		WithStdout(&ru.stdout).
		WithStderr(&ru.stderr).
		WithSysWalltime().
		WithSysNanotime().
		WithSysNanosleep().
		WithRandSource(rand.Reader)
	for _, kv := range ru.plan.Wasi.Env {
		cfg = cfg.WithEnv(kv[0], kv[1])
	}
	mod, err := r.InstantiateModule(ctx, compiled, cfg)
	if err != nil {
		return nil, closers, fmt.Errorf("%w%s", err, ru.unresolved(compiled))
	}
	return mod, append(closers, mod), nil
}

// unresolved names the guest's non-WASI imports the plan does not define. wazero reports a
// missing import module only as "module[host] not instantiated"; this adds which functions.
func (ru *run) unresolved(compiled wazero.CompiledModule) string {
	defined := map[string]bool{}
	for _, h := range ru.plan.Imports {
		defined[h.Module+"."+h.Name] = true
	}
	var missing []string
	for _, f := range compiled.ImportedFunctions() {
		mod, name, _ := f.Import()
		if mod != wasi_snapshot_preview1.ModuleName && !defined[mod+"."+name] {
			missing = append(missing, mod+"."+name)
		}
	}
	if len(missing) == 0 {
		return ""
	}
	return " (the plan defines no " + strings.Join(missing, ", ") + ")"
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

func valueTypes(names []string) ([]api.ValueType, error) {
	out := make([]api.ValueType, len(names))
	for i, n := range names {
		switch n {
		case "i32":
			out[i] = api.ValueTypeI32
		case "i64":
			out[i] = api.ValueTypeI64
		case "f32":
			out[i] = api.ValueTypeF32
		case "f64":
			out[i] = api.ValueTypeF64
		default:
			return nil, fmt.Errorf("unknown value type %q", n)
		}
	}
	return out, nil
}

func (ru *run) step(ctx context.Context, mod api.Module, s step) stepResult {
	ru.trace = []event{}
	started := time.Now()
	out := ru.call(ctx, mod, s)
	out.DurationMs = float64(time.Since(started).Nanoseconds()) / 1e6
	out.StdoutB64 = ru.stdout.drain()
	out.StderrB64 = ru.stderr.drain()
	out.Trace = ru.trace
	return out
}

func (ru *run) call(ctx context.Context, mod api.Module, s step) stepResult {
	if mod.IsClosed() {
		return stepResult{Outcome: "error", Message: "wazero closed the module instance " +
			ru.closedBy + "; it cannot be called again"}
	}
	fn := mod.ExportedFunction(s.Call)
	if fn == nil {
		return stepResult{Outcome: "error", Message: fmt.Sprintf("no function export named %q", s.Call)}
	}
	def := fn.Definition()
	args, err := checkArgs(def, s.Args)
	if err != nil {
		return stepResult{Outcome: "error", Message: err.Error()}
	}
	timeout := time.Duration(s.TimeoutMs) * time.Millisecond
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	results, err := fn.Call(cctx, args...)
	if err == nil {
		values := encodeAll(typeNames(def.ResultTypes()), results)
		return stepResult{Outcome: "ok", Results: &values}
	}
	if code, exited, timedOut := exitOf(cctx, err); exited {
		ru.closedBy = fmt.Sprintf("when the guest called proc_exit(%d) in an earlier step", code)
		return stepResult{Outcome: "exit", Code: &code, Message: err.Error()}
	} else if timedOut {
		ru.closedBy = fmt.Sprintf("when an earlier step timed out after %v", timeout)
		return stepResult{Outcome: "trap", Trap: "timeout", Message: err.Error()}
	}
	if mod.IsClosed() && ru.closedBy == "" {
		ru.closedBy = "after an earlier step failed"
	}
	return stepResult{Outcome: "trap", Trap: trapKind(err), Message: err.Error()}
}

func checkArgs(def api.FunctionDefinition, args []value) ([]uint64, error) {
	want := typeNames(def.ParamTypes())
	got := make([]string, len(args))
	for i, a := range args {
		got[i] = a.T
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		return nil, fmt.Errorf("arguments (%s) do not match the export's parameters (%s)",
			strings.Join(got, ", "), strings.Join(want, ", "))
	}
	out := make([]uint64, len(args))
	for i, a := range args {
		bits, err := decode(a)
		if err != nil {
			return nil, err
		}
		out[i] = bits
	}
	return out, nil
}

// -- host functions: the protocol's small interpreter -----------------------------------------

func (ru *run) host(h hostFunc) api.GoModuleFunc {
	name := h.Module + "." + h.Name
	return func(ctx context.Context, mod api.Module, stack []uint64) {
		params := append([]uint64(nil), stack[:len(h.Params)]...)
		ru.trace = append(ru.trace, event{"ev": "import", "name": name,
			"args": encodeAll(h.Params, params)})
		var last []value // the results of the last call op, typed
		eval := func(x expr) value {
			switch {
			case x.Param != nil:
				if *x.Param < 0 || *x.Param >= len(params) {
					panic(&hostTrap{fmt.Sprintf("%s: there is no parameter %d", name, *x.Param)})
				}
				return encode(h.Params[*x.Param], params[*x.Param])
			case x.Result != nil:
				if *x.Result < 0 || *x.Result >= len(last) {
					panic(&hostTrap{fmt.Sprintf("%s: result %d of the last call is missing", name, *x.Result)})
				}
				return last[*x.Result]
			case x.Value != nil:
				return *x.Value
			}
			panic(&hostTrap{name + ": an operand names no value, param or result"})
		}
		bits := func(x expr) uint64 {
			b, err := decode(eval(x))
			if err != nil {
				panic(&hostTrap{err.Error()})
			}
			return b
		}
		for _, o := range h.Do {
			switch {
			case o.Call != nil:
				args := make([]value, len(o.Args))
				for i, a := range o.Args {
					args[i] = eval(a)
				}
				last = ru.nested(ctx, mod, *o.Call, args)
			case o.Read != nil:
				ptr, n := uint32(bits(o.Read.Ptr)), uint32(bits(o.Read.Len))
				ru.trace = append(ru.trace, event{"ev": "read", "hex": hex.EncodeToString(guestBytes(mod, ptr, n))})
			case o.Write != nil:
				data, err := hex.DecodeString(o.Write.Hex)
				if err != nil {
					panic(&hostTrap{err.Error()})
				}
				ptr := uint32(bits(o.Write.Ptr))
				guestBytes(mod, ptr, uint32(len(data)))
				mod.ExportedMemory("memory").Write(ptr, data)
				ru.trace = append(ru.trace, event{"ev": "write", "len": len(data)})
			case o.Trap != nil:
				panic(&hostTrap{*o.Trap})
			default:
				panic(&hostTrap{name + ": unknown op"})
			}
		}
		results := make([]value, len(h.Return))
		for i, x := range h.Return {
			results[i] = eval(x)
		}
		ru.trace = append(ru.trace, event{"ev": "import_return", "values": results})
		for i, v := range results {
			b, err := decode(v)
			if err != nil {
				panic(&hostTrap{err.Error()})
			}
			stack[i] = b
		}
	}
}

// nested re-enters an export of the calling instance from a host function. A trap or exit is
// recorded and then re-panicked, so the outer call fails the same way (wazero passes an exit
// error through unwrapped and keeps a trap's cause on the error chain).
func (ru *run) nested(ctx context.Context, mod api.Module, export string, args []value) []value {
	ru.trace = append(ru.trace, event{"ev": "export", "name": export, "args": args})
	fn := mod.ExportedFunction(export)
	if fn == nil {
		panic(&hostTrap{fmt.Sprintf("the guest has no function export %q", export)})
	}
	def := fn.Definition()
	raw, err := checkArgs(def, args)
	if err != nil {
		panic(&hostTrap{err.Error()})
	}
	results, err := fn.Call(ctx, raw...)
	if err != nil {
		if code, exited, timedOut := exitOf(ctx, err); exited {
			ru.trace = append(ru.trace, event{"ev": "export_exit", "code": code})
		} else if timedOut {
			ru.trace = append(ru.trace, event{"ev": "export_trap", "kind": "timeout"})
		} else {
			ru.trace = append(ru.trace, event{"ev": "export_trap", "kind": trapKind(err)})
		}
		panic(err)
	}
	out := encodeAll(typeNames(def.ResultTypes()), results)
	ru.trace = append(ru.trace, event{"ev": "export_return", "values": out})
	return out
}

// guestBytes copies [ptr, ptr+n) out of the guest's exported memory, or fails the host call.
func guestBytes(mod api.Module, ptr, n uint32) []byte {
	mem := mod.ExportedMemory("memory")
	if mem == nil {
		panic(&hostTrap{"the guest exports no memory"})
	}
	data, ok := mem.Read(ptr, n)
	if !ok {
		panic(&hostTrap{fmt.Sprintf("memory access [%d, %d) is outside the %d-byte memory",
			ptr, uint64(ptr)+uint64(n), mem.Size())})
	}
	return append([]byte(nil), data...)
}

// -- export reflection in module order --------------------------------------------------------

// exportTypes reflects the exports through wazero (kinds, function signatures) in the order of
// the binary's export section: wazero hands exports back as maps, so the order is read from the
// section itself.
func exportTypes(binary []byte, compiled wazero.CompiledModule) ([]exportInfo, error) {
	order, err := exportOrder(binary)
	if err != nil {
		return nil, fmt.Errorf("reading the export section: %w", err)
	}
	funcs, mems := compiled.ExportedFunctions(), compiled.ExportedMemories()
	out := make([]exportInfo, 0, len(order))
	for _, e := range order {
		if f, ok := funcs[e.name]; ok && e.kind == "func" {
			params, results := typeNames(f.ParamTypes()), typeNames(f.ResultTypes())
			out = append(out, exportInfo{Name: e.name, Kind: "func", Params: &params, Results: &results})
			continue
		}
		if _, ok := mems[e.name]; !ok && e.kind == "memory" {
			return nil, fmt.Errorf("wazero does not reflect the memory export %q", e.name)
		}
		if e.kind == "func" {
			return nil, fmt.Errorf("wazero does not reflect the function export %q", e.name)
		}
		out = append(out, exportInfo{Name: e.name, Kind: e.kind}) // memory, table, global
	}
	return out, nil
}

type export struct{ name, kind string }

// exportOrder parses just enough of a (valid: wazero compiled it) module binary to list its
// export section.
func exportOrder(b []byte) ([]export, error) {
	r := &reader{b: b, pos: 8} // magic and version
	for r.pos < len(r.b) {
		id := r.byte()
		size := int(r.leb())
		end := r.pos + size
		if r.err != nil || end > len(r.b) {
			return nil, errors.New("truncated section")
		}
		if id != 7 {
			r.pos = end
			continue
		}
		n := int(r.leb())
		out := make([]export, 0, n)
		for i := 0; i < n && r.err == nil; i++ {
			nameLen := int(r.leb())
			name := string(r.bytes(nameLen))
			kind := r.byte()
			r.leb() // index
			kinds := []string{"func", "table", "memory", "global"}
			if int(kind) >= len(kinds) {
				return nil, fmt.Errorf("export %q has unknown kind %d", name, kind)
			}
			out = append(out, export{name, kinds[kind]})
		}
		return out, r.err
	}
	return nil, nil
}

type reader struct {
	b   []byte
	pos int
	err error
}

func (r *reader) byte() byte {
	if r.pos >= len(r.b) {
		r.err = io.ErrUnexpectedEOF
		return 0
	}
	r.pos++
	return r.b[r.pos-1]
}

func (r *reader) bytes(n int) []byte {
	if n < 0 || r.pos+n > len(r.b) {
		r.err = io.ErrUnexpectedEOF
		return nil
	}
	r.pos += n
	return r.b[r.pos-n : r.pos]
}

func (r *reader) leb() uint64 {
	var v uint64
	for shift := 0; shift < 64; shift += 7 {
		c := r.byte()
		v |= uint64(c&0x7f) << shift
		if c&0x80 == 0 || r.err != nil {
			break
		}
	}
	return v
}

// -- the protocol loop ------------------------------------------------------------------------

func main() {
	cacheDir := flag.String("cache", "", "directory for wazero's compilation cache")
	flag.Parse()
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
	eng, err := newEngine(*cacheDir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "wazero compilation cache:", err)
		os.Exit(1)
	}
	send(map[string]any{"type": "hello", "protocol": protocol, "engine": "wazero",
		"engine_version": wazeroVersion(), "capabilities": capabilities})

	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 64<<20)
	for in.Scan() {
		if strings.TrimSpace(in.Text()) == "" {
			continue
		}
		send(serveOne(eng, in.Bytes()))
	}
}

// serveOne answers one plan line; the runner's own failures become an observation error.
func serveOne(eng *engine, line []byte) (obs observation) {
	var p plan
	defer func() {
		if r := recover(); r != nil {
			obs = observation{Type: "observation", Protocol: protocol, ID: idOf(&p),
				Error: fmt.Sprintf("runner panic: %v\n%s", r, debug.Stack()), Steps: []stepResult{}}
		}
	}()
	if err := json.Unmarshal(line, &p); err != nil {
		return observation{Type: "observation", Protocol: protocol, ID: idOf(&p),
			Error: "bad plan: " + err.Error(), Steps: []stepResult{}}
	}
	return eng.execute(&p)
}

func idOf(p *plan) *string {
	if p.ID == "" {
		return nil
	}
	return &p.ID
}
