package trail

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/klauspost/compress/gzip"
)

// Errors of the CloudTrail log scanner, checked with errors.Is.
var (
	ErrObjectTooLarge  = errors.New("decompressed log object exceeds the size limit")
	ErrRecordTooLarge  = errors.New("log record exceeds the size limit")
	ErrMalformedRecord = errors.New("malformed log record")
	ErrNotTrailLog     = errors.New(`not a CloudTrail log object (gzip or plain {"Records":[…]})`)
)

// ScanOptions bound the work and memory of a scan. Zero fields take
// the defaults.
type ScanOptions struct {
	// MaxObjectBytes caps the decompressed size of one object (default
	// 1 GiB); beyond it the object fails with ErrObjectTooLarge.
	MaxObjectBytes int64
	// MaxRecordBytes caps a record that holds a tracked key (default
	// 256 KiB, the size of CloudTrail's largest events); a larger one fails
	// the object with ErrRecordTooLarge. A scan holds at most 4 times this
	// much decompressed log, and lists of where keys may be (at most
	// 256 KiB), so its memory is about 1.5 MiB by default.
	MaxRecordBytes int
	// Index makes ObjectStats.Index say what the scan saw of what it did
	// not track, so that ObjectStats.Missed can tell whether what is
	// tracked later needs a second scan of the object, and how far.
	Index bool
	// StopAfter, when positive, ends a scan once the search has passed
	// this many decompressed bytes and no record is open: the rest of the
	// object is not read.
	StopAfter int64
}

const readSize = 64 << 10

func (o ScanOptions) withDefaults() ScanOptions {
	if o.MaxObjectBytes <= 0 {
		o.MaxObjectBytes = 1 << 30
	}
	if o.MaxRecordBytes <= 0 {
		o.MaxRecordBytes = 256 << 10
	}
	return o
}

// Scanner finds the CloudTrail records of a set of access keys in log
// objects ({"Records":[…]}, gzip or plain). A record matches when a tracked
// key is its userIdentity.accessKeyId or its
// responseElements.credentials.accessKeyId.
//
// It decompresses in chunks and searches the bytes, in one pass whatever
// the number of keys, for "accessKeyId" members whose value is a tracked
// key; with AVX2, that search and the one for the first watched anchor
// read each byte once, as the chunk is copied in (see pairFinder). Around
// each it finds the record (see locate) and decodes that record alone,
// which decides, to what json.Unmarshal would give (see recordDecoder) but
// several times faster. It relies on what holds for every log CloudTrail
// writes: records begin alike (with "eventVersion"), and objects shaped
// like records appear only as records. A key written with JSON escapes is
// not found. It is safe for concurrent use.
type Scanner struct {
	set    atomic.Pointer[keySet]
	addMu  sync.Mutex // serialises Add and Watch
	prefix [2]uint32  // AKIA and ASIA, little-endian
	opts   ScanOptions
	// indexSize is the size of the last index made, to make the next.
	indexSize atomic.Int64
}

// maxIndexHint bounds the room an index is made with.
const maxIndexHint = 1 << 16

// keySet is what a scanner tracks. It is never changed once published:
// Add and Watch publish a new one, which scans already running pick up at
// their next chunk.
type keySet struct {
	keys     layered[[keyIDLen]byte, struct{}]
	filter   *bitFilter // keyHash of every tracked key, shared by every generation
	patterns *patternSet
	gen      int // how many Add and Watch calls made it
}

// keyIDLen is the length of every AWS access key ID.
const keyIDLen = 20

// NewScanner returns a scanner for the given access key IDs; anything not
// 20 characters long is ignored.
func NewScanner(keys []string, opts ScanOptions) *Scanner {
	s := &Scanner{opts: opts.withDefaults()}
	s.prefix[0] = binary.LittleEndian.Uint32([]byte("AKIA"))
	s.prefix[1] = binary.LittleEndian.Uint32([]byte("ASIA"))
	s.set.Store(&keySet{patterns: &patternSet{}, filter: new(bitFilter)})
	s.Add(keys...)
	return s
}

