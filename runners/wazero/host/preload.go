package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"sync/atomic"

	"github.com/tetratelabs/wazero"
)

// -- preloads: a module compiled in the background before its plan comes (capability preload) --

// The harness knows which modules its next items run and sends {"type": "preload", "module",
// "limits"} lines ahead of their plans (PROTOCOL.md "Preloads"). Each is read at once, then a
// goroutine compiles (from wazero's on-disk cache when it has the machine code) and reflects
// the module, on another core while the current plan runs; a plan whose module is preloaded
// waits for that goroutine instead of starting over. Nothing is answered: a preload that fails
// is forgotten, and its plan compiles the module itself and reports the failure as usual.
//
// Only the protocol goroutine touches the pending map and the module cache: a finished preload
// joins the cache between plans (absorbPreloads) or when its plan asks for it (takePreload).
// At most maxPending are held outside the cache's budget at once; more are dropped.

const maxPending = 8

type pendingModule struct {
	done chan struct{}
	m    *cachedModule // nil when it could not be read, compiled or reflected
}

// preloading counts the goroutines still compiling, for afterPlan's count of idle goroutines.
var preloading atomic.Int64

// preload starts compiling the module a preload line (decoded as a plan: its module and
// limits) names, unless it is cached, pending, or unusable (a hint, never an error).
func (e *engine) preload(p *plan) {
	if p.Module.Sha256 == "" || p.Module.Path == "" {
		return
	}
	pages := memoryPages(p.Limits.MemoryBytes)
	key := moduleKey(p.Module.Sha256, pages)
	if _, cached := e.modules.byKey[key]; cached || e.pending[key] != nil || len(e.pending) >= maxPending {
		return
	}
	ctx := context.Background()
	r, err := e.runtime(ctx, pages)
	if err != nil {
		return
	}
	binary, err := os.ReadFile(p.Module.Path)
	if err != nil {
		return
	}
	want := p.Module.Sha256
	pm := &pendingModule{done: make(chan struct{})}
	e.pending[key] = pm
	preloading.Add(1)
	go func() {
		defer preloading.Add(-1)
		defer close(pm.done)
		if sum := sha256.Sum256(binary); hex.EncodeToString(sum[:]) != want {
			return // not the module the hint names: a plan must never run it under that name
		}
		pm.m, _, _ = e.compileModule(ctx, r, key, binary)
	}()
}

// compileModule compiles and reflects `binary` for the cache. compileErr is the module's own
// failure, err the runner's.
func (e *engine) compileModule(ctx context.Context, r wazero.Runtime, key string, binary []byte) (m *cachedModule, compileErr, err error) {
	compiled, err := r.CompileModule(ctx, binary)
	if err != nil {
		return nil, err, nil
	}
	exports, imports, err := reflectModule(binary, compiled)
	if err != nil {
		compiled.Close(ctx)
		return nil, nil, err
	}
	return &cachedModule{key: key, compiled: compiled, exports: exports, imports: imports,
		bytes: int64(float64(len(binary)) * e.config.sizeFactor())}, nil, nil
}

// takePreload waits for the preload of `key`, if one is pending, and puts what it compiled in
// the cache; it says whether the cache now holds the module.
func (e *engine) takePreload(ctx context.Context, key string) bool {
	pm := e.pending[key]
	if pm == nil {
		return false
	}
	<-pm.done
	delete(e.pending, key)
	if pm.m == nil {
		return false
	}
	e.modules.put(ctx, pm.m)
	e.modules.preloaded++
	return true
}

// absorbPreloads moves every finished preload into the cache (between plans).
func (e *engine) absorbPreloads(ctx context.Context) {
	for key, pm := range e.pending {
		select {
		case <-pm.done:
			e.takePreload(ctx, key)
		default:
		}
	}
}
