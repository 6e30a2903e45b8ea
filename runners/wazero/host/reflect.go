package main

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/tetratelabs/wazero"
)

// -- export and import reflection in module order ---------------------------------------------

// reflectModule lists the exports and imports in the order of the binary's sections, with the
// function signatures wazero reflects and the memory limits the binary declares.
func reflectModule(binary []byte, compiled wazero.CompiledModule) ([]exportInfo, []importInfo, error) {
	l, err := parseLayout(binary)
	if err != nil {
		return nil, nil, fmt.Errorf("reading the module's sections: %w", err)
	}
	exports, err := exportTypes(l, compiled)
	if err != nil {
		return nil, nil, err
	}
	imports, err := importTypes(l, compiled)
	return exports, imports, err
}

func exportTypes(l *layout, compiled wazero.CompiledModule) ([]exportInfo, error) {
	funcs, mems := compiled.ExportedFunctions(), compiled.ExportedMemories()
	out := make([]exportInfo, 0, len(l.exports))
	for _, e := range l.exports {
		info := exportInfo{Name: e.name, Kind: e.kind}
		switch e.kind {
		case "func":
			f, ok := funcs[e.name]
			if !ok {
				return nil, fmt.Errorf("wazero does not reflect the function export %q", e.name)
			}
			params, results := typeNames(f.ParamTypes()), typeNames(f.ResultTypes())
			info.Params, info.Results = &params, &results
		case "memory":
			m, ok := mems[e.name]
			if !ok || e.index >= uint64(len(l.memories)) {
				return nil, fmt.Errorf("wazero does not reflect the memory export %q", e.name)
			}
			// wazero's Max() is clamped to WithMemoryLimitPages; the declared limits are exact.
			lim := l.memories[e.index]
			if uint64(m.Min()) != lim.min {
				return nil, fmt.Errorf("memory export %q: the binary declares min %d pages, wazero %d",
					e.name, lim.min, m.Min())
			}
			info.Min = &lim.min
			info.Max = json.RawMessage("null")
			if lim.hasMax {
				info.Max = json.RawMessage(strconv.FormatUint(lim.max, 10))
			}
		}
		out = append(out, info)
	}
	return out, nil
}

// importTypes pairs the import section with wazero's ImportedFunctions, which lists the function
// imports in function index order: the order of the func entries in the import section.
func importTypes(l *layout, compiled wazero.CompiledModule) ([]importInfo, error) {
	funcs := compiled.ImportedFunctions()
	out := make([]importInfo, 0, len(l.imports))
	next := 0
	for _, im := range l.imports {
		info := importInfo{Module: im.module, Name: im.name, Kind: im.kind}
		if im.kind == "func" {
			if next >= len(funcs) {
				return nil, fmt.Errorf("wazero does not reflect the function import %s.%s", im.module, im.name)
			}
			f := funcs[next]
			next++
			if module, name, _ := f.Import(); module != im.module || name != im.name {
				return nil, fmt.Errorf("function import %s.%s: wazero reflects %s.%s in its place",
					im.module, im.name, module, name)
			}
			params, results := typeNames(f.ParamTypes()), typeNames(f.ResultTypes())
			if protocolTypes(params) && protocolTypes(results) { // else leave the signature out
				info.Params, info.Results = &params, &results
			}
		}
		out = append(out, info)
	}
	if next != len(funcs) {
		return nil, fmt.Errorf("wazero reflects %d function imports, the import section has %d", len(funcs), next)
	}
	return out, nil
}

func protocolTypes(names []string) bool {
	for _, n := range names {
		if n != "i32" && n != "i64" && n != "f32" && n != "f64" {
			return false
		}
	}
	return true
}
