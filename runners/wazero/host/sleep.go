package main

import (
	"context"
	"errors"
	"time"

	"github.com/tetratelabs/wazero/sys"
)

// nanosleep is the guest's sleep (poll_oneoff with a clock subscription: Go's time.Sleep). It
// sleeps for real, as WithSysNanosleep does, but also wakes when the current step's context
// ends: wazero's Nanosleep takes no context, and close-on-context-done only stops wasm code,
// so a plain time.Sleep of an hour would hold the step for the hour. On waking early it ends
// the call the way wazero ends a timed-out one and proc_exit ends an exiting one: the instance
// is closed with the context's exit code and the call unwinds with that sys.ExitError. Closing
// here rather than leaving it to wazero's watcher goroutine makes the outcome certain: the
// watcher may not have run yet when the sleep returns.
func (ru *run) nanosleep(ns int64) {
	ctx, mod := ru.stepCtx, ru.mod
	if ctx == nil || mod == nil { // not inside a step (nothing runs at instantiation)
		time.Sleep(time.Duration(ns))
		return
	}
	t := time.NewTimer(time.Duration(ns))
	defer t.Stop()
	select {
	case <-t.C:
		return
	case <-ctx.Done():
	}
	code := sys.ExitCodeContextCanceled
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		code = sys.ExitCodeDeadlineExceeded
	}
	_ = mod.CloseWithExitCode(context.Background(), code)
	panic(sys.NewExitError(code))
}