// Add tracks more keys, also in scans already running (from their next
// chunk of input or the next record handed on: a record before that may
// be missed, see Generation and ObjectStats.Missed). It returns the
// generation that holds them: the current one when all were tracked.
func (s *Scanner) Add(keys ...string) int {
	return s.update(func(ks *keySet) (changed bool) {
		for _, k := range keys {
			if len(k) != keyIDLen {
				continue
			}
			if _, ok := ks.keys.get([keyIDLen]byte([]byte(k))); !ok {
				ks.keys = ks.keys.with([keyIDLen]byte([]byte(k)), struct{}{})
				ks.filter.set(keyHash([]byte(k)))
				changed = true
			}
		}
		return changed
	})
}

// Watch makes every record that holds one of the literal patterns (as
// CloudTrail writes it, e.g. `"userName":"bob"`) match too, whatever its
// keys; Match.Patterns says which. Empty patterns, and patterns longer
// than 1 KiB, are ignored. Patterns of the form `"name":"value"` are
// cheap in any number; each other one costs a search of every byte. It
// returns the generation that holds them.
func (s *Scanner) Watch(patterns ...string) int {
	return s.update(func(ks *keySet) (changed bool) {
		for _, p := range patterns {
			var added bool
			ks.patterns, added = ks.patterns.with(p)
			changed = changed || added
		}
		return changed
	})
}

// Rewatch is Watch for patterns that may be watched already: it makes a
// new generation all the same, so that the reads begun before it count
// them as added after (ObjectStats.Missed). A caller that handles the
// records holding a pattern differently from now on (a second door behind
// one pattern) has those records handed on again.
func (s *Scanner) Rewatch(patterns ...string) int {
	return s.update(func(ks *keySet) bool {
		for _, p := range patterns {
			ks.patterns, _ = ks.patterns.with(p)
		}
		return true
	})
}

// Generation counts the Add, Watch and Rewatch calls that changed what is
// tracked (every Rewatch does). A scan that began at generation g is
// complete for what generation g tracked; keys added later may be missed
// in the records before they were added.
func (s *Scanner) Generation() int { return s.set.Load().gen }

// update publishes a changed copy of the key set as the next generation,
// unless change reports that nothing changed.
func (s *Scanner) update(change func(*keySet) bool) int {
	s.addMu.Lock()
	defer s.addMu.Unlock()
	old := s.set.Load()
	ks := *old // the maps in it are versions: change makes new ones
	ks.gen++
	if !change(&ks) {
		return old.gen
	}
	s.set.Store(&ks)
	return ks.gen
}

// ObjectStats describes the scan of one object.
type ObjectStats struct {
	Bytes      int64 // decompressed
	Candidates int   // records decoded because a tracked key appeared in them
	Matches    int
	// Generation is that of the key set the scan began with: it is
	// complete for the keys and patterns tracked then.
	Generation int
	// Pickups say from where on the scan searched with the keys and
	// patterns of later generations, in order.
	Pickups []Pickup
	// Index is, with ScanOptions.Index, what the scan saw of what it did
	// not track.
	Index *ObjectIndex
}

// ObjectIndex is what a scan saw: where each access key ID first appears
// in an "accessKeyId" member, and, for each member a watched pattern names
// (its anchor), from where the scan looked at that member's values and
// where each value first appears.
//
// Items are kept by a 64-bit hash: two that collide make the later one
// look seen, which costs a second scan, never a miss.
//
// An index holds at most maxIndexItems items: past them, every item not
// noted looks seen from the offset where the index filled, which costs a
// second scan from there, never a miss, and bounds its memory whatever an
// object holds.
type ObjectIndex struct {
	seen    itemTable        // hash of a key ID or `"name":"value"` → first offset
	anchors map[string]int64 // `"name":"` → from where its values were noted
	full    bool             // seen holds maxIndexItems items …
	fullAt  int64            // … since this offset
}

// maxIndexItems bounds the items of one index (a few MB).
const maxIndexItems = 1 << 17

