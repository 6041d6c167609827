// Package scrape reads a model server's Prometheus metrics (lib/serve's /metrics)
// with Prometheus's own text parser: request rates, latency quantiles as PromQL's
// histogram_quantile computes them, errors, batches and predicted classes, and the
// difference between two readings.
//
//	before, _ := scrape.Parse(firstBody, t0)
//	after, _ := scrape.Parse(secondBody, t1)
//	p99 := after.Since(before).Latency("/v1/predict").Quantile(0.99)
package scrape

import (
	"fmt"
	"io"
	"math"
	"slices"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// The series of the model server that the helpers below read.
const (
	RequestsTotal   = "gopherdl_http_requests_total"           // counter: route, method, code
	RequestDuration = "gopherdl_http_request_duration_seconds" // histogram: route, method
	BatchImages     = "gopherdl_batch_images"                  // histogram: images per model call
	PredictionTotal = "gopherdl_predictions_total"             // counter: class
	ResidentMemory  = "process_resident_memory_bytes"          // gauge
)

// Metrics is one reading of a server's /metrics, parsed by Prometheus's own text
// parser (expfmt), or the difference of two readings (Since).
type Metrics struct {
	// At is when it was read; Elapsed, for a difference, the time between the two.
	At      time.Time
	Elapsed time.Duration
	// Families holds every series, by metric name.
	Families map[string]*dto.MetricFamily
}

// Parse reads the Prometheus text format, as read at time at.
func Parse(r io.Reader, at time.Time) (*Metrics, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("reading metrics: %w", err)
	}
	return &Metrics{At: at, Families: fams}, nil
}

