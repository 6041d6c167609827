// Package progress draws a progress bar with a rate and an ETA: on the terminal as
// one line rewritten in place, and in a GoNB notebook as an HTML block updated in place
// (kept in the saved notebook). A bar can also carry log lines (one per epoch, say):
// in a notebook they stay in the same block above the bar, so a long run saves a short,
// readable output.
package progress

import (
	"fmt"
	"html"
	"io"
	"math"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/janpfeifer/gonb/gonbui"
	"golang.org/x/term"
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
	update   func(id, html string) // draws the notebook block (gonbui.UpdateHTML)
	lines    []string              // log lines shown above the bar in a notebook
	done     bool
	tty      bool // rewrite one line in place; otherwise print a line every few seconds
}

// New starts a bar for total units (total <= 0: unknown). In a GoNB notebook it
// draws HTML; elsewhere it writes to standard error.
func New(title string, total int64, unit string) *Bar {
	b := &Bar{title: title, total: total, unit: unit, out: os.Stderr, start: time.Now(), tty: isTerminal(os.Stderr)}
	if gonbui.IsNotebook {
		b.htmlID, b.update = "gopherdl-progress-"+gonbui.UniqueID(), gonbui.UpdateHTML
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

// InNotebook reports whether the bar draws in a notebook (where Log keeps its lines
// in the bar's block).
func (b *Bar) InNotebook() bool { return b != nil && b.htmlID != "" }

// Add advances the bar by n units. Add, SetSuffix, Log, Restart and Done do nothing
// on a nil *Bar, so callers that draw no bar need no checks.
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

// Log shows a line of text: in a notebook, in the bar's block above the bar (it stays
// there when the bar is done); elsewhere, written to w on a line of its own, after the
// bar's current line is finished.
func (b *Bar) Log(w io.Writer, line string) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.htmlID != "" {
		b.lines = append(b.lines, line)
		if b.done {
			// A line logged after Done (an epoch's summary, after its bar finished):
			// the block shows the lines, or the last one would never appear.
			b.update(b.htmlID, b.html(false))
			return
		}
		b.draw(true)
		return
	}
	if b.tty && !b.done {
		// The bar is mid-line: clear it, print the line, then draw the bar below.
		fmt.Fprint(b.out, "\r\033[K")
		fmt.Fprintln(w, line)
		b.draw(true)
		return
	}
	fmt.Fprintln(w, line)
}

// Restart starts the bar again from zero with a new title and total (the next epoch),
// keeping its log lines. On a terminal the previous bar stays as a line of its own.
func (b *Bar) Restart(title string, total int64) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.done && b.htmlID == "" && b.tty {
		b.draw(true)
		fmt.Fprintln(b.out)
	}
	b.title, b.total, b.n, b.suffix, b.start, b.done = title, total, 0, "", time.Now(), false
	b.draw(true)
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

// Done draws the final state and ends the line. In a notebook with log lines, the
// block keeps only the log lines.
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
	if b.htmlID != "" && len(b.lines) > 0 {
		b.update(b.htmlID, b.html(false))
	}
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

// html renders the notebook block: the log lines, then the bar when withBar.
func (b *Bar) html(withBar bool) string {
	lines := b.lines
	if withBar {
		lines = append(lines[:len(lines):len(lines)], b.text())
	}
	return `<pre style="margin:0">` + html.EscapeString(strings.Join(lines, "\n")) + `</pre>`
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
	if b.htmlID != "" {
		b.update(b.htmlID, b.html(true))
		return
	}
	line := b.text()
	if !b.tty {
		if b.n > 0 || b.total <= 0 {
			fmt.Fprintln(b.out, line)
		}
		return
	}
	fmt.Fprintf(b.out, "\r\033[K%s", line)
}

// Downloads draws a bar for each file a download fetches: pass it as
// fetch.Options.Progress.
type Downloads struct {
	bar *Bar
}

// Start starts the bar of a file of total bytes (total < 0: unknown), have of which
// are there already.
func (d *Downloads) Start(file string, have, total int64) {
	d.bar = New("downloading "+file, total, "bytes")
	d.bar.Add(have)
}

// Add advances the file's bar by n bytes.
func (d *Downloads) Add(n int64) { d.bar.Add(n) }

// Done ends the file's bar.
func (d *Downloads) Done() { d.bar.Done() }

// Thousands writes n with commas between groups of three digits: 421,642.
func Thousands(n int) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 && s[i-1] != '-' {
			b.WriteByte(',')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// isTerminal reports whether f is a terminal (not /dev/null, a file or a pipe, where
// rewriting a line in place would only leave escape codes).
func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// Number formats a measured value, such as a loss, for people: four decimals in the
// usual range, three significant digits with an exponent when it is huge or tiny (a
// diverging loss prints as 3.4e+34, not as 34 digits), and NaN or ±Inf as such.
func Number(x float64) string {
	switch {
	case math.IsNaN(x) || math.IsInf(x, 0):
		return fmt.Sprint(x)
	case x != 0 && (math.Abs(x) >= 1e4 || math.Abs(x) < 1e-3):
		return fmt.Sprintf("%.3g", x)
	}
	return fmt.Sprintf("%.4f", x)
}