// Len is the number of items the index holds.
func (x *ObjectIndex) Len() int {
	if x == nil {
		return 0
	}
	return x.seen.n
}

var indexSeed = maphash.MakeSeed()

// newObjectIndex returns an empty index with room for about size items.
func newObjectIndex(size int) *ObjectIndex {
	x := &ObjectIndex{anchors: map[string]int64{}}
	x.seen.init(size)
	return x
}

// note records the first offset of b (a key ID or a member and its value).
func (x *ObjectIndex) note(b []byte, off int64) {
	if x == nil || len(b) == 0 {
		return
	}
	x.noteHash(itemHash(b), off)
}

// itemHash is the hash an index keeps an item (a key ID or a member and its
// value) by. Key IDs, one in nearly every record, take a cheaper hash of
// their three words.
func itemHash(b []byte) uint64 {
	if len(b) != keyIDLen {
		return maphash.Bytes(indexSeed, b)
	}
	h := (binary.LittleEndian.Uint64(b) ^ keySeed) * 0x9e3779b97f4a7c15
	h = (h ^ binary.LittleEndian.Uint64(b[8:]) ^ h>>29) * 0xbf58476d1ce4e5b9
	h = (h ^ uint64(binary.LittleEndian.Uint32(b[16:])) ^ h>>32) * 0x94d049bb133111eb
	return h ^ h>>31
}

// keySeed makes the hashes of key IDs differ from run to run, as those of
// other items do.
var keySeed = maphash.Comparable(indexSeed, 0)

// noteHash is note for an item whose itemHash is h.
func (x *ObjectIndex) noteHash(h uint64, off int64) {
	if x == nil {
		return
	}
	if !x.seen.add(h, off, maxIndexItems) && !x.full {
		x.full, x.fullAt = true, off
	}
}

// first returns the first offset of item noted.
func (x *ObjectIndex) first(item string) (int64, bool) {
	return x.seen.get(itemHash([]byte(item)))
}

// anchorsFrom records that the anchors of ps are looked at from off on,
// those not looked at already.
func (x *ObjectIndex) anchorsFrom(ps *patternSet, off int64) {
	if x == nil {
		return
	}
	for _, g := range ps.groups {
		if _, ok := x.anchors[string(g.anchor)]; !ok && g.values.len() > 0 {
			x.anchors[string(g.anchor)] = off
		}
	}
}

// Missed reports whether the scan may have missed item, an access key ID
// or a pattern added to the scanner at generation gen, and up to which
// decompressed offset a second scan must read to find it (0: the whole
// object). Without an index every item added after the scan began counts
// as missed.
func (st *ObjectStats) Missed(item string, gen int) (upTo int64, missed bool) {
	return st.MissedBesides(item, gen, 0, 0)
}

// MissedBesides is Missed for an item added while the callback handled the
// record this scan handed on at [from, to): the callback saw that record,
// and when the scan searched for the item from its end on, an item first
// seen in it was not missed.
func (st *ObjectStats) MissedBesides(item string, gen int, from, to int64) (upTo int64, missed bool) {
	if gen <= st.Generation {
		return 0, false
	}
	picked := int64(0) // from where the scan searched for item; 0: never
	for _, pu := range st.Pickups {
		if pu.Generation >= gen {
			if pu.Offset == 0 {
				return 0, false // picked up before the first byte
			}
			picked = pu.Offset
			break
		}
	}
	x := st.Index
	if x == nil {
		return picked, true
	}
	// Before picked, item was found only where the index saw it.
	seenBefore := func() bool {
		first, ok := x.first(item)
		if !ok && x.full {
			return picked == 0 || x.fullAt < picked // not noted: it may be anywhere after the index filled
		}
		handled := picked > 0 && picked <= to && first >= from && first < to
		return ok && (picked == 0 || first < picked) && !handled
	}
	if len(item) == keyIDLen && !strings.HasPrefix(item, `"`) {
		if seenBefore() {
			return picked, true
		}
		return 0, false
	}
	anchor, rest := splitPattern(item)
	lookedFrom, looked := x.anchors[anchor]
	switch {
	case rest == "" || !looked || seenBefore():
		return picked, true
	case lookedFrom > 0:
		return lookedFrom, true // the index did not look before lookedFrom
	}
	return 0, false
}

