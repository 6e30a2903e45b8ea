package main

import (
	"container/list"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/tetratelabs/wazero"
)

// -- compiled modules kept in memory, least recently used dropped first past a byte budget ----

// Without this, every plan would compile its module again: wazero finds the machine code in its
// on-disk cache, but still decodes and validates the binary and reads the code back (~30 ms for
// the suite's Go modules, against ~3 ms to instantiate a module it holds).
//
// Size measure: the .wasm size times sizeFactor, the resident memory a held module costs,
// measured as the growth of the process's RSS over a run of the suite's plans with no eviction
// (6.2 × over the first 40 Go modules, 6.45 × over all 133; 2.2 MB .wasm each): the machine code
// and its source map (~3.7 ×, the size of wazero's cache file), the decoded module on the Go
// heap (~1.7 ×) and the GC's headroom over it. With modules evicted all the time, the process
// settles near 1.45 × the budget plus 30 MB (the churn of decoding and of guest memory). The
// on-disk cache (--cache DIR) is wazero's own and is left as it is. The interpreter holds its
// compiled functions on the Go heap instead, at interpreterSizeFactor (config.go).
const (
	defaultBudgetMB = 256
	sizeFactor      = 6.5
)

// A module reflected once, when compiled; every observation of it shares the reflections, so
// they are read, never changed.
type cachedModule struct {
	key      string
	compiled wazero.CompiledModule
	exports  []exportInfo
	imports  []importInfo
	bytes    int64
}

type moduleCache struct {
	budget       int64
	bytes        int64
	order        *list.List // of *cachedModule, most recently used first
	byKey        map[string]*list.Element
	hits, misses int64
	rejected     int64 // misses whose module could not be read, compiled or reflected
	preloaded    int64 // modules compiled by a preload (preload.go)
}

func newModuleCache(budget int64) *moduleCache {
	return &moduleCache{budget: budget, order: list.New(), byKey: map[string]*list.Element{}}
}

// budgetFromEnv reads WASMEXPORT_MODULE_CACHE_MB (MiB, may be fractional or 0).
func budgetFromEnv() (int64, error) {
	text := strings.TrimSpace(os.Getenv("WASMEXPORT_MODULE_CACHE_MB"))
	if text == "" {
		return defaultBudgetMB << 20, nil
	}
	mb, err := strconv.ParseFloat(text, 64)
	if err != nil || mb < 0 || mb > 1<<30 {
		return 0, fmt.Errorf("WASMEXPORT_MODULE_CACHE_MB must be a number of MiB, not %q", text)
	}
	return int64(mb * (1 << 20)), nil
}

// moduleKey names a compiled module: its sha256 and the memory limit of the runtime that
// compiled it (a CompiledModule belongs to one runtime, and wazero bakes the limit into it).
func moduleKey(sha256 string, pages uint32) string {
	return sha256 + "/" + strconv.FormatUint(uint64(pages), 10)
}

func (c *moduleCache) get(key string) *cachedModule {
	el, ok := c.byKey[key]
	if !ok {
		c.misses++
		return nil
	}
	c.hits++
	c.order.MoveToFront(el)
	return el.Value.(*cachedModule)
}

// put adds a module just compiled and closes the least recently used ones past the budget. The
// module just added always stays, so the plans of one case reuse it whatever the budget. Only
// called between plans, when no instance of any cached module is alive.
func (c *moduleCache) put(ctx context.Context, m *cachedModule) {
	c.byKey[m.key] = c.order.PushFront(m)
	c.bytes += m.bytes
	for c.bytes > c.budget && c.order.Len() > 1 {
		old := c.order.Remove(c.order.Back()).(*cachedModule)
		delete(c.byKey, old.key)
		c.bytes -= old.bytes
		// wazero unmaps the machine code from a finalizer: the next GC gives it back, and the
		// heap churn of decoding and instantiating brings one soon (forcing one per eviction
		// changed neither RSS nor CPU measurably).
		old.compiled.Close(ctx)
	}
}

func (c *moduleCache) stats() map[string]any {
	return map[string]any{"budget_mb": float64(c.budget) / (1 << 20), "modules": c.order.Len(),
		"bytes": c.bytes, "hits": c.hits, "misses": c.misses, "preloaded": c.preloaded}
}
