package main

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/tetratelabs/wazero/api"
)

// -- steps: call an export, write into or read from the exported memory -----------------------

func (ru *run) step(ctx context.Context, mod api.Module, s step) stepResult {
	ru.trace = []event{}
	started := time.Now()
	out := ru.attempt(ctx, mod, s)
	out.DurationMs = float64(time.Since(started).Nanoseconds()) / 1e6
	stdout, stderr := ru.stdout.drain(), ru.stderr.drain()
	out.StdoutB64, out.StdoutLen, out.StdoutSha256 = stdout.b64, stdout.total, stdout.sha256
	out.StderrB64, out.StderrLen, out.StderrSha256 = stderr.b64, stderr.total, stderr.sha256
	out.Trace = ru.trace
	return out
}

func (ru *run) attempt(ctx context.Context, mod api.Module, s step) stepResult {
	if mod.IsClosed() {
		return failed("wazero closed the module instance " + ru.closedBy + "; it cannot be used again")
	}
	switch {
	case s.Call != nil:
		return ru.call(ctx, mod, s)
	case s.Write != nil:
		data, err := hex.DecodeString(s.Write.Hex)
		if err != nil {
			return failed("bad write step: " + err.Error())
		}
		ptr, err := ru.address(s.Write.Ptr, "ptr")
		if err != nil {
			return failed(err.Error())
		}
		mem, res := guestMemory(mod)
		if mem == nil {
			return res
		}
		if !mem.Write(ptr, data) {
			return outOfBounds(mem, ptr, uint32(len(data)))
		}
		return stepResult{Outcome: "ok", Results: &[]value{}}
	case s.Read != nil:
		ptr, err := ru.address(s.Read.Ptr, "ptr")
		if err != nil {
			return failed(err.Error())
		}
		n, err := ru.address(s.Read.Len, "len")
		if err != nil {
			return failed(err.Error())
		}
		mem, res := guestMemory(mod)
		if mem == nil {
			return res
		}
		data, ok := mem.Read(ptr, n) // a view of the memory: encoded before anything else runs
		if !ok {
			return outOfBounds(mem, ptr, n)
		}
		b64 := base64.StdEncoding.EncodeToString(data)
		return stepResult{Outcome: "ok", Results: &[]value{}, DataB64: &b64}
	}
	return failed("the step has no call, write or read")
}

func failed(msg string) stepResult { return stepResult{Outcome: "error", Message: msg} }

func guestMemory(mod api.Module) (api.Memory, stepResult) {
	mem := mod.ExportedMemory("memory")
	if mem == nil {
		return nil, failed(`the instance exports no memory named "memory"`)
	}
	return mem, stepResult{}
}

func outOfBounds(mem api.Memory, ptr, n uint32) stepResult {
	return stepResult{Outcome: "trap", Trap: "memory_out_of_bounds", Message: fmt.Sprintf(
		"memory access [%d, %d) is outside the %d-byte memory", ptr, uint64(ptr)+uint64(n), mem.Size())}
}

// resolve is an operand's value: itself, or what an earlier call step bound to its name.
func (ru *run) resolve(o operand) (value, error) {
	if o.Ref == nil {
		return value{o.T, o.V}, nil
	}
	v, ok := ru.bindings[*o.Ref]
	if !ok {
		return value{}, fmt.Errorf("no earlier call step bound the name %q", *o.Ref)
	}
	return v, nil
}

// address is a write or read step's ptr or len: an i32, taken as unsigned.
func (ru *run) address(o operand, what string) (uint32, error) {
	v, err := ru.resolve(o)
	if err != nil {
		return 0, err
	}
	if v.T != "i32" {
		return 0, fmt.Errorf("%s is an %s, not an i32", what, v.T)
	}
	bits, err := decode(v)
	return uint32(bits), err
}

func (ru *run) call(ctx context.Context, mod api.Module, s step) stepResult {
	fn := mod.ExportedFunction(*s.Call)
	if fn == nil {
		return failed(fmt.Sprintf("no function export named %q", *s.Call))
	}
	def := fn.Definition()
	values := make([]value, len(s.Args))
	for i, a := range s.Args {
		v, err := ru.resolve(a)
		if err != nil {
			return failed(err.Error())
		}
		values[i] = v
	}
	if n := len(def.ResultTypes()); len(s.Bind) > n {
		return failed(fmt.Sprintf("bind names %d results; %s returns %d", len(s.Bind), *s.Call, n))
	}
	args, err := checkArgs(def, values)
	if err != nil {
		return failed(err.Error())
	}
	timeout := time.Duration(s.TimeoutMs) * time.Millisecond
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ru.stepCtx = cctx
	defer func() { ru.stepCtx = nil }()
	results, err := fn.Call(cctx, args...)
	if err == nil {
		out := encodeAll(typeNames(def.ResultTypes()), results)
		for i, name := range s.Bind {
			if name != nil {
				ru.bindings[*name] = out[i]
			}
		}
		return stepResult{Outcome: "ok", Results: &out}
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