// Pickup is where a scan began to search with a later generation's keys
// and patterns: every occurrence at or after Offset was searched with them.
type Pickup struct {
	Generation int
	Offset     int64
}

// workers are the buffers of scans, shared by every scanner: a pass makes
// a scanner for each second read of a file.
var workers = sync.Pool{New: func() any { return &trailWorker{br: bufio.NewReaderSize(nil, 32<<10)} }}

// trailWorker holds the reusable buffers of one scan.
type trailWorker struct {
	br  *bufio.Reader
	zr  gzip.Reader
	buf []byte
	pf  pairFinder
}

// byteSource is what the decompressor reads: it reads a *bufio.Reader or
// a *bytes.Reader without interface calls per byte.
type byteSource interface {
	io.Reader
	io.ByteReader
	io.WriterTo
}

// input returns the first two bytes of r, without consuming them, and the
// reader to read it all from: r itself when its bytes are in memory, else
// the worker's buffered reader.
func (w *trailWorker) input(r io.Reader) (head []byte, in byteSource, err error) {
	if mr, ok := r.(*bytes.Reader); ok {
		var h [2]byte
		n, err := mr.ReadAt(h[:], mr.Size()-int64(mr.Len()))
		return h[:n], mr, err
	}
	w.br.Reset(r)
	head, err = w.br.Peek(2)
	return head, w.br, err
}

// ScanObject scans one log object read from r and calls fn, in order, for
// every matching record. name identifies the object in errors and matches.
// An error from fn stops the scan and is returned as is.
func (s *Scanner) ScanObject(ctx context.Context, name string, r io.Reader, fn func(Match) error) (ObjectStats, error) {
	w := workers.Get().(*trailWorker)
	defer workers.Put(w)
	sc := objectScan{Scanner: s, name: name, fn: fn, set: s.set.Load(), patHit: -1, recPattern: -1}
	sc.stats.Generation = sc.set.gen
	if s.opts.Index {
		// The last index's size: files of one trail hold alike many
		// keys and values, and the map is not grown step by step.
		sc.stats.Index = newObjectIndex(int(s.indexSize.Load()))
		sc.stats.Index.anchorsFrom(sc.set.patterns, 0)
	}
	err := sc.run(ctx, w, r)
	if errors.Is(err, errStop) {
		err = nil
	}
	if x := sc.stats.Index; x != nil {
		s.indexSize.Store(int64(min(x.seen.n+x.seen.n/8, maxIndexHint)))
	}
	w.br.Reset(nil)
	sc.stats.Bytes = sc.end
	if err != nil && !errors.Is(err, errCallback) {
		return sc.stats, fmt.Errorf("scan trail object %s: %w", name, err)
	}
	if err != nil {
		return sc.stats, sc.fnErr
	}
	return sc.stats, nil
}

// errCallback marks an error returned by the caller's fn.
var errCallback = errors.New("callback failed")

// errStop ends a scan at ScanOptions.StopAfter.
var errStop = errors.New("scan stopped after the bytes asked for")

// objectScan is the state of one object's scan. Offsets are absolute in
// the decompressed object; buf[0] is at offset base.
type objectScan struct {
	*Scanner
	name  string
	fn    func(Match) error
	fnErr error
	stats ObjectStats

	buf     []byte
	base    int64
	end     int64 // offset after the last byte read
	next    int64 // where the search for "accessKeyId" resumes
	lastEnd int64 // end of the last record decoded; records start after it
	rootOK  bool  // the object starts as a CloudTrail log does

	completing bool // a record holding a tracked key is open: read on until it closes
	recStart   int64
	recPattern int   // the pattern that opened the record, -1 for a key
	tracked    int64 // the tracker has seen the record up to here
	tr         objTracker

	set     *keySet     // what is tracked; refreshed at every chunk
	pf      *pairFinder // lists keys and the first anchor as data is copied; nil without vector search
	patHit  int64       // the next pattern found, -1 for none known
	patIdx  int         // which pattern that is
	patFrom int64       // patterns were searched for up to here
}