// matches says whether m has the label values of pairs ("route", "/v1/predict", ...).
func matches(m *dto.Metric, pairs []string) bool {
	for i := 0; i+1 < len(pairs); i += 2 {
		found := false
		for _, lp := range m.GetLabel() {
			if lp.GetName() == pairs[i] {
				found = lp.GetValue() == pairs[i+1]
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func label(m *dto.Metric, name string) string {
	for _, lp := range m.GetLabel() {
		if lp.GetName() == name {
			return lp.GetValue()
		}
	}
	return ""
}

// value is a counter's, gauge's or untyped sample's value; a histogram's or
// summary's count.
func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.GetCounter().GetValue()
	case m.Gauge != nil:
		return m.GetGauge().GetValue()
	case m.Histogram != nil:
		return sampleCount(m.GetHistogram())
	case m.Summary != nil:
		return float64(m.GetSummary().GetSampleCount())
	}
	return m.GetUntyped().GetValue()
}

// Value sums the series of metric name that have the given label values (pairs:
// "route", "/v1/predict", ...); a histogram counts its observations. Zero when there
// is none.
func (m *Metrics) Value(name string, labels ...string) float64 {
	sum := 0.0
	for _, s := range m.Families[name].GetMetric() {
		if matches(s, labels) {
			sum += value(s)
		}
	}
	return sum
}

// By sums the series of metric name that have the given label values, grouped by
// the value of one more label: requests by "code", predictions by "class".
func (m *Metrics) By(name, by string, labels ...string) map[string]float64 {
	out := map[string]float64{}
	for _, s := range m.Families[name].GetMetric() {
		if matches(s, labels) {
			out[label(s, by)] += value(s)
		}
	}
	return out
}

// Histogram is a histogram's observations: their count, their sum and the
// cumulative count up to each bucket's upper bound.
type Histogram struct {
	Count, Sum float64
	Buckets    []Bucket // in increasing upper bound; the last one is +Inf
}

// Bucket is the number of observations up to UpperBound (cumulative).
type Bucket struct {
	UpperBound, Count float64
}

// Histogram adds up the series of histogram name that have the given label values.
func (m *Metrics) Histogram(name string, labels ...string) Histogram {
	var h Histogram
	counts := map[float64]float64{}
	for _, s := range m.Families[name].GetMetric() {
		if s.Histogram == nil || !matches(s, labels) {
			continue
		}
		hs := s.GetHistogram()
		h.Count += sampleCount(hs)
		h.Sum += hs.GetSampleSum()
		inf := false
		for _, b := range hs.GetBucket() {
			counts[b.GetUpperBound()] += bucketCount(b)
			inf = inf || math.IsInf(b.GetUpperBound(), 1)
		}
		if !inf {
			counts[math.Inf(1)] += sampleCount(hs)
		}
	}
	for ub, n := range counts {
		h.Buckets = append(h.Buckets, Bucket{UpperBound: ub, Count: n})
	}
	slices.SortFunc(h.Buckets, func(a, b Bucket) int { return cmpFloat(a.UpperBound, b.UpperBound) })
	return h
}

// The text format holds counts as integers, or as floats when they are not whole.
func sampleCount(h *dto.Histogram) float64 {
	return float64(h.GetSampleCount()) + h.GetSampleCountFloat()
}

func bucketCount(b *dto.Bucket) float64 {
	return float64(b.GetCumulativeCount()) + b.GetCumulativeCountFloat()
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Mean is the mean observation (0 with none).
func (h Histogram) Mean() float64 {
	if h.Count == 0 {
		return 0
	}
	return h.Sum / h.Count
}

// Quantile estimates the q-quantile (0.99: p99) of the observations from the
// buckets, as PromQL's histogram_quantile does: it finds the bucket that holds the
// rank q x count and interpolates linearly inside it (from 0 for the first bucket);
// a rank in the +Inf bucket gives the largest finite bound. NaN with no
// observations; -Inf for q < 0 and +Inf for q > 1, as PromQL.
func (h Histogram) Quantile(q float64) float64 {
	switch {
	case math.IsNaN(q) || len(h.Buckets) < 2:
		return math.NaN()
	case q < 0:
		return math.Inf(-1)
	case q > 1:
		return math.Inf(1)
	}
	total := h.Buckets[len(h.Buckets)-1].Count
	if total == 0 {
		return math.NaN()
	}
	rank := q * total
	lower, below := 0.0, 0.0
	for i, b := range h.Buckets {
		if b.Count >= rank {
			if math.IsInf(b.UpperBound, 1) {
				return h.Buckets[i-1].UpperBound
			}
			if i == 0 && b.UpperBound <= 0 {
				return b.UpperBound
			}
			return lower + (b.UpperBound-lower)*(rank-below)/(b.Count-below)
		}
		lower, below = b.UpperBound, b.Count
	}
	return lower
}

// Since returns what happened between before and m: counters and histograms minus
// their values in before (a series new since then counts from 0), gauges as in m.
// Its Elapsed is the time between the two readings.
func (m *Metrics) Since(before *Metrics) *Metrics {
	out := &Metrics{At: m.At, Elapsed: m.At.Sub(before.At), Families: map[string]*dto.MetricFamily{}}
	for name, fam := range m.Families {
		d := &dto.MetricFamily{Name: fam.Name, Help: fam.Help, Type: fam.Type}
		for _, s := range fam.GetMetric() {
			d.Metric = append(d.Metric, subtract(s, find(before.Families[name], s)))
		}
		out.Families[name] = d
	}
	return out
}

// find returns the series of fam with the labels of s (nil when none).
func find(fam *dto.MetricFamily, s *dto.Metric) *dto.Metric {
	for _, o := range fam.GetMetric() {
		if len(o.GetLabel()) != len(s.GetLabel()) {
			continue
		}
		same := true
		for _, lp := range s.GetLabel() {
			if label(o, lp.GetName()) != lp.GetValue() {
				same = false
				break
			}
		}
		if same {
			return o
		}
	}
	return nil
}

// subtract returns s minus its earlier reading b (nil: none) for a counter or a
// histogram, and s itself otherwise.
func subtract(s, b *dto.Metric) *dto.Metric {
	switch {
	case b == nil:
		return s
	case s.Counter != nil:
		v := s.GetCounter().GetValue() - b.GetCounter().GetValue()
		return &dto.Metric{Label: s.Label, Counter: &dto.Counter{Value: &v}}
	case s.Histogram != nil:
		hs, hb := s.GetHistogram(), b.GetHistogram()
		count, sum := sampleCount(hs)-sampleCount(hb), hs.GetSampleSum()-hb.GetSampleSum()
		h := &dto.Histogram{SampleCountFloat: &count, SampleSum: &sum}
		before := map[float64]float64{}
		for _, bk := range hb.GetBucket() {
			before[bk.GetUpperBound()] = bucketCount(bk)
		}
		for _, bk := range hs.GetBucket() {
			ub, n := bk.GetUpperBound(), bucketCount(bk)-before[bk.GetUpperBound()]
			h.Bucket = append(h.Bucket, &dto.Bucket{UpperBound: &ub, CumulativeCountFloat: &n})
		}
		return &dto.Metric{Label: s.Label, Histogram: h}
	}
	return s
}

// Requests is the number of requests answered on route (every route when "").
func (m *Metrics) Requests(route string) float64 {
	if route == "" {
		return m.Value(RequestsTotal)
	}
	return m.Value(RequestsTotal, "route", route)
}

// RequestRate is the requests answered on route per second of Elapsed (0 for a
// single reading).
func (m *Metrics) RequestRate(route string) float64 {
	if m.Elapsed <= 0 {
		return 0
	}
	return m.Requests(route) / m.Elapsed.Seconds()
}

// Latency is the histogram of the time to answer the requests of route, in seconds.
func (m *Metrics) Latency(route string) Histogram {
	return m.Histogram(RequestDuration, "route", route)
}

// Codes is the number of requests answered with each status code ("200", "415", ...).
func (m *Metrics) Codes() map[string]float64 { return m.By(RequestsTotal, "code") }

// Errors is the number of answers that were the client's fault (4xx) and the
// server's (5xx).
func (m *Metrics) Errors() (client, server float64) {
	for code, n := range m.Codes() {
		switch {
		case len(code) == 3 && code[0] == '4':
			client += n
		case len(code) == 3 && code[0] == '5':
			server += n
		}
	}
	return client, server
}

// ModelCalls is the number of model calls (batches), and MeanBatch their mean
// number of images.
func (m *Metrics) ModelCalls() float64 { return m.Histogram(BatchImages).Count }

// MeanBatch is the mean number of images per model call.
func (m *Metrics) MeanBatch() float64 { return m.Histogram(BatchImages).Mean() }

// Predicted is the number of images whose most probable class was each class.
func (m *Metrics) Predicted() map[string]float64 { return m.By(PredictionTotal, "class") }

// PredictedShares is each class's share of the predictions, in the order of classes.
func (m *Metrics) PredictedShares(classes []string) []float64 {
	counts := m.Predicted()
	total := 0.0
	for _, c := range classes {
		total += counts[c]
	}
	out := make([]float64, len(classes))
	for i, c := range classes {
		if total > 0 {
			out[i] = counts[c] / total
		}
	}
	return out
}
