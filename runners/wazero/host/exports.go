package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/tetratelabs/wazero"
)

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
