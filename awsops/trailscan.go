package awsops

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"sync"
	"time"

	"github.com/klauspost/compress/gzip"
)

// Errors of the CloudTrail log scanner, checked with errors.Is.
var (
	ErrObjectTooLarge  = errors.New("decompressed log object exceeds the size limit")
	ErrRecordTooLarge  = errors.New("log record exceeds the size limit")
	ErrMalformedRecord = errors.New("malformed log record")
	ErrNotTrailLog     = errors.New(`not a CloudTrail log object (gzip or plain {"Records":[…]})`)
)

// TrailRecord is one CloudTrail event as written in log files, with the
// fields keyleak uses.
type TrailRecord struct {
	EventVersion        string          `json:"eventVersion"`
	EventTime           time.Time       `json:"eventTime"`
	EventSource         string          `json:"eventSource"`
	EventName           string          `json:"eventName"`
	AWSRegion           string          `json:"awsRegion"`
	SourceIPAddress     string          `json:"sourceIPAddress"`
	UserAgent           string          `json:"userAgent"`
	UserIdentity        TrailIdentity   `json:"userIdentity"`
	RequestParameters   json.RawMessage `json:"requestParameters"`
	ResponseElements    json.RawMessage `json:"responseElements"`
	AdditionalEventData json.RawMessage `json:"additionalEventData"`
	ErrorCode           string          `json:"errorCode"`
	ErrorMessage        string          `json:"errorMessage"`
	RequestID           string          `json:"requestID"`
	EventID             string          `json:"eventID"`
	EventType           string          `json:"eventType"`
	EventCategory       string          `json:"eventCategory"`
	ReadOnly            bool            `json:"readOnly"`
	ManagementEvent     bool            `json:"managementEvent"`
	RecipientAccountID  string          `json:"recipientAccountId"`
	Resources           []TrailResource `json:"resources"`
}

// TrailIdentity is a record's userIdentity: who made the call, and with
// which access key.
type TrailIdentity struct {
	Type           string              `json:"type"`
	PrincipalID    string              `json:"principalId"`
	ARN            string              `json:"arn"`
	AccountID      string              `json:"accountId"`
	AccessKeyID    string              `json:"accessKeyId"`
	UserName       string              `json:"userName"`
	InvokedBy      string              `json:"invokedBy"`
	SessionContext TrailSessionContext `json:"sessionContext"`
}

// TrailSessionContext describes the session behind temporary credentials.
type TrailSessionContext struct {
	SessionIssuer struct {
		Type        string `json:"type"`
		PrincipalID string `json:"principalId"`
		ARN         string `json:"arn"`
		AccountID   string `json:"accountId"`
		UserName    string `json:"userName"`
	} `json:"sessionIssuer"`
	Attributes struct {
		CreationDate     string `json:"creationDate"`
		MFAAuthenticated string `json:"mfaAuthenticated"`
	} `json:"attributes"`
	SourceIdentity string `json:"sourceIdentity"`
}

// TrailResource is one entry of a record's resources list.
type TrailResource struct {
	ARN       string `json:"ARN"`
	AccountID string `json:"accountId"`
	Type      string `json:"type"`
}

// CredentialsAccessKeyID returns responseElements.credentials.accessKeyId:
// the temporary key an STS call (AssumeRole, GetSessionToken…) issued, or
// "" when the record has none.
func (r *TrailRecord) CredentialsAccessKeyID() string {
	if len(r.ResponseElements) == 0 || r.ResponseElements[0] != '{' {
		return ""
	}
	var resp struct {
		Credentials struct {
			AccessKeyID string `json:"accessKeyId"`
		} `json:"credentials"`
	}
	if json.Unmarshal(r.ResponseElements, &resp) != nil {
		return ""
	}
	return resp.Credentials.AccessKeyID
}

// TrailMatch is a record that used or issued a tracked key.
type TrailMatch struct {
	Object      string // name of the log object
	Offset      int64  // of the record in the decompressed object
	AccessKeyID string // the tracked key: the caller's, else the issued one
	Record      TrailRecord
}

