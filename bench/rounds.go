package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/gopherdl/gopherdl/lib/data"
)

// side is one contestant of a round: it measures one shape in a process of its own.
type side struct {
	name string
	run  func(data.Shape) (Result, error)
}

func names(sides []side) []string {
	n := make([]string, len(sides))
	for i, s := range sides {
		n[i] = s.name
	}
	return n
}

// round is one run of every side, in order.
type round struct {
	results []Result // by side
	loads   []Load   // by side
}

// contended says whether others took more than limit cores during any side.
func (r round) contended(limit float64) bool {
	return slices.ContainsFunc(r.loads, func(l Load) bool { return l.Contended(limit) })
}

// others names the cores others took during each side.
func (r round) others(names []string) string {
	parts := make([]string, len(r.loads))
	for i, l := range r.loads {
		parts[i] = fmt.Sprintf("%s %.2f", names[i], l.OthersCores())
	}
	return strings.Join(parts, ", ") + " cores"
}

// plan says how many rounds to run and how to watch them.
type plan struct {
	want, retries int     // quiet rounds wanted; rounds run in place of contended ones, at most
	limit         float64 // cores others may use during a side of a quiet round
	// measure runs a side and reports others' CPU meanwhile.
	measure func(func() error) (Load, error)
	// settle waits, after a contended round, for the machine to be quiet, and
	// returns what the last check saw.
	settle func() (Load, error)
}

// runRounds runs the sides in turn on shape until p.want rounds were quiet or
// p.want+p.retries rounds were run, and logs each round to w.
func runRounds(w io.Writer, sh data.Shape, sides []side, p plan) ([]round, error) {
	var rounds []round
	quiet := 0
	for len(rounds) < p.want+p.retries && quiet < p.want {
		if n := len(rounds); n > 0 && rounds[n-1].contended(p.limit) && p.settle != nil {
			start := time.Now()
			l, err := p.settle()
			if err != nil {
				return nil, err
			}
			fmt.Fprintf(w, "%s waited %.0f s for the machine to be quiet: others %.2f cores in the last second\n", sh, time.Since(start).Seconds(), l.OthersCores())
		}
		var r round
		for _, s := range sides {
			var res Result
			l, err := p.measure(func() error {
				var err error
				res, err = s.run(sh)
				return err
			})
			if err != nil {
				return nil, err
			}
			r.results, r.loads = append(r.results, res), append(r.loads, l)
		}
		rounds = append(rounds, r)
		verdict := "quiet"
		if r.contended(p.limit) {
			verdict = "contended, left out"
		} else {
			quiet++
		}
		fmt.Fprintf(w, "%s round %d: %s (others' CPU: %s)\n", sh, len(rounds), verdict, r.others(names(sides)))
	}
	return rounds, nil
}

// spread is one figure over the quiet rounds.
type spread struct{ best, median, min, max float64 }

func spreadOf(xs []float64) spread {
	s := slices.Clone(xs)
	slices.Sort(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return spread{best: s[len(s)-1], median: m, min: s[0], max: s[len(s)-1]}
}

// report prints each side's best and median with their spread over the quiet rounds,
// and the ratios of the Go side (the first) to each other side. Contended rounds are
// only counted; with no quiet round it says so and prints no figure.
func report(w io.Writer, shape string, names []string, rounds []round, limit float64) {
	var quiet []round
	worst := 0.0
	for _, r := range rounds {
		if !r.contended(limit) {
			quiet = append(quiet, r)
			continue
		}
		for _, l := range r.loads {
			worst = max(worst, l.OthersCores())
		}
	}
	nContended := len(rounds) - len(quiet)
	if len(quiet) == 0 {
		fmt.Fprintf(w, "%s: contended: no quiet round in %d: other processes used up to %.2f cores (limit %.2f); no figures and no ratio. Stop other work (uptime shows the load) and run again.\n",
			shape, len(rounds), worst, limit)
		return
	}
	fmt.Fprintf(w, "%s: %d quiet rounds, %d contended (left out)\n", shape, len(quiet), nContended)
	figure := func(title string, get func(Result) float64) {
		fmt.Fprintf(w, "  %-20s %8s %8s %15s\n", title, "best", "median", "spread")
		sp := make([]spread, len(names))
		for i, n := range names {
			xs := make([]float64, len(quiet))
			for j, r := range quiet {
				xs[j] = get(r.results[i])
			}
			sp[i] = spreadOf(xs)
			fmt.Fprintf(w, "    %-18s %8.0f %8.0f %15s\n", n, sp[i].best, sp[i].median, fmt.Sprintf("%.0f-%.0f", sp[i].min, sp[i].max))
		}
		for i := 1; i < len(names); i++ {
			fmt.Fprintf(w, "    %-18s %7.2fx %7.2fx\n", names[0]+"/"+names[i], sp[0].best/sp[i].best, sp[0].median/sp[i].median)
		}
	}
	figure("train images/s", func(r Result) float64 { return r.TrainImagesPerSecond })
	figure("eval images/s", func(r Result) float64 { return r.EvalImagesPerSecond })
	sys := make([]string, len(names))
	for i, n := range names {
		xs := make([]float64, len(quiet))
		for j, r := range quiet {
			if l := r.loads[i]; l.Own > 0 {
				xs[j] = 100 * l.OwnSys / l.Own
			}
		}
		sys[i] = fmt.Sprintf("%s %.0f %%", n, spreadOf(xs).median)
	}
	fmt.Fprintf(w, "  CPU time in the kernel (system), median: %s\n", strings.Join(sys, ", "))
	rss := make([]string, len(names))
	var rss0 float64
	for i, n := range names {
		xs := make([]float64, len(quiet))
		for j, r := range quiet {
			xs[j] = r.results[i].PeakRSSMB
		}
		m := spreadOf(xs).median
		if i == 0 {
			rss0 = m
			rss[i] = fmt.Sprintf("%s %.0f", n, m)
		} else {
			rss[i] = fmt.Sprintf("%s %.0f (%s/%s %.2fx)", n, m, names[0], n, rss0/m)
		}
	}
	fmt.Fprintf(w, "  peak RSS MB, median: %s\n", strings.Join(rss, ", "))
}
