package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// ListenAddr is the address --metrics-addr asks for, with the host filled
// in: a bare ":PORT" means 127.0.0.1:PORT (loopback unless asked); any
// other host, "0.0.0.0" and "[::]" included, is taken as written. Loopback
// tells whether the host is a loopback address (or "localhost").
func ListenAddr(addr string) (hostPort string, loopback bool, err error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", false, fmt.Errorf("%q is not HOST:PORT or :PORT (e.g. 127.0.0.1:9100)", addr)
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || (n == 0 && port != "0") {
		return "", false, fmt.Errorf("%q: port %q is not a number from 0 to 65535", addr, port)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	ip := net.ParseIP(host)
	loopback = host == "localhost" || (ip != nil && ip.IsLoopback())
	return net.JoinHostPort(host, port), loopback, nil
}

// Server serves the metrics at /metrics over HTTP.
type Server struct {
	l   net.Listener
	srv *http.Server
}

// Serve listens on addr (see ListenAddr) and serves m's registry at
// /metrics in the Prometheus text format (or OpenMetrics and protobuf,
// when the scraper asks), until Close. It fails at once when the address
// cannot be listened on. A non-loopback address is logged as a warning:
// anyone who reaches it can read the metrics (object counts and sizes, no
// names).
func Serve(addr string, m *Metrics, log *slog.Logger) (*Server, error) {
	hostPort, loopback, err := ListenAddr(addr)
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", hostPort)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorLog:            slog.NewLogLogger(log.Handler(), slog.LevelError),
		Registry:            m.reg, // promhttp_metric_handler_errors_total
		MaxRequestsInFlight: 4,
		Timeout:             30 * time.Second,
	}))
	s := &Server{l: l, srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug)}}
	go func() {
		if err := s.srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server stopped", "err", err)
		}
	}()
	if loopback {
		log.Info("serving metrics", "url", "http://"+l.Addr().String()+"/metrics")
	} else {
		log.Warn("serving metrics on a non-loopback address: whoever reaches it can read them",
			"url", "http://"+l.Addr().String()+"/metrics")
	}
	return s, nil
}

// Addr is the address listened on (with the port chosen for ":0").
func (s *Server) Addr() net.Addr { return s.l.Addr() }

// Close stops serving, waiting at most a second for scrapes in progress.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	return s.srv.Shutdown(ctx)
}