// TrailScanOptions bound the work and memory of a scan. Zero fields take
// the defaults.
type TrailScanOptions struct {
	// MaxObjectBytes caps the decompressed size of one object (default
	// 1 GiB); beyond it the object fails with ErrObjectTooLarge.
	MaxObjectBytes int64
	// MaxRecordBytes caps a record that holds a tracked key (default
	// 256 KiB, the size of CloudTrail's largest events); a larger one fails
	// the object with ErrRecordTooLarge. A scan holds at most 4 times this
	// much decompressed log, so its memory is about 1.2 MiB by default.
	MaxRecordBytes int
}

const readSize = 64 << 10

func (o TrailScanOptions) withDefaults() TrailScanOptions {
	if o.MaxObjectBytes <= 0 {
		o.MaxObjectBytes = 1 << 30
	}
	if o.MaxRecordBytes <= 0 {
		o.MaxRecordBytes = 256 << 10
	}
	return o
}

// TrailScanner finds the CloudTrail records of a set of access keys in log
// objects ({"Records":[…]}, gzip or plain). A record matches when a tracked
// key is its userIdentity.accessKeyId or its
// responseElements.credentials.accessKeyId.
//
// It decompresses in chunks and searches the bytes, in one pass whatever
// the number of keys, for "accessKeyId" members whose value is a tracked
// key. Around each it finds the record (see locate) and decodes that record
// alone, which decides. It relies on what holds for every log CloudTrail
// writes: records begin alike (with "eventVersion"), and objects shaped
// like records appear only as records. A key written with JSON escapes is
// not found. It is safe for concurrent use.
type TrailScanner struct {
	keys    map[[accessKeyIDLen]byte]struct{}
	filter  [64]uint64 // bit keyHash(k) is set for every tracked key k
	prefix  [2]uint32  // AKIA and ASIA, little-endian
	opts    TrailScanOptions
	workers sync.Pool // of *trailWorker
}

// NewTrailScanner returns a scanner for the given keys.
func NewTrailScanner(keys []KeyID, opts TrailScanOptions) *TrailScanner {
	s := &TrailScanner{
		keys: make(map[[accessKeyIDLen]byte]struct{}, len(keys)),
		opts: opts.withDefaults(),
	}
	s.prefix[0] = binary.LittleEndian.Uint32([]byte("AKIA"))
	s.prefix[1] = binary.LittleEndian.Uint32([]byte("ASIA"))
	for _, k := range keys {
		if !k.IsZero() {
			s.keys[[accessKeyIDLen]byte([]byte(k.String()))] = struct{}{}
			h := keyHash([]byte(k.String()))
			s.filter[h/64] |= 1 << (h % 64)
		}
	}
	s.workers.New = func() any { return &trailWorker{br: bufio.NewReaderSize(nil, 32<<10)} }
	return s
}

// ObjectStats describes the scan of one object.
type ObjectStats struct {
	Bytes      int64 // decompressed
	Candidates int   // records decoded because a tracked key appeared in them
	Matches    int
}

// trailWorker holds the reusable buffers of one scan.
type trailWorker struct {
	br  *bufio.Reader
	zr  gzip.Reader
	buf []byte
}

