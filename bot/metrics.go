package bot

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are keyleak's Prometheus collectors of the front ends and the
// delivery worker. A nil *Metrics records nothing.
type Metrics struct {
	deliveries *prometheus.CounterVec
	latency    *prometheus.HistogramVec
	requests   *prometheus.CounterVec
}

// NewMetrics registers the collectors with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keyleak_outbox_deliveries_total",
			Help: "Outbox delivery attempts by channel and result (delivered, retry, dead).",
		}, []string{"channel", "result"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "keyleak_outbox_delivery_seconds",
			Help:    "Time taken by one outbox delivery attempt.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14),
		}, []string{"channel"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keyleak_inbound_requests_total",
			Help: "Inbound requests by front end and outcome (handled, unauthenticated, duplicate, rejected).",
		}, []string{"frontend", "outcome"}),
	}
	reg.MustRegister(m.deliveries, m.latency, m.requests)
	return m
}

func (m *Metrics) observe(channel string, err error, retry bool, took time.Duration) {
	if m == nil {
		return
	}
	result := "delivered"
	switch {
	case err != nil && retry:
		result = "retry"
	case err != nil:
		result = "dead"
	}
	m.deliveries.WithLabelValues(channel, result).Inc()
	m.latency.WithLabelValues(channel).Observe(took.Seconds())
}

// Inbound counts one inbound request.
func (m *Metrics) Inbound(frontend, outcome string) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(frontend, outcome).Inc()
}
