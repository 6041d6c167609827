package nb

import (
	"encoding/gob"
	"fmt"
	"io"
	"strings"

	"github.com/janpfeifer/gonb/cache"
)

// Cache returns the value fn computed for key earlier in this notebook's session, or
// calls fn and keeps its result for the cells that follow:
//
//	ev := nb.Cache("test-evaluation", func() *train.Evaluation {
//		return nb.Must(m.Evaluate(testDS))
//	})
//
// GoNB compiles and runs each cell as a new program, so a value computed in one cell
// is gone in the next; Cache is how a later cell reuses it instead of computing it
// again. Values are kept with GoNB's cache package (encoding/gob: exported fields
// only; a trained model does not fit, its checkpoint does: train.Load). They live as
// long as the kernel: "Restart Kernel" starts afresh, as Python's variables would.
// Change what a cached cell computes and you get the old value until you restart the
// kernel, call Forget(key), or use another key.
//
// Outside a notebook (a test, a program) nothing is kept: fn runs every time.
func Cache[T any](key string, fn func() T) T { return cached(thisCell(), key, fn) }

func cached[T any](c cell, key string, fn func() T) T {
	s := c.storage()
	if s == nil {
		return fn()
	}
	if err := checkKey(key); err != nil {
		c.check(err)
		return fn() // when c.exit returns, as a test's does
	}
	if r, err := s.Reader(key); err == nil {
		var v T
		err := gob.NewDecoder(r).Decode(&v)
		if c, ok := r.(io.Closer); ok {
			c.Close()
		}
		if err == nil {
			return v
		}
		// Another type under the same key, or a value cut short: compute it again.
		_ = s.ResetKey(key)
	}
	v := fn()
	if err := s.Save(key, v); err != nil {
		_ = s.ResetKey(key)
		fmt.Fprintf(c.stderr, "nb.Cache: the value of %q is not kept for later cells: %v\n", key, err)
	}
	return v
}

// Forget drops the value Cache keeps for key, so that the next Cache call computes it
// again.
func Forget(key string) { thisCell().forget(key) }

func (c cell) forget(key string) {
	if s := c.storage(); s != nil && checkKey(key) == nil {
		_ = s.ResetKey(key)
	}
}

// storage is GoNB's cache in c.cacheDir; nil outside a notebook.
func (c cell) storage() *cache.Storage {
	if c.cacheDir == "" {
		return nil
	}
	s, err := cache.New(c.cacheDir)
	if err != nil {
		fmt.Fprintf(c.stderr, "nb.Cache: nothing is kept for later cells: %v\n", err)
		return nil
	}
	return s
}

func checkKey(key string) error {
	if key == "" || key == "." || key == ".." || strings.ContainsAny(key, "/\\\n\r\t\x00*") {
		return fmt.Errorf("nb.Cache: key %q: want a short name without slashes, such as \"test-evaluation\"", key)
	}
	return nil
}