func (sc *objectScan) run(ctx context.Context, w *trailWorker, r io.Reader) error {
	head, in, err := w.input(r)
	var src io.WriterTo = in
	switch {
	case len(head) == 2 && head[0] == 0x1f && head[1] == 0x8b:
		if err := w.zr.Reset(in); err != nil {
			return fmt.Errorf("read gzip header: %w", err)
		}
		src = &w.zr
	case err != nil && err != io.EOF:
		return fmt.Errorf("read: %w", err)
	}
	sc.buf = w.buf[:0]
	defer func() { w.buf = sc.buf[:0] }()
	if pairVector {
		sc.pf = &w.pf
		sc.pf.reset()
		sc.watchPairs()
	}
	// The decompressor writes from its window into the scan: one copy, as
	// with reads, but cheaper.
	var scanErr error
	_, err = src.WriteTo(writerFunc(func(p []byte) (int, error) {
		scanErr = sc.write(ctx, p)
		if scanErr != nil {
			return 0, scanErr
		}
		return len(p), nil
	}))
	switch {
	case scanErr != nil:
		return scanErr
	case err != nil:
		return fmt.Errorf("read at offset %d: %w", sc.end, err)
	}
	if err := sc.process(true); err != nil {
		return err
	}
	if sc.completing {
		return fmt.Errorf("%w: record at offset %d is not closed before the end", ErrMalformedRecord, sc.recStart)
	}
	return nil
}

type writerFunc func(p []byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// write appends p to the buffer in pieces and processes each.
func (sc *objectScan) write(ctx context.Context, p []byte) error {
	for len(p) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := sc.makeRoom(); err != nil {
			return err
		}
		var n int
		if sc.pf != nil {
			sc.pf.moved(sc.base)
			n = sc.pf.copyIn(sc.buf[len(sc.buf):cap(sc.buf)], p)
		} else {
			n = copy(sc.buf[len(sc.buf):cap(sc.buf)], p)
		}
		p = p[n:]
		sc.buf = sc.buf[:len(sc.buf)+n]
		sc.end += int64(n)
		if sc.end > sc.opts.MaxObjectBytes {
			return fmt.Errorf("%w: more than %d bytes", ErrObjectTooLarge, sc.opts.MaxObjectBytes)
		}
		if err := sc.process(false); err != nil {
			return err
		}
		if stop := sc.opts.StopAfter; stop > 0 && sc.next >= stop && sc.patternsSearched() >= stop && !sc.completing {
			return errStop
		}
	}
	return nil
}

// patternsSearched is how far the search for patterns has come: every
// watched pattern that begins before it was found.
func (sc *objectScan) patternsSearched() int64 {
	switch {
	case len(sc.set.patterns.list) == 0:
		return sc.end
	case sc.patHit >= 0:
		return sc.patHit
	}
	return max(sc.patFrom, sc.lastEnd)
}

// makeRoom ensures readSize free bytes after the data. It keeps the open
// record, and MaxRecordBytes before the search position: the start of the
// record around the next key found may lie that far back.
func (sc *objectScan) makeRoom() error {
	if cap(sc.buf)-len(sc.buf) >= readSize {
		return nil
	}
	keep := max(sc.base, min(sc.next, sc.end)-int64(sc.opts.MaxRecordBytes), sc.lastEnd)
	if sc.completing {
		if sc.end-sc.recStart > int64(sc.opts.MaxRecordBytes) {
			return sc.recordTooLarge()
		}
		keep = min(keep, sc.recStart)
	}
	n := copy(sc.buf, sc.buf[keep-sc.base:])
	sc.buf = sc.buf[:n]
	sc.base = keep
	if cap(sc.buf)-n < readSize {
		// n is at most MaxRecordBytes and a few bytes: the search leaves
		// little behind it, and an open record is checked above.
		grown := make([]byte, n, min(max(2*cap(sc.buf), n+readSize, 256<<10), 4*sc.opts.MaxRecordBytes+readSize))
		copy(grown, sc.buf)
		sc.buf = grown
	}
	return nil
}

