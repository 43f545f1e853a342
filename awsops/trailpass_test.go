package awsops

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/keyleak/keyleak/awsops/trail/trailtest"
)

// passCorpus is a busy account's trail on disk: five-minute log files of
// one region, as CloudTrail delivers them, and the tree of credentials of
// an incident in it.
type passCorpus struct {
	dir     string
	account string
	objects []trailObject
	raw     int64 // uncompressed bytes
	gz      int64
	keys    []string       // the leaked key first, then those derived from it that call
	tree    int            // the leaked key, every key minted from it and every user created
	users   []string       // the users created
	uses    map[string]int // records each key made as the caller
	from    time.Time
	to      time.Time
	// files are the log files mapped into memory (outside Go's heap):
	// read without a system call, as from a network connection, whose
	// reads wait in the poller without holding a core.
	files map[string][]byte
}

// newPassCorpus writes about mb MiB of realistic CloudTrail (8 records a
// second, 2,400 a file) in which the leaked key mints a tree of seven more
// keys and of the keys and users they make, the eight calling in one
// record in poolEvery×8/8 (125: one in a thousand each).
func newPassCorpus(b testing.TB, mb, poolEvery int) passCorpus {
	b.Helper()
	start := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	g := trailtest.NewGen(b, 2026, 8, 0)
	g.Chain, g.PoolEvery, g.BigRate, g.Start, g.Every = true, poolEvery, 0.002, start, 125*time.Millisecond
	c := passCorpus{dir: b.TempDir(), account: g.Account, keys: g.Tracked, from: start}
	type file struct {
		obj trailObject
		doc []byte
	}
	docs := make(chan file, 4)
	var wg sync.WaitGroup
	var mu sync.Mutex
	errs := make(chan error, 1)
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			zw, _ := gzip.NewWriterLevel(nil, gzip.DefaultCompression)
			for f := range docs {
				path := filepath.Join(c.dir, filepath.FromSlash(f.obj.key))
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					errs <- err
					return
				}
				out, err := os.Create(path)
				if err != nil {
					errs <- err
					return
				}
				zw.Reset(out)
				_, err = zw.Write(f.doc)
				err = cmpErr(err, zw.Close(), out.Close())
				st, serr := os.Stat(path)
				if err = cmpErr(err, serr); err != nil {
					errs <- err
					return
				}
				mu.Lock()
				c.gz += st.Size()
				for i := range c.objects {
					if c.objects[i].key == f.obj.key {
						c.objects[i].size = st.Size()
					}
				}
				mu.Unlock()
			}
		})
	}
	const perFile = 2400
	for i := 0; c.raw < int64(mb)<<20; i++ {
		doc := g.Object(b, perFile)
		stamp := start.Add(time.Duration(i+1) * 5 * time.Minute)
		key := trailtest.LogKey(c.account, "us-east-1", stamp, g.Base32(16))
		obj := trailObject{key: key, account: c.account, region: "us-east-1", stamp: stamp}
		mu.Lock()
		c.objects = append(c.objects, obj)
		mu.Unlock()
		c.raw += int64(len(doc))
		c.to = stamp
		select {
		case docs <- file{obj, doc}:
		case err := <-errs:
			b.Fatal(err)
		}
	}
	close(docs)
	wg.Wait()
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}
	c.uses = g.Uses
	c.users = g.Created
	tree := map[string]bool{c.keys[0]: true}
	for _, k := range g.Minted {
		tree[k] = true
	}
	for _, u := range g.Created {
		tree["user/"+u] = true
	}
	c.tree = len(tree)
	return c
}

func cmpErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// open opens a log file of the corpus: from memory when it is mapped.
func (c passCorpus) open(_ context.Context, key string) (io.ReadCloser, int64, error) {
	m, ok := c.files[key]
	if !ok {
		var err error
		if m, err = os.ReadFile(filepath.Join(c.dir, filepath.FromSlash(key))); err != nil {
			return nil, 0, err
		}
	}
	return io.NopCloser(bytes.NewReader(m)), int64(len(m)), nil
}

// pass runs the trail-first pass over the corpus from the leaked key, as
// investigateTrail does, on the given number of workers (0: the
// default), and returns the tracker and what it read.
func (c passCorpus) pass(workers int) (*tracker, TrailRead) {
	return c.passOver(workers, c.objects, nil, nil)
}

