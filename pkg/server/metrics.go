package server

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// firewallCollector exports each registry's firewall counters. It reads the
// registries' atomic counters at scrape time, so the request path pays
// nothing for metrics.
type firewallCollector struct {
	s    *Server
	desc *prometheus.Desc
}

func (c *firewallCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *firewallCollector) Collect(ch chan<- prometheus.Metric) {
	for _, sr := range c.s.regs.Load().byName {
		st := sr.reg.Stats()
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(st.Allowed), sr.rec.Name, "allowed")
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(st.Denied), sr.rec.Name, "denied")
	}
}

// metricsHandler serves /_acremu/metrics in the Prometheus text format from
// a registry of its own (distribution's handlers register nothing global
// that acremu wants to expose).
func (s *Server) metricsHandler() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(&firewallCollector{s: s, desc: prometheus.NewDesc(
		"acremu_firewall_requests_total",
		"Data-plane requests judged by a registry's firewall, by decision.",
		[]string{"registry", "decision"}, nil,
	)})
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}