func (sc *objectScan) recordTooLarge() error {
	return fmt.Errorf("%w: record at offset %d holds a tracked key and is over %d bytes", ErrRecordTooLarge, sc.recStart, sc.opts.MaxRecordBytes)
}

// logStart is how every CloudTrail log object begins, white space aside.
var logStart = []string{"{", `"Records"`, ":", "["}

// checkRoot reports whether the object starts like a CloudTrail log, once
// enough of it has been read to tell.
func (sc *objectScan) checkRoot(eof bool) (decided bool, err error) {
	if len(sc.buf) < 256 && !eof {
		return false, nil
	}
	rest := sc.buf
	for _, tok := range logStart {
		rest = bytes.TrimLeft(rest, " \t\r\n")
		if !bytes.HasPrefix(rest, []byte(tok)) {
			return true, ErrNotTrailLog
		}
		rest = rest[len(tok):]
	}
	return true, nil
}

// process finishes an open record, then searches the new bytes for
// tracked keys and handles the record around each.
func (sc *objectScan) process(eof bool) error {
	sc.refresh()
	if !sc.rootOK {
		decided, err := sc.checkRoot(eof)
		if err != nil || !decided {
			return err
		}
		sc.rootOK = true
	}
	if sc.completing {
		if !sc.trackRecord() {
			return nil
		}
		if err := sc.emit(); err != nil {
			return err
		}
	}
	for {
		v, pattern, ok := sc.findCandidate()
		if !ok {
			return nil
		}
		start, ok, err := sc.locate(v)
		if err != nil {
			return err
		}
		if !ok || pattern < 0 && !inKeyField(sc.buf, int(start-sc.base), int(v-sc.base)-1) {
			continue // not in a record, or not where a record names its key
		}
		sc.completing, sc.recStart, sc.recPattern, sc.tracked = true, start, pattern, start
		sc.tr = objTracker{}
		if !sc.trackRecord() {
			return nil
		}
		if err := sc.emit(); err != nil {
			return err
		}
	}
}

// refresh takes up what was added to the scanner since the scan began or
// last refreshed, for the bytes not searched yet.
func (sc *objectScan) refresh() {
	now := sc.Scanner.set.Load()
	if now == sc.set {
		return
	}
	if now.patterns != sc.set.patterns {
		// New patterns are searched from where the old ones were, and
		// back far enough to find a longer one that the data read ends
		// within; the old ones keep their place.
		sc.patHit = -1
		sc.patFrom = min(sc.patFrom, sc.next, max(sc.base, sc.end-int64(now.patterns.maxLen)+1))
		sc.stats.Index.anchorsFrom(now.patterns, sc.next)
	}
	sc.set = now
	sc.watchPairs()
	sc.stats.Pickups = append(sc.stats.Pickups, Pickup{Generation: now.gen, Offset: sc.next})
}

// watchPairs has the pair finder list the first anchor's pair too, once
// one is watched.
func (sc *objectScan) watchPairs() {
	if sc.pf == nil || sc.pf.anchor || len(sc.set.patterns.groups) == 0 {
		return
	}
	if g := &sc.set.patterns.groups[0]; len(g.anchor) >= 2 {
		sc.pf.watch(g.anchor[g.rare], g.anchor[g.rare+1])
	}
}

// trackRecord runs the tracker over the open record until it closes or the
// data ends, and reports whether it closed.
func (sc *objectScan) trackRecord() bool {
	i, closed := sc.tr.advance(sc.buf, int(sc.tracked-sc.base), len(sc.buf))
	sc.tracked = sc.base + int64(i)
	return closed
}