// passOver is pass over the files listed as objects, telling scanning
// (when not nil) of every read as it begins, and opening the files with
// open (c.open when nil).
func (c passCorpus) passOver(workers int, objects []trailObject, scanning func(scanJob) func(), open func(ctx context.Context, key string) (io.ReadCloser, int64, error)) (*tracker, TrailRead) {
	ctx := context.Background()
	tr := newTracker(Session{AccessKeyID: c.keys[0], Account: c.account})
	p := newTrailPass(nil, tr, nil, trailLayout{bucket: "bench", root: "AWSLogs/"}, Window{Start: c.from, End: c.to}, c.to)
	p.get, p.scanning = c.open, scanning
	if open != nil {
		p.get = open
	}
	if workers > 0 {
		p.workers = workers
	}
	listing := &accountListing{account: c.account, from: c.from, to: c.to,
		regions: map[string]*regionListing{"us-east-1": {objects: objects, bytes: c.gz, newest: c.to}}}
	p.accounts[c.account] = listing
	p.pending++
	p.enqueue(listing)
	p.follow(ctx)
	return tr, p.read
}

// TestTrailPassFindsTheWholeTree: the trail-first pass over log files in
// which the leaked key mints keys that mint more and create users, file
// after file, finds every credential of the tree and every call they
// made, with one worker and with many (which read later files before
// earlier ones are done, and must read again what they passed before a
// credential was found).
func TestTrailPassFindsTheWholeTree(t *testing.T) {
	c := newPassCorpus(t, 12, 12)
	calls := 0
	for _, n := range c.uses {
		calls += n
	}
	if len(c.objects) < 3 || c.tree < 10 || calls < 300 {
		t.Fatalf("%d files, a tree of %d, %d calls: the test needs several files and a grown tree", len(c.objects), c.tree, calls)
	}
	for _, workers := range []int{1, 4} {
		tr, read := c.pass(workers)
		if got := tr.keyCount(); got != c.tree {
			t.Errorf("%d workers: tracked %d credentials, want the %d of the tree", workers, got, c.tree)
		}
		if got := tr.eventCount(); got != calls {
			t.Errorf("%d workers: found %d calls of the tree, want %d", workers, got, calls)
		}
		if read.Objects < len(c.objects) || read.FailedObjects > 0 {
			t.Errorf("%d workers: read %d files (%d failed) of %d", workers, read.Objects, read.FailedObjects, len(c.objects))
		}
		if read.Bytes < c.gz || read.Decompressed < c.raw {
			t.Errorf("%d workers: read %d bytes (%d decompressed), want at least the %d of the files (%d)", workers, read.Bytes, read.Decompressed, c.gz, c.raw)
		}
	}
}

// TestTrailPassReadsAgainWhole: when the file in which the tree begins to
// grow is delivered last (its name stamped after the others), the files
// before it are read before anything they hold is tracked. Each is then
// read again whole with all that is tracked, which finds the credentials
// minted in it and their use later in it in the same read. The tree and
// its calls are found whole, and no more files are held fetched at once
// than fetchAhead, second reads included.
func TestTrailPassReadsAgainWhole(t *testing.T) {
	c := newPassCorpus(t, 80, 12)
	if len(c.objects) <= fetchAhead+1 {
		t.Fatalf("%d files: the test needs more than fetchAhead (%d) to read again", len(c.objects), fetchAhead)
	}
	calls := 0
	for _, n := range c.uses {
		calls += n
	}
	objects := slices.Clone(c.objects)
	objects[0].stamp = objects[len(objects)-1].stamp.Add(5 * time.Minute)
	type read struct{ first, part, whole bool }
	reads := map[string][]read{}
	var mu sync.Mutex
	held, most := 0, 0 // files opened and not yet scanned
	tr, got := c.passOver(1, objects, func(job scanJob) func() {
		mu.Lock()
		defer mu.Unlock()
		held--
		reads[job.obj.key] = append(reads[job.obj.key], read{first: job.rescan == nil && job.again == 0, part: job.rescan != nil, whole: job.again > 0})
		return nil
	}, func(ctx context.Context, key string) (io.ReadCloser, int64, error) {
		mu.Lock()
		held++
		most = max(most, held)
		mu.Unlock()
		return c.open(ctx, key)
	})
	if most > fetchAhead+1 {
		t.Errorf("%d files held fetched at once, want at most fetchAhead (%d) and the one being read", most, fetchAhead)
	}
	if n := tr.keyCount(); n != c.tree {
		t.Errorf("tracked %d credentials, want the %d of the tree", n, c.tree)
	}
	if n := tr.eventCount(); n != calls {
		t.Errorf("found %d calls of the tree, want %d", n, calls)
	}
	if r := reads[objects[0].key]; len(r) != 1 || !r[0].first {
		t.Errorf("the file delivered last was read %+v, want once", r)
	}
	total := 0
	for _, o := range objects[1:] {
		r := reads[o.key]
		total += len(r) - 1
		if len(r) == 0 || !r[0].first {
			t.Fatalf("%s: reads %+v, want a first read first", o.key, r)
		}
		whole := false
		for i, rd := range r[1:] {
			if rd.first {
				t.Errorf("%s: read %d is a first read", o.key, i+2)
			}
			whole = whole || rd.whole
		}
		if !whole {
			t.Errorf("%s: reads %+v, want a whole second read once the tree grew", o.key, r)
		}
	}
	if got.Rescanned != total {
		t.Errorf("the report counts %d second reads, the files had %d", got.Rescanned, total)
	}
}

