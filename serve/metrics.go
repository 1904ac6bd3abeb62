package serve

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are a server's Prometheus collectors, in a registry of its own
// (no global state: two servers in one process count apart).
type metrics struct {
	reg        *prometheus.Registry
	requests   *prometheus.CounterVec   // by handler and code
	latency    *prometheus.HistogramVec // predict latency by budget kind
	iterations prometheus.Histogram
	residual   prometheus.Histogram
	batch      prometheus.Histogram
	early      prometheus.Counter
	inFlight   prometheus.Gauge
}

func newMetrics(maxBatch int) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "serve_requests_total",
			Help: "HTTP requests by handler and status code."}, []string{"handler", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "serve_predict_duration_seconds",
			Help:    "Latency of answered predict requests, by budget kind (default, iterations, tol, deadline).",
			Buckets: prometheus.ExponentialBuckets(1e-4, 2, 18)}, []string{"budget"}),
		iterations: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "serve_sample_iterations",
			Help:    "Cell evaluations per sample's solve.",
			Buckets: []float64{1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 377, 610, 987}}),
		residual: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "serve_sample_residual",
			Help:    "Relative residual ‖f(z) − z‖/‖f(z)‖ of each sample's returned iterate.",
			Buckets: prometheus.ExponentialBuckets(1e-8, 10, 10)}),
		batch: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "serve_batch_size",
			Help: "Samples per solved batch.", Buckets: prometheus.LinearBuckets(1, max(1, float64(maxBatch-1)/15), 16)}),
		early: prometheus.NewCounter(prometheus.CounterOpts{Name: "serve_early_departures_total",
			Help: "Samples answered before their batch ended (their budget was met first)."}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{Name: "serve_predict_in_flight",
			Help: "Predict requests being answered: read, queued or solved, not yet written."}),
	}
	m.reg.MustRegister(m.requests, m.latency, m.iterations, m.residual, m.batch, m.early, m.inFlight,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// observe records a request's samples.
func (m *metrics) observe(stats []SampleStats) {
	for _, st := range stats {
		if st.Status == "none" {
			continue
		}
		m.iterations.Observe(float64(st.Iterations))
		if st.RelativeResidual != nil {
			m.residual.Observe(*st.RelativeResidual)
		}
		if st.Early {
			m.early.Inc()
		}
	}
}
