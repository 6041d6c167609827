// Package nb holds the few helpers a notebook cell needs around the library: error
// handling that reads well and shows the error well in Jupyter, Claim, which checks
// what the notebook's text says against the numbers a cell computed, a context that
// the notebook's stop button cancels, and Cache, which lets a later cell reuse a value
// an earlier cell computed.
//
//	m := nb.Must(train.Load("checkpoints/03-training"))
//	_, err := m.Fit(nb.Context(), trainDS, valDS)
//	nb.Check(err)
//
// In a GoNB notebook an error is shown as a red box with the message and each wrapped
// cause on a line of its own, and the cell stops, marked as failed; there is no Go
// stack trace to read through. Outside a notebook the same goes to standard error and
// the program exits with status 1.
package nb

import (
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"

	"github.com/janpfeifer/gonb/gonbui"
)

// cell is where a cell's helpers write, how they stop the cell and where Cache keeps
// values: the process's own (thisCell), or a test's.
type cell struct {
	stdout, stderr io.Writer
	exit           func(code int)
	cacheDir       string // "" outside a notebook: nothing is kept
}

// thisCell is the running cell: standard output and error, os.Exit, and a folder in
// GoNB's temporary folder for this kernel (GoNB removes it when the kernel stops).
func thisCell() cell {
	c := cell{stdout: os.Stdout, stderr: os.Stderr, exit: os.Exit}
	if d := os.Getenv("GONB_TMP_DIR"); gonbui.IsNotebook && d != "" {
		c.cacheDir = filepath.Join(d, "gopherdl-cache")
	}
	return c
}

// Check stops the cell when err is not nil, showing the error (see the package
// documentation). It does nothing when err is nil.
func Check(err error) { thisCell().check(err) }

func (c cell) check(err error) {
	if err == nil {
		return
	}
	c.show(err)
	c.exit(1)
}

// Must returns v, or stops the cell showing err: m := nb.Must(train.Load(dir)).
func Must[T any](v T, err error) T {
	Check(err)
	return v
}

// Must2 is Must for functions returning two values and an error:
// trainDS, testDS := nb.Must2(embedded.Load()).
func Must2[T, U any](v T, u U, err error) (T, U) {
	Check(err)
	return v, u
}

// Must3 is Must for functions returning three values and an error:
// tr, val, test := nb.Must3(data.Split(ds, 0.8, 0.1, 0.1, 42)).
func Must3[T, U, V any](v T, u U, w V, err error) (T, U, V) {
	Check(err)
	return v, u, w
}

// Causes returns err's message split at its wrapped causes, outermost first: for
// "training on x: epoch 2: disk full", the texts "training on x", "epoch 2" and "disk
// full", when each part was wrapped with %w. A cause whose text the message before it
// already holds ("%w at epoch 2" of ErrInterrupted) is not repeated.
func Causes(err error) []string {
	orig := err
	var out []string
	prev := ""
	for err != nil {
		next := errors.Unwrap(err)
		full := err.Error()
		msg := full
		if next != nil {
			if inner := next.Error(); strings.HasSuffix(msg, inner) && len(msg) > len(inner) {
				msg = strings.TrimRight(strings.TrimSuffix(msg, inner), ": ")
			}
		}
		if msg != "" && !strings.Contains(prev, full) {
			out = append(out, msg)
		}
		prev = msg
		err = next
	}
	if len(out) == 0 {
		out = append(out, fmt.Sprintf("an error with no message (%T)", orig))
	}
	return out
}

// show displays err: HTML in a notebook, text elsewhere.
func (c cell) show(err error) {
	causes := Causes(err)
	if !gonbui.IsNotebook {
		fmt.Fprintln(c.stderr, "error: "+strings.Join(causes, "\n  because: "))
		return
	}
	var b strings.Builder
	b.WriteString(`<div style="border-left:4px solid #c00;background:#fff0f0;padding:6px 10px;font-family:monospace;white-space:pre-wrap">`)
	b.WriteString(`<b style="color:#c00">Error:</b> ` + html.EscapeString(causes[0]))
	for _, c := range causes[1:] {
		b.WriteString("\n  because: " + html.EscapeString(c))
	}
	b.WriteString(`</div>`)
	gonbui.DisplayHTML(b.String())
	// The cell exits right after: wait until GoNB has the box.
	gonbui.Sync()
}

var (
	ctxOnce sync.Once
	ctx     context.Context
)

// Context returns a context that the notebook's stop button (an interrupt, SIGINT),
// or Ctrl-C in a terminal, cancels: pass it to Fit, and training stops at the next
// step, keeping its last checkpoint. The library installs no signal handler of its
// own; this is the one a notebook asks for.
func Context() context.Context {
	ctxOnce.Do(func() {
		var stop context.CancelFunc
		ctx, stop = signal.NotifyContext(context.Background(), os.Interrupt)
		go func() { <-ctx.Done(); stop() }() // a second interrupt ends the cell at once
	})
	return ctx
}