// emit decodes the record that just closed and hands it to fn if a tracked
// key is in its access key fields.
func (sc *objectScan) emit() error {
	sc.completing = false
	start, end := sc.recStart, sc.tracked
	sc.lastEnd, sc.next = end, max(sc.next, end)
	if end-start > int64(sc.opts.MaxRecordBytes) {
		return sc.recordTooLarge()
	}
	sc.stats.Candidates++
	var rec Record
	if err := Decode(sc.buf[start-sc.base:end-sc.base], &rec); err != nil {
		return fmt.Errorf("%w at offset %d: %w", ErrMalformedRecord, start, err)
	}
	minted := rec.CredentialsAccessKeyID()
	key, ok := sc.matchKey(&rec, minted)
	raw := sc.buf[start-sc.base : end-sc.base]
	// The index holds what the record names whether it is handed on or
	// not: the callback acts on what is tracked when it sees the record,
	// and a key or value tracked later may be in it.
	x := sc.stats.Index
	x.note([]byte(rec.UserIdentity.AccessKeyID), start)
	x.note([]byte(minted), start)
	var patterns []string
	if len(sc.set.patterns.list) > 0 {
		if patterns = sc.set.patterns.all(raw, start, x); len(patterns) > 0 {
			ok = true
		}
	}
	if !ok {
		return nil
	}
	sc.stats.Matches++
	if err := sc.fn(Match{Object: sc.name, Offset: start, End: end, AccessKeyID: key, Patterns: patterns, Record: rec}); err != nil {
		sc.fnErr = err
		return errCallback
	}
	sc.refresh() // fn may have tracked what the record minted
	return nil
}

// matchKey returns the tracked key that rec used or else issued (minted,
// its responseElements.credentials.accessKeyId).
func (sc *objectScan) matchKey(rec *Record, minted string) (string, bool) {
	if k := rec.UserIdentity.AccessKeyID; sc.set.tracksID(k) {
		return k, true
	}
	if sc.set.tracksID(minted) {
		return minted, true
	}
	return "", false
}

func (ks *keySet) tracksID(k string) bool {
	if len(k) != keyIDLen {
		return false
	}
	_, ok := ks.keys.get([keyIDLen]byte([]byte(k)))
	return ok
}

// findCandidate returns the offset of the next place a record must be
// looked at: a tracked key (pattern -1) or a watched pattern (its index).
func (sc *objectScan) findCandidate() (v int64, pattern int, ok bool) {
	p, idx := sc.nextPattern()
	limit := len(sc.buf)
	if p >= 0 {
		limit = int(p - sc.base)
	}
	if v, ok := sc.findKey(limit); ok {
		return v, -1, true
	}
	if p >= 0 && sc.next >= p {
		sc.next, sc.patHit, sc.patFrom = max(sc.next, p+1), -1, p+1
		return p, idx, true
	}
	return 0, 0, false
}

// nextPattern returns where the first watched pattern not yet handled
// begins, and which it is; -1 when none is in the buffer.
func (sc *objectScan) nextPattern() (int64, int) {
	pats := sc.set.patterns
	if len(pats.list) == 0 {
		return -1, 0
	}
	// Patterns were searched up to patFrom, which trails the key search
	// by less than the longest pattern; those in records already decoded
	// were reported with them.
	from := max(sc.patFrom, sc.lastEnd, sc.base)
	if sc.patHit >= from {
		return sc.patHit, sc.patIdx
	}
	pf := sc.pf
	if pf != nil && !pf.anchor {
		pf = nil
	}
	best, idx, wait := pats.first(sc.buf[from-sc.base:], from, sc.stats.Index, pf)
	if best < 0 {
		sc.patHit, sc.patFrom = -1, max(from, sc.end-int64(pats.maxLen)+1)
		if wait >= 0 {
			sc.patFrom = from + int64(wait)
		}
		return -1, 0
	}
	sc.patHit, sc.patIdx = from+int64(best), idx
	return sc.patHit, idx
}

