package state

import (
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkOpenIncident measures incidents opened per second, each in its
// own durable transaction with its timeline entry and two outbox messages,
// as the Slack front door writes them.
func BenchmarkOpenIncident(b *testing.B) {
	s, err := Open(filepath.Join(b.TempDir(), "bench.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if err := s.Update(func(tx *Tx) error { return writeBurstRecord(tx, i+1) }); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "incidents/s")
}

// BenchmarkAppendTimeline measures timeline appends per second, one per
// durable transaction, into an incident that already has entries.
func BenchmarkAppendTimeline(b *testing.B) {
	s, err := Open(filepath.Join(b.TempDir(), "bench.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	inc, _ := report(b, s, "AKIAQYLPMN5HHHFPZAM2", alice, t0)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		err := s.Update(func(tx *Tx) error {
			_, err := tx.Append(Event{Incident: inc.ID, At: t0.Add(time.Duration(i) * time.Millisecond), Actor: bob, Kind: EventNote, Text: fmt.Sprintf("note %d", i)})
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
}

// BenchmarkOpenIncidentConcurrent measures incidents opened per second
// when many handlers write at once through Batch.
func BenchmarkOpenIncidentConcurrent(b *testing.B) {
	s, err := Open(filepath.Join(b.TempDir(), "bench.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	var n atomic.Int64
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := int(n.Add(1))
			if err := s.Batch(func(tx *Tx) error { return writeBurstRecord(tx, i) }); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "incidents/s")
}
