package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"sort"
	"time"
)

// -- bench mode: the bare in-process loop the suite's per-item cost is compared to -------------

// bench runs every plan of the file once to warm up (compile, fill the caches), then the whole
// list `repeat` times through executeSafely, the function the protocol loop calls, with no JSON
// round trip and no observation written, and prints one JSON line of the timed runs' per-plan
// wall times. Returns the exit status.
func bench(eng *engine, file string, repeat int) int {
	if repeat < 1 {
		fmt.Fprintln(os.Stderr, "--repeat must be at least 1")
		return 2
	}
	plans, err := readPlans(file)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	failed := 0
	first := make([]float64, 0, len(plans)) // the warm-up pass: every module compiled (or read back) once
	for _, p := range plans {
		t := time.Now()
		if executeSafely(eng, p).Error != "" {
			failed++
		}
		first = append(first, float64(time.Since(t).Nanoseconds())/1e6)
	}
	if failed > 0 { // still timed (the suite pays for them too), but worth knowing
		fmt.Fprintf(os.Stderr, "%d of %d plans answered with a runner error\n", failed, len(plans))
	}
	c := eng.modules
	hits, misses, rejected := c.hits, c.misses, c.rejected
	times := make([]float64, 0, repeat*len(plans))
	started := time.Now()
	for range repeat {
		for _, p := range plans {
			t := time.Now()
			executeSafely(eng, p)
			times = append(times, float64(time.Since(t).Nanoseconds())/1e6)
		}
	}
	total := time.Since(started).Seconds()
	cache := c.stats()
	cache["hits"], cache["misses"] = c.hits-hits, c.misses-misses
	// Not all warm: modules that do not compile are compiled again (the suite does the same),
	// but a module evicted within the loop means the budget is too small for the file.
	if evicted := c.misses - misses - (c.rejected - rejected); evicted > 0 {
		fmt.Fprintf(os.Stderr, "%d of %d timed runs compiled again a module the cache had evicted "+
			"(%.0f MiB kept %d modules): raise WASMEXPORT_MODULE_CACHE_MB for a warm loop\n",
			evicted, len(times), cache["budget_mb"], c.order.Len())
	}
	line, _ := json.Marshal(map[string]any{
		"engine": eng.config.engineName(), "engine_version": eng.config.version(),
		"plans": len(plans), "repeat": repeat, "per_plan_ms": summary(times),
		"first_pass_ms": summary(first), "total_s": total,
		"module_cache": cache})
	os.Stdout.Write(append(line, '\n'))
	return 0
}

// readPlans reads one plan per non-blank line, as the harness sends them.
func readPlans(file string) ([]*plan, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var plans []*plan
	in := bufio.NewScanner(f)
	in.Buffer(make([]byte, 1<<20), 64<<20)
	for n := 1; in.Scan(); n++ {
		if len(bytes.TrimSpace(in.Bytes())) == 0 {
			continue
		}
		p := &plan{}
		if err := json.Unmarshal(in.Bytes(), p); err != nil {
			return nil, fmt.Errorf("%s:%d: bad plan: %w", file, n, err)
		}
		plans = append(plans, p)
	}
	if err := in.Err(); err != nil {
		return nil, err
	}
	if len(plans) == 0 {
		return nil, fmt.Errorf("%s: no plans", file)
	}
	return plans, nil
}

// summary: median, mean and p90 (nearest rank) of the times, in ms.
func summary(ms []float64) map[string]float64 {
	s := append([]float64(nil), ms...)
	sort.Float64s(s)
	n := len(s)
	median := s[n/2]
	if n%2 == 0 {
		median = (s[n/2-1] + s[n/2]) / 2
	}
	sum := 0.0
	for _, v := range s {
		sum += v
	}
	return map[string]float64{"median": median, "mean": sum / float64(n),
		"p90": s[int(math.Ceil(0.9*float64(n)))-1]}
}