// TestFilesDeliveredBeforeAreNotReadAgain: a file delivered (stamped) more
// than deliveredBefore before a door opened cannot hold its use and is not
// read again for it, though its first read could not tell; one stamped
// within it, or after, is.
func TestFilesDeliveredBeforeAreNotReadAgain(t *testing.T) {
	opened := time.Date(2026, 11, 20, 3, 25, 40, 0, time.UTC)
	for _, tc := range []struct {
		stamp time.Time
		again bool
	}{
		{opened.Add(-10 * time.Minute), false},
		{opened.Add(-3 * time.Minute), false},
		{opened.Add(-90 * time.Second), false}, // 03:24: written before 03:25
		{opened.Add(-40 * time.Second), true},
		{opened.Truncate(time.Minute), true},
		{opened.Add(5 * time.Minute), true},
	} {
		p := &trailPass{done: []doneObject{{obj: trailObject{key: "f", stamp: tc.stamp}}}}
		p.consider(0, addition{gen: 1, at: opened, patterns: []string{`"userName":"backup-svc"`}})
		if again := p.done[0].need != nil; again != tc.again {
			t.Errorf("a file stamped %s, a door opened at %s: read again %v, want %v",
				tc.stamp.Format("15:04:05"), opened.Format("15:04:05"), again, tc.again)
		}
	}
}

// TestTrailPassScansOneFilePerWorker: the pass scans as many files read
// whole at once as it has workers, and no more (more would share the
// cores, end each file later and find what it mints later); a file
// streamed from S3, which waits on the network as it is scanned, is read
// beside them by one goroutine more, and does not hold the others up,
// whether its listing said it was large or named it without a size (as
// Athena names files).
func TestTrailPassScansOneFilePerWorker(t *testing.T) {
	c := newPassCorpus(t, 24, 12)
	if len(c.objects) < 4 {
		t.Fatalf("%d files: the test needs several", len(c.objects))
	}
	calls := 0
	for _, n := range c.uses {
		calls += n
	}
	for _, tc := range []struct {
		name     string
		streamed int   // the file streamed, -1 for none
		listed   int64 // the size its listing gives
	}{
		{"every file read whole", -1, 0},
		{"the first file streamed", 0, maxWholeObject + 1},
		{"the first file streamed, of unknown size", 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			objects := slices.Clone(c.objects)
			var mu sync.Mutex
			whole, most, wholeEnded := 0, 0, 0
			othersDone := make(chan struct{})
			if tc.streamed >= 0 {
				objects[tc.streamed].size = tc.listed
			}
			open := func(ctx context.Context, key string) (io.ReadCloser, int64, error) {
				rc, n, err := c.open(ctx, key)
				if tc.streamed < 0 || key != objects[tc.streamed].key || err != nil {
					return rc, n, err
				}
				// Streamed (its size unknown), and its first bytes come
				// only once every other file was scanned.
				return &heldReader{r: rc, until: othersDone}, 0, nil
			}
			tr, read := c.passOver(1, objects, func(job scanJob) func() {
				if tc.streamed >= 0 && job.obj.key == objects[tc.streamed].key {
					return nil
				}
				mu.Lock()
				defer mu.Unlock()
				whole++
				most = max(most, whole)
				return func() {
					mu.Lock()
					defer mu.Unlock()
					whole--
					if wholeEnded++; wholeEnded == len(objects)-1 && tc.streamed >= 0 {
						close(othersDone)
					}
				}
			}, open)
			if most != 1 {
				t.Errorf("one worker scanned %d files read whole at once, want 1", most)
			}
			if read.FailedObjects > 0 {
				t.Errorf("%d files failed, want none", read.FailedObjects)
			}
			if n := tr.keyCount(); n != c.tree {
				t.Errorf("tracked %d credentials, want the %d of the tree", n, c.tree)
			}
			if n := tr.eventCount(); n != calls {
				t.Errorf("found %d calls of the tree, want %d", n, calls)
			}
		})
	}
}

// heldReader gives r's bytes once until is closed: a stream from S3 whose
// bytes are slow to come.
type heldReader struct {
	r     io.ReadCloser
	until <-chan struct{}
}

func (h *heldReader) Read(p []byte) (int, error) {
	select {
	case <-h.until:
	case <-time.After(time.Minute):
		return 0, errors.New("the stream was held a minute: the files read whole waited for it")
	}
	return h.r.Read(p)
}

func (h *heldReader) Close() error { return h.r.Close() }
