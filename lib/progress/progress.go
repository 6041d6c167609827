// Package progress draws a progress bar with a rate and an ETA: on the terminal as
// one line rewritten in place, and in a GoNB notebook as an HTML block updated in place
// (kept in the saved notebook).
package progress

import (
	"fmt"
	"html"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/janpfeifer/gonb/gonbui"
)

// Bar is a progress bar. It is safe for use by several goroutines.
type Bar struct {
	title string
	total int64
	unit  string
	out   io.Writer

	mu       sync.Mutex
	n        int64
	suffix   string
	start    time.Time
	lastDraw time.Time
	htmlID   string
	done     bool
	tty      bool // rewrite one line in place; otherwise print a line every few seconds
}

// Quiet, when true, makes new bars draw nothing (tests and benchmarks set it).
var Quiet = false

// New starts a bar for total units (total <= 0: unknown). In a GoNB notebook it
// draws HTML; elsewhere it writes to standard error.
func New(title string, total int64, unit string) *Bar {
	b := &Bar{title: title, total: total, unit: unit, out: os.Stderr, start: time.Now(), tty: isTerminal(os.Stderr)}
	if gonbui.IsNotebook {
		b.htmlID = "gopherdl-progress-" + gonbui.UniqueID()
	}
	if Quiet {
		b.out = io.Discard
		b.htmlID = ""
	}
	b.draw(true)
	return b
}

// NewWriter starts a bar that writes its text lines to w (no HTML).
func NewWriter(w io.Writer, title string, total int64, unit string) *Bar {
	b := &Bar{title: title, total: total, unit: unit, out: w, start: time.Now(), tty: true}
	b.draw(true)
	return b
}

// Add advances the bar by n units. Add, SetSuffix and Done do nothing on a nil *Bar,
// so callers that draw no bar need no checks.
func (b *Bar) Add(n int64) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.n += n
	b.draw(false)
}

// SetSuffix sets text shown after the rate, such as the running loss.
func (b *Bar) SetSuffix(s string) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.suffix = s
}

// Rate is the units per second so far.
func (b *Bar) Rate() float64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.rate()
}

func (b *Bar) rate() float64 {
	el := time.Since(b.start).Seconds()
	if el <= 0 {
		return 0
	}
	return float64(b.n) / el
}

// Done draws the final state and ends the line.
func (b *Bar) Done() {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.done {
		return
	}
	b.draw(true)
	b.done = true
	if b.htmlID == "" && b.tty {
		fmt.Fprintln(b.out)
	}
}

// Text renders the bar as one line of text.
func (b *Bar) Text() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.text()
}

func (b *Bar) text() string {
	const width = 24
	var sb strings.Builder
	sb.WriteString(b.title)
	rate := b.rate()
	if b.total > 0 {
		frac := min(float64(b.n)/float64(b.total), 1)
		full := int(frac * width)
		fmt.Fprintf(&sb, " %3.0f%% |%s%s| %d/%d %s", frac*100, strings.Repeat("█", full), strings.Repeat(" ", width-full), b.n, b.total, b.unit)
	} else {
		fmt.Fprintf(&sb, " %d %s", b.n, b.unit)
	}
	fmt.Fprintf(&sb, "  %.1f %s/s", rate, b.unit)
	if b.total > 0 && rate > 0 {
		if b.n < b.total {
			fmt.Fprintf(&sb, "  ETA %s", fmtDur(time.Duration(float64(b.total-b.n)/rate*float64(time.Second))))
		} else {
			fmt.Fprintf(&sb, "  in %s", fmtDur(time.Since(b.start)))
		}
	}
	if b.suffix != "" {
		sb.WriteString("  " + b.suffix)
	}
	return sb.String()
}

func fmtDur(d time.Duration) string {
	if d < time.Minute {
		return fmt.Sprintf("%.0fs", d.Seconds())
	}
	return d.Round(time.Second).String()
}

// draw redraws at most 5 times a second (every 10 s into a log) unless force is set.
func (b *Bar) draw(force bool) {
	every := 200 * time.Millisecond
	if !b.tty && b.htmlID == "" {
		every = 10 * time.Second
	}
	if b.done || (!force && time.Since(b.lastDraw) < every) {
		return
	}
	b.lastDraw = time.Now()
	line := b.text()
	if b.htmlID != "" {
		gonbui.UpdateHTML(b.htmlID, `<pre style="margin:0">`+html.EscapeString(line)+`</pre>`)
		return
	}
	if !b.tty {
		if b.n > 0 || b.total <= 0 {
			fmt.Fprintln(b.out, line)
		}
		return
	}
	fmt.Fprintf(b.out, "\r\033[K%s", line)
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