// findKey returns the offset of the next tracked key written as the value
// of an "accessKeyId" member, at or after sc.next and before buf[limit].
// It looks for the rare pair "sK" of the member name, so one pass serves
// any number of keys.
func (sc *objectScan) findKey(limit int) (int64, bool) {
	b := sc.buf
	for {
		i := int(sc.next - sc.base)
		if i >= limit {
			return 0, false
		}
		var k int
		if sc.pf != nil {
			k = sc.keyNameVia(i, limit)
		} else {
			k = keyNamePos(b, i, limit)
		}
		if k < 0 {
			sc.next = sc.base + int64(limit)
			return 0, false
		}
		v, state := keyValueAt(b, k)
		switch state {
		case valueIncomplete:
			sc.next = sc.base + int64(k)
			return 0, false
		case valueFound:
			sc.next = sc.base + int64(v) + keyIDLen
			sc.stats.Index.note(b[v:v+keyIDLen], sc.base+int64(v))
			if sc.set.tracks(b[v:v+keyIDLen], sc.prefix) {
				return sc.base + int64(v), true
			}
		default:
			sc.next = sc.base + int64(k) + 1
		}
	}
}

// keyNameVia is keyNamePos with the pair finder.
func (sc *objectScan) keyNameVia(from, limit int) int {
	from = max(from, 1)
	if from >= limit {
		return -1
	}
	p := sc.pf.find(sc.buf, sc.base, 0, sc.base+int64(from-1), sc.base+int64(limit))
	if p < 0 {
		return -1
	}
	return int(p-sc.base) + 1
}

// keyNamePos returns the index of the first 'K' in b[from:limit] that
// follows an 's', as in "accessKeyId", or -1.
func keyNamePos(b []byte, from, limit int) int {
	if from == 0 {
		from = 1 // a 'K' at 0 follows nothing
	}
	if from >= limit {
		return -1
	}
	j := indexPair(b[from-1:limit], 's', 'K')
	if j < 0 {
		return -1
	}
	return from + j
}

const (
	valueNone = iota
	valueIncomplete
	valueFound
)

// keyValueAt checks whether the 'K' at b[k] is in `"accessKeyId":"` followed
// by a 20-byte string, and returns where that string starts. It allows a
// little white space around the colon.
func keyValueAt(b []byte, k int) (v, state int) {
	const before, maxSpace, whole = len(`"access`), 16, `"accessKeyId":"`
	// As CloudTrail writes it, with no white space.
	if k >= before && len(b)-k > len(whole)-before+keyIDLen &&
		string(b[k-before:k-before+len(whole)]) == whole {
		if v = k - before + len(whole); b[v+keyIDLen] == '"' {
			return v, valueFound
		}
		return 0, valueNone
	}
	if k < before || string(b[k-before:k]) != `"access` {
		return 0, valueNone
	}
	i := k
	for _, want := range []string{`KeyId"`, ":", `"`} {
		for n := 0; i < len(b) && isSpace(b[i]) && want != `KeyId"`; n++ {
			if n == maxSpace {
				return 0, valueNone
			}
			i++
		}
		if len(b)-i < len(want) {
			return 0, valueIncomplete
		}
		if string(b[i:i+len(want)]) != want {
			return 0, valueNone
		}
		i += len(want)
	}
	if len(b)-i <= keyIDLen {
		return 0, valueIncomplete
	}
	if b[i+keyIDLen] != '"' {
		return 0, valueNone
	}
	return i, valueFound
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// tracks reports whether the 20 bytes w are a tracked key. A bit filter
// turns most of the keys in a log away before the map lookup.
func (ks *keySet) tracks(w []byte, prefix [2]uint32) bool {
	p := binary.LittleEndian.Uint32(w)
	if p != prefix[0] && p != prefix[1] {
		return false
	}
	if !ks.filter.has(keyHash(w)) {
		return false
	}
	_, ok := ks.keys.get([keyIDLen]byte(w))
	return ok
}

// keyHash maps a key ID to the bits of a filter, from the random
// characters after the prefix and the account.
func keyHash(w []byte) uint64 {
	return (binary.LittleEndian.Uint64(w[12:20]) * 0x9e3779b97f4a7c15) >> 48
}
