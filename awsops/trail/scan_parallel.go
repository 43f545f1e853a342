package trail

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"sync"
)

// Object is a log object to scan: its name and how to open it.
type Object struct {
	Name string
	Open func(ctx context.Context) (io.ReadCloser, error)
}

// ScanStats sums the scans of many objects.
type ScanStats struct {
	Objects       int
	FailedObjects int
	Bytes         int64 // decompressed
	Matches       int
}

// ScanObjects scans the objects with the given number of workers and calls
// fn for every match; calls to fn never overlap, and within an object come
// in order. An object that cannot be read or decoded does not stop the
// others: its error, naming it, is joined into the returned error. An
// error from fn, or the end of ctx, stops the scan and is returned. Each
// worker holds about 4×MaxRecordBytes, 100 KiB of decompressor state and
// 256 KiB of lists (1.5 MiB by default), whatever the size of the objects.
func (s *Scanner) ScanObjects(ctx context.Context, objs iter.Seq[Object], workers int, fn func(Match) error) (ScanStats, error) {
	scanCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu      sync.Mutex // guards everything below and calls to fn
		stats   ScanStats
		objErrs []error
		fnErr   error
	)
	locked := func(m Match) error {
		mu.Lock()
		defer mu.Unlock()
		if err := fn(m); err != nil {
			fnErr = cmp.Or(fnErr, err)
			cancel()
			return err
		}
		return nil
	}
	queue := make(chan Object)
	var wg sync.WaitGroup
	for range max(workers, 1) {
		wg.Go(func() {
			for obj := range queue {
				st, err := s.scanOne(scanCtx, obj, locked)
				mu.Lock()
				stats.Objects++
				stats.Bytes += st.Bytes
				stats.Matches += st.Matches
				if err != nil && scanCtx.Err() == nil {
					stats.FailedObjects++
					objErrs = append(objErrs, err)
				}
				mu.Unlock()
			}
		})
	}
	for obj := range objs {
		if !send(scanCtx, queue, obj) {
			break
		}
	}
	close(queue)
	wg.Wait()
	switch {
	case fnErr != nil:
		return stats, fnErr
	case ctx.Err() != nil:
		return stats, fmt.Errorf("scan trail objects: %w", ctx.Err())
	}
	return stats, errors.Join(objErrs...)
}

func send[T any](ctx context.Context, ch chan<- T, v T) bool {
	select {
	case ch <- v:
		return true
	case <-ctx.Done():
		return false
	}
}

func (s *Scanner) scanOne(ctx context.Context, obj Object, fn func(Match) error) (ObjectStats, error) {
	rc, err := obj.Open(ctx)
	if err != nil {
		return ObjectStats{}, fmt.Errorf("open trail object %s: %w", obj.Name, err)
	}
	defer rc.Close()
	return s.ScanObject(ctx, obj.Name, rc, fn)
}
