package main

import (
	"errors"
	"fmt"
	"io"
)

// -- the parts of a module binary wazero does not reflect in order ----------------------------

// wazero hands exports back as maps, imports as per-kind lists, and memory maxima clamped to
// the runtime's memory limit, so the section order and the declared limits are read from the
// binary itself. The binary is valid (wazero compiled it), which keeps this reader small.

// Import and export kinds by their binary code; a tag (4) has no name in the protocol.
var externKinds = []string{"func", "table", "memory", "global"}

type importEntry struct{ module, name, kind string }

type export struct {
	name, kind string
	index      uint64
}

// limits is a memory type as declared: min pages and, when present, max pages.
type limits struct {
	min    uint64
	max    uint64
	hasMax bool
}

type layout struct {
	imports  []importEntry
	memories []limits // the memory index space: imported memories, then defined ones
	exports  []export
}

const (
	sectionImport = 2
	sectionMemory = 5
	sectionExport = 7
)

func parseLayout(b []byte) (*layout, error) {
	l := &layout{}
	r := &reader{b: b, pos: 8} // magic and version
	for r.pos < len(r.b) && r.err == nil {
		id := r.byte()
		size := int(r.leb())
		end := r.pos + size
		if r.err != nil || size < 0 || end > len(r.b) {
			return nil, errors.New("truncated section")
		}
		var err error
		switch id {
		case sectionImport:
			err = l.readImports(r)
		case sectionMemory:
			n := r.leb()
			for i := uint64(0); i < n && r.err == nil; i++ {
				l.memories = append(l.memories, r.limits())
			}
		case sectionExport:
			err = l.readExports(r)
		}
		if err != nil {
			return nil, err
		}
		r.pos = end
	}
	return l, r.err
}

func (l *layout) readImports(r *reader) error {
	n := r.leb()
	for i := uint64(0); i < n && r.err == nil; i++ {
		module, name := r.name(), r.name()
		code := r.byte()
		switch code {
		case 0: // func: type index
			r.leb()
		case 1: // table: reference type, limits
			r.byte()
			r.limits()
		case 2:
			l.memories = append(l.memories, r.limits())
		case 3: // global: value type, mutability
			r.byte()
			r.byte()
		default:
			return fmt.Errorf("import %s.%s has kind %d, which the protocol cannot name", module, name, code)
		}
		l.imports = append(l.imports, importEntry{module, name, externKinds[code]})
	}
	return r.err
}

func (l *layout) readExports(r *reader) error {
	n := r.leb()
	for i := uint64(0); i < n && r.err == nil; i++ {
		name := r.name()
		code := r.byte()
		index := r.leb()
		if int(code) >= len(externKinds) {
			return fmt.Errorf("export %q has kind %d, which the protocol cannot name", name, code)
		}
		l.exports = append(l.exports, export{name, externKinds[code], index})
	}
	return r.err
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

func (r *reader) name() string { return string(r.bytes(int(r.leb()))) }

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

// limits reads a limits type: flags (bit 0: a max follows; bit 1: shared; bit 2: 64-bit
// indices, which only widens the LEB128 values), min, then max.
func (r *reader) limits() limits {
	flags := r.byte()
	l := limits{min: r.leb()}
	if flags&1 != 0 {
		l.max, l.hasMax = r.leb(), true
	}
	return l
}
