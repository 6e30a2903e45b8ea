package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// -- engine: runtimes per memory limit, the compilation cache ---------------------------------

type engine struct {
	config   configuration
	cache    wazero.CompilationCache
	runtimes map[uint32]wazero.Runtime
	modules  *moduleCache
	pending  map[string]*pendingModule // preloads not yet in the cache (preload.go)
	bigGuest bool                      // the last plan's guest memory grew past bigGuestBytes
	// Goroutines when no plan runs: wazero starts one per call and leaves it to end on its own.
	idleGoroutines int
}

func newEngine(cacheDir string, budget int64, config configuration) (*engine, error) {
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
	return &engine{config: config, cache: cache, runtimes: map[uint32]wazero.Runtime{},
		modules: newModuleCache(budget), pending: map[string]*pendingModule{}, idleGoroutines: runtime.NumGoroutine()}, nil
}

// runtime returns the runtime capping linear memory at `pages`, with WASI instantiated in it.
// The plan's own host modules and the guest are instantiated per plan and closed after it.
func (e *engine) runtime(ctx context.Context, pages uint32) (wazero.Runtime, error) {
	if r, ok := e.runtimes[pages]; ok {
		return r, nil
	}
	cfg := e.config.runtimeConfig().
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

type run struct {
	plan           *plan
	stdout, stderr *stream
	trace          []event
	closedBy       string // why wazero closed the instance, once it has
	stdin          []byte
	imports        []importInfo     // the guest's, reflected
	bindings       map[string]value // what call steps bound, for later steps' refs
	// The guest instance and the running step's context, for nanosleep (sleep.go).
	mod     api.Module
	stepCtx context.Context
}

func (e *engine) execute(p *plan) (obs observation) {
	ctx := context.Background()
	obs = observation{Type: "observation", Protocol: protocol, ID: &p.ID, Steps: []stepResult{}}
	stdin, err := base64.StdEncoding.DecodeString(p.Wasi.StdinB64)
	if err != nil {
		obs.Error = "bad plan: wasi.stdin_b64: " + err.Error()
		return obs
	}
	pages := memoryPages(p.Limits.MemoryBytes)
	r, err := e.runtime(ctx, pages)
	if err != nil {
		obs.Error = "cannot create the wazero runtime: " + err.Error()
		return obs
	}
	m, compileErr, err := e.module(ctx, r, pages, p)
	if err != nil {
		obs.Error = err.Error()
		return obs
	}
	if compileErr != nil {
		obs.Load = &loadInfo{Ok: false, Stage: "compile", Message: compileErr.Error()}
		return obs
	}
	exports, imports := m.exports, m.imports
	obs.Exports, obs.Imports = &exports, &imports

	ru := &run{plan: p, stdout: newStream(p.Limits.OutputBytes), stderr: newStream(p.Limits.OutputBytes),
		stdin: stdin, imports: imports, bindings: map[string]value{}}
	mod, closers, err := ru.instantiate(ctx, r, m.compiled)
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
	// By its exports: without a memory, mod.Memory() is a non-nil interface to a nil pointer.
	for name := range mod.ExportedMemoryDefinitions() {
		if mem := mod.ExportedMemory(name); mem != nil && mem.Size() > bigGuestBytes {
			e.bigGuest = true
		}
	}
	return obs
}

// A guest whose linear memory (on the Go heap) grew past this has it handed back to the system
// once its plan is done. Otherwise Go paces its next collections by the dead guest's size, and
// holds that memory and, until a collection, the machine code of evicted modules:
// lifecycle/call-after-stack-overflow grows to the 1 GiB limit, and left the process at
// 1.6 GiB after a run of the suite with a 256 MiB budget.
const bigGuestBytes = 64 << 20

// afterPlan runs once a plan's instances are closed.
func (e *engine) afterPlan() {
	if !e.bigGuest {
		return
	}
	e.bigGuest = false
	// wazero's watcher goroutine of each call (close-on-context-done) holds the instance until
	// it is scheduled after the call: wait for them, or the collection keeps the memory.
	for end := time.Now().Add(100 * time.Millisecond); runtime.NumGoroutine() > e.idleGoroutines+int(preloading.Load()) &&
		time.Now().Before(end); {
		time.Sleep(100 * time.Microsecond)
	}
	debug.FreeOSMemory()
}

// module returns the plan's module compiled by the runtime r, reflected: from the in-memory
// cache when seen before (the file is not even read), else compiled (from wazero's on-disk
// cache when it has the machine code) and added to it. compileErr is the module's own failure.
func (e *engine) module(ctx context.Context, r wazero.Runtime, pages uint32, p *plan) (m *cachedModule, compileErr, err error) {
	var binary []byte
	sum := p.Module.Sha256
	if sum == "" { // the protocol requires it; without it, the bytes name the module
		if binary, err = os.ReadFile(p.Module.Path); err != nil {
			return nil, nil, err
		}
		h := sha256.Sum256(binary)
		sum = hex.EncodeToString(h[:])
	}
	key := moduleKey(sum, pages)
	e.takePreload(ctx, key)
	if hit := e.modules.get(key); hit != nil {
		return hit, nil, nil
	}
	defer func() {
		if m == nil {
			e.modules.rejected++
		}
	}()
	if binary == nil {
		if binary, err = os.ReadFile(p.Module.Path); err != nil {
			return nil, nil, err
		}
	}
	if m, compileErr, err = e.compileModule(ctx, r, key, binary); m == nil {
		return nil, compileErr, err
	}
	e.modules.put(ctx, m)
	return m, nil, nil
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
		WithStdin(bytes.NewReader(ru.stdin)). // then end of file: fd_read returns 0
		WithStdout(ru.stdout).
		WithStderr(ru.stderr).
		WithSysWalltime().
		WithSysNanotime().
		WithNanosleep(ru.nanosleep). // a real sleep that the step's timeout ends
		WithRandSource(rand.Reader)
	for _, kv := range ru.plan.Wasi.Env {
		cfg = cfg.WithEnv(kv[0], kv[1])
	}
	mod, err := r.InstantiateModule(ctx, compiled, cfg)
	if err != nil {
		return nil, closers, fmt.Errorf("%w%s", err, ru.unresolved())
	}
	ru.mod = mod
	return mod, append(closers, mod), nil
}

// unresolved names the guest's non-WASI imports the plan does not define (a plan defines only
// functions). wazero reports a missing import module only as "module[host] not instantiated".
func (ru *run) unresolved() string {
	defined := map[string]bool{}
	for _, h := range ru.plan.Imports {
		defined[h.Module+"."+h.Name] = true
	}
	var missing []string
	for _, im := range ru.imports {
		if im.Module == wasi_snapshot_preview1.ModuleName {
			continue
		}
		if im.Kind != "func" {
			missing = append(missing, im.Module+"."+im.Name+" ("+im.Kind+")")
		} else if !defined[im.Module+"."+im.Name] {
			missing = append(missing, im.Module+"."+im.Name)
		}
	}
	if len(missing) == 0 {
		return ""
	}
	return " (the plan defines no " + strings.Join(missing, ", ") + ")"
}

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