// ScanObject scans one log object read from r and calls fn, in order, for
// every matching record. name identifies the object in errors and matches.
// An error from fn stops the scan and is returned as is.
func (s *TrailScanner) ScanObject(ctx context.Context, name string, r io.Reader, fn func(TrailMatch) error) (ObjectStats, error) {
	w := s.workers.Get().(*trailWorker)
	defer s.workers.Put(w)
	sc := objectScan{TrailScanner: s, name: name, fn: fn}
	err := sc.run(ctx, w, r)
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

// objectScan is the state of one object's scan. Offsets are absolute in
// the decompressed object; buf[0] is at offset base.
type objectScan struct {
	*TrailScanner
	name  string
	fn    func(TrailMatch) error
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
	tracked    int64 // the tracker has seen the record up to here
	tr         objTracker
}

func (sc *objectScan) run(ctx context.Context, w *trailWorker, r io.Reader) error {
	w.br.Reset(r)
	head, err := w.br.Peek(2)
	var src io.WriterTo = w.br
	switch {
	case len(head) == 2 && head[0] == 0x1f && head[1] == 0x8b:
		if err := w.zr.Reset(w.br); err != nil {
			return fmt.Errorf("read gzip header: %w", err)
		}
		src = &w.zr
	case err != nil && err != io.EOF:
		return fmt.Errorf("read: %w", err)
	}
	sc.buf = w.buf[:0]
	defer func() { w.buf = sc.buf[:0] }()
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
		n := copy(sc.buf[len(sc.buf):cap(sc.buf)], p)
		p = p[n:]
		sc.buf = sc.buf[:len(sc.buf)+n]
		sc.end += int64(n)
		if sc.end > sc.opts.MaxObjectBytes {
			return fmt.Errorf("%w: more than %d bytes", ErrObjectTooLarge, sc.opts.MaxObjectBytes)
		}
		if err := sc.process(false); err != nil {
			return err
		}
	}
	return nil
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
		v, ok := sc.findKey()
		if !ok {
			return nil
		}
		start, ok, err := sc.locate(v)
		if err != nil {
			return err
		}
		if !ok || !inKeyField(sc.buf, int(start-sc.base), int(v-sc.base)-1) {
			continue // not in a record, or not where a record names its key
		}
		sc.completing, sc.recStart, sc.tracked = true, start, start
		sc.tr = objTracker{}
		if !sc.trackRecord() {
			return nil
		}
		if err := sc.emit(); err != nil {
			return err
		}
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
	var rec TrailRecord
	if err := json.Unmarshal(sc.buf[start-sc.base:end-sc.base], &rec); err != nil {
		return fmt.Errorf("%w at offset %d: %w", ErrMalformedRecord, start, err)
	}
	key, ok := sc.matchKey(&rec)
	if !ok {
		return nil
	}
	sc.stats.Matches++
	if err := sc.fn(TrailMatch{Object: sc.name, Offset: start, AccessKeyID: key, Record: rec}); err != nil {
		sc.fnErr = err
		return errCallback
	}
	return nil
}

// matchKey returns the tracked key that rec used or issued.
func (s *TrailScanner) matchKey(rec *TrailRecord) (string, bool) {
	for _, k := range []string{rec.UserIdentity.AccessKeyID, rec.CredentialsAccessKeyID()} {
		if len(k) == accessKeyIDLen {
			if _, ok := s.keys[[accessKeyIDLen]byte([]byte(k))]; ok {
				return k, true
			}
		}
	}
	return "", false
}

