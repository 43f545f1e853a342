// Package state keeps everything keyleak knows in one bbolt file:
// incidents, the access-key index, timelines, action requests, findings,
// the outbox of messages to deliver and the IDs of events already seen.
//
// All changes go through Store.Update, whose function receives a Tx: a
// state change and the outbox messages it causes are written in the same
// transaction, so either both survive a crash or neither does. Values are
// copied out of bbolt before they are returned. Functions passed to Update
// and View must not do I/O: they hold the database's single writer lock.
package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Options tune Open.
type Options struct {
	// LockTimeout bounds the wait for another process holding the file.
	// Zero means 5 seconds.
	LockTimeout time.Duration
	// NoSync skips fsync on commit. For benchmarks only: a crash may lose
	// committed transactions.
	NoSync bool
	// BatchDelay is how long Batch waits for other writers to share a
	// commit. Zero means 2 ms.
	BatchDelay time.Duration
	// ReadOnly opens the file for reading only (shared with other
	// readers); every write fails. The file is not migrated.
	ReadOnly bool
}

// Store is the open database.
type Store struct {
	db       *bolt.DB
	path     string
	enqueued chan struct{}
}

// Open opens (creating if needed, with mode 0600) the database at path and
// migrates it to the current schema.
func Open(path string, opts Options) (*Store, error) {
	return openVersion(path, opts, SchemaVersion)
}

func openVersion(path string, opts Options, version uint64) (s *Store, err error) {
	timeout := opts.LockTimeout
	if timeout == 0 {
		timeout = 5 * time.Second
	}
	var db *bolt.DB
	// bbolt panics on some damage it meets while opening or reading: turn
	// that into an error that says what to do.
	defer func() {
		if r := recover(); r != nil {
			if db != nil {
				func() { defer func() { _ = recover() }(); db.Close() }()
			}
			s, err = nil, damaged(path, fmt.Sprint(r))
		}
	}()
	db, err = bolt.Open(path, 0o600, &bolt.Options{Timeout: timeout, NoSync: opts.NoSync, ReadOnly: opts.ReadOnly})
	var fsErr *fs.PathError
	switch {
	case errors.Is(err, bolt.ErrTimeout):
		return nil, fmt.Errorf("open database %s (waited %s): %w", path, timeout, ErrLocked)
	case errors.As(err, &fsErr):
		return nil, fmt.Errorf("open database %s: %w", path, err) // permissions, a missing directory…
	case err != nil:
		return nil, damaged(path, err.Error()) // the file is there, but not a readable database
	}
	if err := db.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			return err
		}
		return nil
	}); err != nil {
		db.Close()
		return nil, damaged(path, err.Error())
	}
	if opts.ReadOnly {
		return &Store{db: db, path: path, enqueued: make(chan struct{}, 1)}, nil
	}
	// bbolt applies the mode only when it creates the file; tighten an
	// existing file too, since it holds incident data.
	if err := os.Chmod(path, 0o600); err != nil {
		db.Close()
		return nil, fmt.Errorf("restrict database %s to its owner: %w", path, err)
	}
	if err := migrate(db, version); err != nil {
		db.Close()
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	db.MaxBatchDelay = opts.BatchDelay
	if db.MaxBatchDelay == 0 {
		db.MaxBatchDelay = 2 * time.Millisecond
	}
	return &Store{db: db, path: path, enqueued: make(chan struct{}, 1)}, nil
}

// damaged is the error for a database file that cannot be read.
func damaged(path, detail string) error {
	return fmt.Errorf("the database %s is damaged (%s): %w. Stop keyleak, move the file aside, and put the newest copy "+
		"made by `keyleak backup` in its place (the Kubernetes backup container keeps them in /backup); what happened since that "+
		"copy is in the Chat spaces and emails", path, detail, ErrDamaged)
}

// Close closes the file. Pending transactions finish first.
func (s *Store) Close() error { return s.db.Close() }

// Path is the file the store lives in.
func (s *Store) Path() string { return s.path }

// Update runs fn in a read-write transaction, committed if fn returns nil.
func (s *Store) Update(fn func(tx *Tx) error) error {
	return s.db.Update(func(btx *bolt.Tx) error { return fn(&Tx{tx: btx, store: s}) })
}

// Enqueued is signalled after a transaction that added an outbox message
// commits, so the delivery worker need not wait for its next poll.
func (s *Store) Enqueued() <-chan struct{} { return s.enqueued }

func (s *Store) signalEnqueued() {
	select {
	case s.enqueued <- struct{}{}:
	default:
	}
}

// Batch is Update for concurrent writers: calls arriving together share
// one commit (and one fsync), so many handlers can write at once without
// queueing behind each other's disk syncs. fn may run more than once if a
// transaction it shared fails, so it must only act through tx.
func (s *Store) Batch(fn func(tx *Tx) error) error {
	return s.db.Batch(func(btx *bolt.Tx) error { return fn(&Tx{tx: btx, store: s}) })
}

// View runs fn in a read-only transaction.
func (s *Store) View(fn func(tx *Tx) error) error {
	return s.db.View(func(btx *bolt.Tx) error { return fn(&Tx{tx: btx, store: s}) })
}

// Backup writes a consistent copy of the whole database to w while the
// store stays in use, and returns the number of bytes written.
func (s *Store) Backup(w io.Writer) (int64, error) {
	var n int64
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		n, err = tx.WriteTo(w)
		return err
	})
	if err != nil {
		return n, fmt.Errorf("back up database: %w", err)
	}
	return n, nil
}

// BackupFile writes a consistent copy of the database to path (mode 0600),
// through a temporary file renamed into place, so a failed backup never
// leaves a truncated file under the final name.
func (s *Store) BackupFile(path string) (int64, error) {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return 0, fmt.Errorf("back up database: %w", err)
	}
	n, err := s.Backup(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return 0, fmt.Errorf("back up database to %s: %w", path, err)
	}
	return n, nil
}

// Tx is a transaction. It is valid only inside the function passed to
// Update or View.
type Tx struct {
	tx       *bolt.Tx
	store    *Store
	enqueued bool
}

func (t *Tx) bucket(name []byte) *bolt.Bucket { return t.tx.Bucket(name) }

func marshal(v any) ([]byte, error) { return json.Marshal(v) }

func unmarshal(data []byte, v any) error {
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("decode %T: %w", v, err)
	}
	return nil
}

// get decodes the value under key in bucket b into v, or returns ErrNotFound.
func get(b *bolt.Bucket, key []byte, v any) error {
	data := b.Get(key)
	if data == nil {
		return ErrNotFound
	}
	return unmarshal(data, v)
}

func put(b *bolt.Bucket, key []byte, v any) error {
	data, err := marshal(v)
	if err != nil {
		return err
	}
	return b.Put(key, data)
}
