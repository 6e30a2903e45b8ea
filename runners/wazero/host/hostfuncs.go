package main

import (
	"context"
	"encoding/hex"
	"fmt"

	"github.com/tetratelabs/wazero/api"
)

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
			case x.Ref != nil:
				v, ok := ru.bindings[*x.Ref]
				if !ok { // mid-call, so the call fails rather than the step being unattempted
					panic(&hostTrap{fmt.Sprintf("%s: no earlier call step bound the name %q", name, *x.Ref)})
				}
				return v
			}
			panic(&hostTrap{name + ": an operand names no value, param, result or ref"})
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