// findKey returns the offset of the next tracked key written as the value
// of an "accessKeyId" member, at or after sc.next. It looks for the rare
// byte 'K' of the member name, so one pass serves any number of keys.
func (sc *objectScan) findKey() (int64, bool) {
	b := sc.buf
	for {
		i := int(sc.next - sc.base)
		k := bytes.IndexByte(b[i:], 'K')
		if k < 0 {
			sc.next = sc.end
			return 0, false
		}
		k += i
		v, state := keyValueAt(b, k)
		switch state {
		case valueIncomplete:
			sc.next = sc.base + int64(k)
			return 0, false
		case valueFound:
			sc.next = sc.base + int64(v) + accessKeyIDLen
			if sc.tracks(b[v : v+accessKeyIDLen]) {
				return sc.base + int64(v), true
			}
		default:
			sc.next = sc.base + int64(k) + 1
		}
	}
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
	const before, maxSpace = len(`"access`), 16
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
	if len(b)-i <= accessKeyIDLen {
		return 0, valueIncomplete
	}
	if b[i+accessKeyIDLen] != '"' {
		return 0, valueNone
	}
	return i, valueFound
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// tracks reports whether the 20 bytes w are a tracked key. A bit filter
// turns most of the keys in a log away before the map lookup.
func (s *TrailScanner) tracks(w []byte) bool {
	p := binary.LittleEndian.Uint32(w)
	if p != s.prefix[0] && p != s.prefix[1] {
		return false
	}
	if h := keyHash(w); s.filter[h/64]&(1<<(h%64)) == 0 {
		return false
	}
	_, ok := s.keys[[accessKeyIDLen]byte(w)]
	return ok
}

// keyHash maps a key ID to 12 bits, from the random characters after the
// prefix and the account.
func keyHash(w []byte) uint64 {
	return (binary.LittleEndian.Uint64(w[12:20]) * 0x9e3779b97f4a7c15) >> 52
}

// locate returns the start of the record around offset v. Records are the
// elements of the Records array. An object is known to be an array element
// when '[' or ',' precedes it, but not at which depth; so locate walks back
// over the objects that start before v and takes the outermost array
// element that contains v. It stops at an array element that does not
// contain it and begins with the same member: the previous record, as the
// records of a log all begin with "eventVersion". Hence a record-shaped
// object planted in a parameter is found inside its record, unless an
// array planted there holds two objects that begin alike.
//
// With no record found although the walk was cut short by MaxRecordBytes
// (or by the tracking budget), the record is too large to handle: an error.
func (sc *objectScan) locate(v int64) (int64, bool, error) {
	b := sc.buf
	floor := max(sc.base, sc.lastEnd)
	lo := int(max(floor, v-int64(sc.opts.MaxRecordBytes)) - sc.base)
	target, hi := int(v-sc.base), int(v-sc.base)
	found := -1
	budget := 2 * sc.opts.MaxRecordBytes // bytes tracked, against adversarial input
	for hi > lo && budget > 0 {
		o := bytes.LastIndexByte(b[lo:hi], '{')
		if o < 0 {
			break
		}
		o += lo
		hi = o
		if !objectStart(b, o) || !arrayElement(b, lo, o) {
			continue
		}
		var t objTracker
		i, closed := t.advance(b, o, target)
		budget -= i - o
		if !closed && i == target {
			found, target = o, o // o contains the best so far
		} else if found >= 0 && bytes.Equal(firstMember(b, o), firstMember(b, found)) {
			break
		}
	}
	if found < 0 && (budget <= 0 || sc.base+int64(lo) > floor) {
		return 0, false, fmt.Errorf("%w: no record starts within %d bytes before the tracked key at offset %d", ErrRecordTooLarge, sc.opts.MaxRecordBytes, v)
	}
	return sc.base + int64(found), found >= 0, nil
}

// firstMember returns the first member name of the object at b[o], with
// its quotes, when it is short and unescaped (nil otherwise).
func firstMember(b []byte, o int) []byte {
	i := o + 1
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	n := bytes.IndexAny(b[i+1:min(len(b), i+64)], `"\`)
	if n < 0 || b[i+1+n] != '"' {
		return nil
	}
	return b[i : i+n+2]
}

// inKeyField reports whether the string at b[q] lies in the record at b[c]
// as userIdentity.accessKeyId or responseElements.credentials.accessKeyId,
// the only members that make a record match: keys named elsewhere (as
// request parameters, say) do not cost a decoding. Decoding still checks.
func inKeyField(b []byte, c, q int) bool {
	var names [3][]byte // the last member named at depths 1 and 2
	depth := 0
	for i := c; i < q; i++ {
		switch b[i] {
		case '"':
			end := stringEnd(b, i+1, q)
			if end < 0 {
				return false
			}
			j := end + 1
			for j < q && isSpace(b[j]) {
				j++
			}
			if depth >= 0 && depth < len(names) && j < q && b[j] == ':' {
				names[depth] = b[i : end+1]
			}
			i = end
		case '{', '[':
			depth++
		case '}', ']':
			depth--
		}
	}
	switch depth {
	case 2:
		return string(names[1]) == `"userIdentity"`
	case 3:
		return string(names[1]) == `"responseElements"` && string(names[2]) == `"credentials"`
	}
	return false
}

// stringEnd returns the index of the quote that ends the string whose
// contents start at b[i], looking before b[to]; -1 if there is none.
func stringEnd(b []byte, i, to int) int {
	for i < to {
		q := bytes.IndexByte(b[i:to], '"')
		if q < 0 {
			return -1
		}
		q += i
		if !oddBackslashes(b[i:q]) {
			return q
		}
		i = q + 1
	}
	return -1
}

// objectStart reports whether the '{' at b[o] opens an object outside any
// string: followed (after white space) by a quote and a letter, it cannot
// be inside a string of valid JSON, whose next quote would then end it.
func objectStart(b []byte, o int) bool {
	i := o + 1
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	if i+1 >= len(b) || b[i] != '"' {
		return false
	}
	c := b[i+1] | 0x20
	return c >= 'a' && c <= 'z'
}

// arrayElement reports whether '[' or ',' precedes b[o], white space aside.
func arrayElement(b []byte, lo, o int) bool {
	i := o - 1
	for i >= lo && isSpace(b[i]) {
		i--
	}
	return i >= lo && (b[i] == '[' || b[i] == ',')
}

// objTracker follows strings and nesting from the '{' that opens an object
// to the '}' that closes it. It trusts the text to be JSON; on other input
// it finds wrong boundaries, which decoding the record then catches.
type objTracker struct {
	depth    int
	inString bool
	escaped  bool // the previous byte was an escaping backslash
}

// advance tracks b[i:to] and stops right after the byte that closes the
// object, returning closed=true.
func (t *objTracker) advance(b []byte, i, to int) (next int, closed bool) {
	for i < to {
		if t.inString {
			if t.escaped {
				t.escaped = false
				i++
				continue
			}
			q := bytes.IndexByte(b[i:to], '"')
			if q < 0 {
				t.escaped = oddBackslashes(b[i:to])
				return to, false
			}
			q += i
			if !oddBackslashes(b[i:q]) {
				t.inString = false
			}
			i = q + 1
			continue
		}
		switch b[i] {
		case '"':
			t.inString = true
		case '{', '[':
			t.depth++
		case '}', ']':
			t.depth--
			if t.depth <= 0 {
				return i + 1, true
			}
		}
		i++
	}
	return i, false
}

// oddBackslashes reports whether s ends in an odd run of backslashes.
func oddBackslashes(s []byte) bool {
	n := 0
	for i := len(s) - 1; i >= 0 && s[i] == '\\'; i-- {
		n++
	}
	return n%2 == 1
}

// TrailObject is a log object to scan: its name and how to open it.
type TrailObject struct {
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
// worker holds about 4×MaxRecordBytes and 100 KiB of decompressor state
// (1.2 MiB by default), whatever the size of the objects.
func (s *TrailScanner) ScanObjects(ctx context.Context, objs iter.Seq[TrailObject], workers int, fn func(TrailMatch) error) (ScanStats, error) {
	scanCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu      sync.Mutex // guards everything below and calls to fn
		stats   ScanStats
		objErrs []error
		fnErr   error
	)
	locked := func(m TrailMatch) error {
		mu.Lock()
		defer mu.Unlock()
		if err := fn(m); err != nil {
			fnErr = cmp.Or(fnErr, err)
			cancel()
			return err
		}
		return nil
	}
	queue := make(chan TrailObject)
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

func (s *TrailScanner) scanOne(ctx context.Context, obj TrailObject, fn func(TrailMatch) error) (ObjectStats, error) {
	rc, err := obj.Open(ctx)
	if err != nil {
		return ObjectStats{}, fmt.Errorf("open trail object %s: %w", obj.Name, err)
	}
	defer rc.Close()
	return s.ScanObject(ctx, obj.Name, rc, fn)
}
