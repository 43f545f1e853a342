package world

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"time"
)

// Fault is what the gateway does to one service's calls before they reach moto.
type Fault struct {
	Delay        time.Duration // added to every call
	ErrorRate    float64       // fraction of calls answered with the service's 500 error
	ThrottleRate float64       // fraction of calls answered with the service's throttling error
	// BreakRate is the fraction of calls served (and recorded) whose
	// connection is then reset halfway through the answer, as a network or
	// a proxy may: the client reads a success it cannot finish.
	BreakRate float64
}

// faultJSON is Fault on the admin endpoint: {"service":"s3","delay":"50ms","errorRate":0.1,"throttleRate":0}.
type faultJSON struct {
	Service      string  `json:"service"`
	Delay        string  `json:"delay,omitempty"`
	ErrorRate    float64 `json:"errorRate,omitempty"`
	ThrottleRate float64 `json:"throttleRate,omitempty"`
	BreakRate    float64 `json:"breakRate,omitempty"`
}

func (f faultJSON) fault() (Fault, error) {
	var out Fault
	if f.Delay != "" {
		d, err := time.ParseDuration(f.Delay)
		if err != nil {
			return out, fmt.Errorf("parse delay: %w", err)
		}
		out.Delay = d
	}
	for _, r := range []float64{f.ErrorRate, f.ThrottleRate, f.BreakRate} {
		if !(r >= 0 && r <= 1) {
			return out, fmt.Errorf("rates must be between 0 and 1")
		}
	}
	out.ErrorRate, out.ThrottleRate, out.BreakRate = f.ErrorRate, f.ThrottleRate, f.BreakRate
	return out, nil
}

func decodeFault(b []byte) (string, Fault, error) {
	var f faultJSON
	if err := json.Unmarshal(b, &f); err != nil {
		return "", Fault{}, fmt.Errorf("decode fault: %w", err)
	}
	if f.Service == "" {
		return "", Fault{}, fmt.Errorf("decode fault: service is required (a signing name such as s3, or *)")
	}
	fault, err := f.fault()
	return f.Service, fault, err
}

// faults holds the Fault of each service ("*" for all that have none of their own), or of
// one operation ("cloudtrail:LookupEvents"), which comes before its service's.
type faults struct {
	mu     sync.Mutex
	byName map[string]Fault
	rng    *rand.Rand
}

func newFaults(seed uint64) *faults {
	return &faults{byName: map[string]Fault{}, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

func (f *faults) set(service string, fault Fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if fault == (Fault{}) {
		delete(f.byName, service)
		return
	}
	f.byName[service] = fault
}

// draw returns the delay and the failure (if any) for one call to service,
// and whether its answer is to be broken off (see Fault.BreakRate).
func (f *faults) draw(service, operation string) (delay time.Duration, k failure, failed, broken bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fault, ok := f.byName[service+":"+operation]
	if !ok {
		fault, ok = f.byName[service]
	}
	if !ok {
		fault, ok = f.byName["*"]
	}
	if !ok {
		return 0, 0, false, false
	}
	x := f.rng.Float64()
	switch {
	case x < fault.ThrottleRate:
		return fault.Delay, failThrottled, true, false
	case x < fault.ThrottleRate+fault.ErrorRate:
		return fault.Delay, failInternal, true, false
	case x < fault.ThrottleRate+fault.ErrorRate+fault.BreakRate:
		return fault.Delay, 0, false, true
	}
	return fault.Delay, 0, false, false
}

// breakingWriter writes the first half of the first answer's body and
// then resets the connection: the client has the status and headers, and
// its read of the body fails.
type breakingWriter struct {
	http.ResponseWriter
	broken bool
}

func (b *breakingWriter) Write(p []byte) (int, error) {
	if b.broken {
		return 0, errBrokenOff
	}
	b.broken = true
	n, _ := b.ResponseWriter.Write(p[:len(p)/2])
	http.NewResponseController(b.ResponseWriter).Flush()
	conn, _, err := http.NewResponseController(b.ResponseWriter).Hijack()
	if err != nil {
		return n, err
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0) // a reset, not an orderly close
	}
	conn.Close()
	return n, errBrokenOff
}

var errBrokenOff = errors.New("the answer was broken off (Fault.BreakRate)")

func (f *faults) reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	clear(f.byName)
}
