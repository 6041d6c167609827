package nb

import (
	"fmt"
	"html"
	"math"
	"strconv"
	"strings"

	"github.com/janpfeifer/gonb/gonbui"
)

// BrokenClaimClass marks the box of a broken claim in a notebook's HTML output: the
// notebook runner (kernel/run_notebook.py) fails a run whose outputs hold it.
const BrokenClaimClass = "gopherdl-broken-claim"

// Claim checks a sentence of the notebook's text against the numbers a cell computed,
// so that a run whose numbers no longer support the text cannot pass unnoticed:
//
//	nb.Claim("momentum beats plain SGD", accMomentum > accSGD, "momentum", accMomentum, "SGD", accSGD)
//
// When ok it prints "✓ momentum beats plain SGD: momentum 0.841, SGD 0.822". When not
// it shows "✗ broken claim: ..." with the same numbers as an error box (on standard
// error outside a notebook), and the cell goes on: the notebook runner fails the run
// and names the claim. numbers are printed in order, a string before a value as its
// label; floats with four significant digits. Claim returns ok.
func Claim(text string, ok bool, numbers ...any) bool { return thisCell().claim(text, ok, numbers...) }

func (c cell) claim(text string, ok bool, numbers ...any) bool {
	line := text
	if len(numbers) > 0 {
		line += ": " + formatNumbers(numbers)
	}
	switch {
	case ok:
		fmt.Fprintln(c.stdout, "✓ "+line)
	case gonbui.IsNotebook:
		gonbui.DisplayHTML(`<div class="` + BrokenClaimClass + `" style="border-left:4px solid #c00;background:#fff0f0;padding:6px 10px;font-family:monospace;white-space:pre-wrap">` +
			`<b style="color:#c00">✗ broken claim:</b> ` + html.EscapeString(line) + `</div>`)
		gonbui.Sync()
	default:
		fmt.Fprintln(c.stderr, "✗ broken claim: "+line)
	}
	return ok
}

// formatNumbers writes values separated by commas, each string followed by a value
// as that value's label: "momentum 0.841, SGD 0.822".
func formatNumbers(values []any) string {
	var parts []string
	for i := 0; i < len(values); i++ {
		s, isLabel := values[i].(string)
		if !isLabel {
			parts = append(parts, formatValue(values[i]))
			continue
		}
		if i+1 < len(values) {
			if _, next := values[i+1].(string); !next {
				s += " " + formatValue(values[i+1])
				i++
			}
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

func formatValue(v any) string {
	var x float64
	switch v := v.(type) {
	case float64:
		x = v
	case float32:
		x = float64(v)
	default:
		return fmt.Sprint(v)
	}
	switch {
	case math.IsNaN(x) || math.IsInf(x, 0):
		return fmt.Sprint(x)
	case math.Abs(x) >= 1e4 && math.Abs(x) < 1e15:
		return strconv.FormatFloat(x, 'f', 0, 64)
	}
	return strconv.FormatFloat(x, 'g', 4, 64)
}
