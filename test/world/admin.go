package world

import (
	"encoding/json"
	"io"
	"net/http"
)

// serveAdmin serves the gateway's admin endpoints, for a process that does not hold the
// *Gateway:
//
//	PUT  /_world/fault  {"service":"s3","delay":"50ms","errorRate":0.1,"throttleRate":0.2}
//	POST /_world/flush  writes pending trail log files
//	GET  /_world/events the recorded records as JSON {"Records":[…]}
func (g *Gateway) serveAdmin(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == adminPrefix+"fault" && (r.Method == http.MethodPut || r.Method == http.MethodPost):
		b, err := io.ReadAll(io.LimitReader(r.Body, 1<<16))
		if err != nil {
			http.Error(w, "read body", http.StatusBadRequest)
			return
		}
		service, f, err := decodeFault(b)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		g.SetFault(service, f)
		w.WriteHeader(http.StatusNoContent)
	case r.URL.Path == adminPrefix+"flush" && r.Method == http.MethodPost:
		if err := g.FlushTrail(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case r.URL.Path == adminPrefix+"events" && r.Method == http.MethodGet:
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string][]Record{"Records": g.Events()})
	default:
		http.NotFound(w, r)
	}
}
