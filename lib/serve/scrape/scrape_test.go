package scrape

import (
	"math"
	"strings"
	"testing"
	"time"
)

// TestQuantile: the interpolation of PromQL's histogram_quantile, on buckets whose
// answers are worked out by hand.
func TestQuantile(t *testing.T) {
	h := Histogram{Count: 40, Buckets: []Bucket{{0.1, 10}, {0.2, 30}, {math.Inf(1), 40}}}
	for _, c := range []struct{ q, want float64 }{
		{0.1, 0.04}, // rank 4 in the first bucket: 0 + 0.1 x 4/10
		{0.5, 0.15}, // rank 20: 0.1 + 0.1 x (20-10)/(30-10)
		{0.75, 0.2}, // rank 30: the top of the second bucket
		{0.9, 0.2},  // rank 36, in +Inf: the largest finite bound
		{0, 0},      // rank 0
		{-1, math.Inf(-1)},
		{2, math.Inf(1)},
	} {
		if got := h.Quantile(c.q); math.Abs(got-c.want) > 1e-12 && got != c.want {
			t.Errorf("Quantile(%v) = %v, want %v", c.q, got, c.want)
		}
	}
	if got := (Histogram{}).Quantile(0.5); !math.IsNaN(got) {
		t.Errorf("no buckets: %v, want NaN", got)
	}
	if got := (Histogram{Buckets: []Bucket{{1, 0}, {math.Inf(1), 0}}}).Quantile(0.5); !math.IsNaN(got) {
		t.Errorf("no observations: %v, want NaN", got)
	}
}

// TestSince: counters and histograms are differences; a series new since the first
// reading counts from zero; gauges are the second reading's.
func TestSince(t *testing.T) {
	read := func(text string) *Metrics {
		m, err := Parse(strings.NewReader(text), time.Unix(100, 0))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	before := read(`# TYPE req counter
req{code="200"} 5
# TYPE lat histogram
lat_bucket{le="1"} 2
lat_bucket{le="+Inf"} 3
lat_sum 4
lat_count 3
# TYPE mem gauge
mem 10
`)
	after := read(`# TYPE req counter
req{code="200"} 8
req{code="500"} 1
# TYPE lat histogram
lat_bucket{le="1"} 6
lat_bucket{le="+Inf"} 9
lat_sum 10
lat_count 9
# TYPE mem gauge
mem 7
`)
	after.At = time.Unix(110, 0)
	d := after.Since(before)
	if d.Elapsed != 10*time.Second {
		t.Errorf("elapsed %v", d.Elapsed)
	}
	if got := d.By("req", "code"); got["200"] != 3 || got["500"] != 1 {
		t.Errorf("counters: %v", got)
	}
	h := d.Histogram("lat")
	if h.Count != 6 || h.Sum != 6 || len(h.Buckets) != 2 || h.Buckets[0].Count != 4 || h.Buckets[1].Count != 6 {
		t.Errorf("histogram: %+v", h)
	}
	if got := d.Value("mem"); got != 7 {
		t.Errorf("gauge: %v, want 7", got)
	}
	if got := d.Value("req", "code", "200"); got != 3 {
		t.Errorf("Value with a label: %v", got)
	}
}
