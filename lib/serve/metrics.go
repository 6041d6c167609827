package serve

import (
	"math"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// monitor holds the server's Prometheus series, in a registry of its own (several
// servers in one process, as in tests, do not collide).
type monitor struct {
	reg *prometheus.Registry

	requests    *prometheus.CounterVec   // route, method, code
	duration    *prometheus.HistogramVec // route, method
	inFlight    prometheus.Gauge
	predictions *prometheus.CounterVec // class
	batchImages prometheus.Histogram
	batchTime   prometheus.Histogram
	modelInfo   *prometheus.GaugeVec // checkpoint, path, shape
	loadedAt    prometheus.Gauge
	loadTime    prometheus.Gauge
	epoch       prometheus.Gauge
	reloads     *prometheus.CounterVec // result
}

// latencyBuckets span 0.5 ms to about 8 s.
var latencyBuckets = prometheus.ExponentialBuckets(0.0005, 2, 15)

// gauges are the values the monitor reads from the server when scraped.
type gauges struct {
	queue, models, memory func() float64
	memoryLimit           float64
}

func newMetrics(maxBatch int, g gauges) *monitor {
	m := &monitor{reg: prometheus.NewRegistry()}
	f := promauto.With(m.reg)
	m.requests = f.NewCounterVec(prometheus.CounterOpts{Name: "gopherdl_http_requests_total",
		Help: "HTTP requests answered, by route, method and status code."}, []string{"route", "method", "code"})
	m.duration = f.NewHistogramVec(prometheus.HistogramOpts{Name: "gopherdl_http_request_duration_seconds",
		Help: "Time to answer an HTTP request, by route and method.", Buckets: latencyBuckets}, []string{"route", "method"})
	m.inFlight = f.NewGauge(prometheus.GaugeOpts{Name: "gopherdl_http_requests_in_flight",
		Help: "HTTP requests being answered."})
	m.predictions = f.NewCounterVec(prometheus.CounterOpts{Name: "gopherdl_predictions_total",
		Help: "Images classified, by predicted (most probable) class."}, []string{"class"})
	var sizes []float64
	for n := 1; n < maxBatch; n *= 2 {
		sizes = append(sizes, float64(n))
	}
	sizes = append(sizes, float64(maxBatch))
	m.batchImages = f.NewHistogram(prometheus.HistogramOpts{Name: "gopherdl_batch_images",
		Help: "Images per model call (batching).", Buckets: sizes})
	m.batchTime = f.NewHistogram(prometheus.HistogramOpts{Name: "gopherdl_batch_duration_seconds",
		Help: "Time of one model call.", Buckets: latencyBuckets})
	m.modelInfo = f.NewGaugeVec(prometheus.GaugeOpts{Name: "gopherdl_model_info",
		Help: "The checkpoint being served (value 1): its epoch folder, path and input shape."}, []string{"checkpoint", "path", "shape"})
	m.loadedAt = f.NewGauge(prometheus.GaugeOpts{Name: "gopherdl_model_loaded_timestamp_seconds",
		Help: "When the checkpoint being served was swapped in (Unix time)."})
	m.loadTime = f.NewGauge(prometheus.GaugeOpts{Name: "gopherdl_model_load_duration_seconds",
		Help: "Time taken to load and warm up the checkpoint being served."})
	m.epoch = f.NewGauge(prometheus.GaugeOpts{Name: "gopherdl_model_epochs",
		Help: "Epochs the served model was trained for."})
	m.reloads = f.NewCounterVec(prometheus.CounterOpts{Name: "gopherdl_model_reloads_total",
		Help: "Loads of a newer checkpoint, by result (ok, error)."}, []string{"result"})
	m.reloads.WithLabelValues("ok")
	m.reloads.WithLabelValues("error")
	f.NewGaugeFunc(prometheus.GaugeOpts{Name: "gopherdl_queue_images",
		Help: "Images waiting for the model."}, g.queue)
	f.NewGaugeFunc(prometheus.GaugeOpts{Name: "gopherdl_models_loaded",
		Help: "Models in memory: the one served, and swapped-out ones still finishing a call."}, g.models)
	f.NewGaugeFunc(prometheus.GaugeOpts{Name: "gopherdl_request_memory_bytes",
		Help: "Memory held by requests: bodies being read and images being decoded."}, g.memory)
	f.NewGaugeFunc(prometheus.GaugeOpts{Name: "gopherdl_request_memory_limit_bytes",
		Help: "The most memory requests may hold at once (-max-memory)."}, func() float64 { return g.memoryLimit })
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// setModel publishes the served model.
func (m *monitor) setModel(l *loaded) {
	m.modelInfo.Reset()
	m.modelInfo.WithLabelValues(l.name, l.folder, l.shape.String()).Set(1)
	m.loadedAt.Set(float64(l.loadedAt.UnixNano()) / 1e9)
	m.loadTime.Set(l.loadTime.Seconds())
	m.epoch.Set(float64(len(l.history)))
}

// observeBatch records one model call, and the most probable class of each image.
func (m *monitor) observeBatch(n int, took time.Duration, probs [][]float64, l *loaded) {
	m.batchImages.Observe(float64(n))
	m.batchTime.Observe(took.Seconds())
	for _, p := range probs {
		best := -1
		for c, v := range p {
			if best < 0 && !math.IsNaN(v) || best >= 0 && v > p[best] {
				best = c
			}
		}
		if best >= 0 && best < len(l.classes) {
			m.predictions.WithLabelValues(l.classes[best]).Inc()
		}
	}
}

// instrument counts and times h's requests under route.
func (m *monitor) instrument(route string, h http.Handler) http.Handler {
	labels := prometheus.Labels{"route": route}
	h = promhttp.InstrumentHandlerDuration(m.duration.MustCurryWith(labels), h)
	h = promhttp.InstrumentHandlerCounter(m.requests.MustCurryWith(labels), h)
	return promhttp.InstrumentHandlerInFlight(m.inFlight, h)
}

// handler serves the registry in Prometheus's text format.
func (m *monitor) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}
