package main

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"hash"
	"sync"
)

// stream captures what the guest writes to one fd during a step: the first `limit` bytes are
// kept, every byte is counted and hashed, and the rest is dropped as it arrives, so a guest
// that floods its output costs the runner no memory.
type stream struct {
	mu    sync.Mutex
	limit int
	kept  []byte
	total int64
	hash  hash.Hash
}

func newStream(limit int64) *stream {
	if limit < 0 {
		limit = 0
	}
	const most = 1 << 30 // keeps a huge limit from overflowing int on 32-bit hosts
	if limit > most {
		limit = most
	}
	return &stream{limit: int(limit), hash: sha256.New()}
}

func (s *stream) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if room := s.limit - len(s.kept); room > 0 {
		s.kept = append(s.kept, p[:min(room, len(p))]...)
	}
	s.total += int64(len(p))
	s.hash.Write(p)
	return len(p), nil
}

// captured is one stream's share of a step observation.
type captured struct {
	b64    string
	total  int64
	sha256 string
}

// drain returns what the step wrote and starts the stream afresh for the next step.
func (s *stream) drain() captured {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := captured{base64.StdEncoding.EncodeToString(s.kept), s.total, hex.EncodeToString(s.hash.Sum(nil))}
	s.kept = nil // not kept[:0]: a large first step's buffer is not held for the whole plan
	s.total = 0
	s.hash.Reset()
	return out
}
