package world

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"
)

// Fault is what the gateway does to one service's calls before they reach moto.
type Fault struct {
	Delay        time.Duration // added to every call
	ErrorRate    float64       // fraction of calls answered with the service's 500 error
	ThrottleRate float64       // fraction of calls answered with the service's throttling error
}

// faultJSON is Fault on the admin endpoint: {"service":"s3","delay":"50ms","errorRate":0.1,"throttleRate":0}.
type faultJSON struct {
	Service      string  `json:"service"`
	Delay        string  `json:"delay,omitempty"`
	ErrorRate    float64 `json:"errorRate,omitempty"`
	ThrottleRate float64 `json:"throttleRate,omitempty"`
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
	if f.ErrorRate < 0 || f.ErrorRate > 1 || f.ThrottleRate < 0 || f.ThrottleRate > 1 {
		return out, fmt.Errorf("rates must be between 0 and 1")
	}
	out.ErrorRate, out.ThrottleRate = f.ErrorRate, f.ThrottleRate
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

// faults holds the Fault of each service ("*" for all that have none of their own).
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

// draw returns the delay and the failure (if any) for one call to service.
func (f *faults) draw(service string) (time.Duration, failure, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fault, ok := f.byName[service]
	if !ok {
		fault, ok = f.byName["*"]
	}
	if !ok {
		return 0, 0, false
	}
	x := f.rng.Float64()
	switch {
	case x < fault.ThrottleRate:
		return fault.Delay, failThrottled, true
	case x < fault.ThrottleRate+fault.ErrorRate:
		return fault.Delay, failInternal, true
	}
	return fault.Delay, 0, false
}

func (f *faults) reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	clear(f.byName)
}
