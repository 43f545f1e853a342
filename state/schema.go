package state

// The database is one bbolt file. Its bucket tree, at schema version 4:
//
//	meta/
//	    version                     → uint64 BE: the schema version
//	    incident-seq/
//	        <year "2026">           → uint64 BE: the last incident number used that year
//	incidents/
//	    <incident ID>               → JSON Incident (its owner as data since v3)
//	keys/
//	    <access key ID>             → incident ID of the key's open incident
//	timeline/
//	    <incident ID>/
//	        <seq uint64 BE>         → JSON Event (append-only)
//	actions/
//	    <action ID>                 → JSON Action
//	incident-actions/               (since v2)
//	    <incident ID>/
//	        <number uint64 BE>      → action ID
//	spaces/                         (since v2)
//	    <Chat space name>           → incident ID of the space's incident
//	findings/
//	    <incident ID>/
//	        <FindingKind>           → JSON document of that kind (state/findings.go)
//	outbox/
//	    <seq uint64 BE>             → JSON Message waiting for delivery
//	outbox-keys/
//	    <channel>/<idempotency key> → seq uint64 BE, enqueued at unix ns int64 BE (since v4)
//	                                  (kept after delivery, so a key enqueues once per channel,
//	                                  until PruneOutboxKeys forgets it)
//	dead/
//	    <seq uint64 BE>             → JSON Message that failed permanently
//	seen/
//	    <source>/<event ID>         → expiry, unix nanoseconds int64 BE; for a delivery handled with
//	                                  BeginDelivery, then when it began (int64 BE), answered (1 byte)
//	                                  and the answer
//
// Sequence keys are 8-byte big-endian so that bbolt's byte order is their
// numeric order. Migrations run in order, each in its own transaction, when
// the store is opened; a file written by a newer keyleak is refused.

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

var (
	bucketMeta            = []byte("meta")
	bucketIncidentSeq     = []byte("incident-seq")
	bucketIncidents       = []byte("incidents")
	bucketKeys            = []byte("keys")
	bucketTimeline        = []byte("timeline")
	bucketActions         = []byte("actions")
	bucketIncidentActions = []byte("incident-actions")
	bucketSpaces          = []byte("spaces")
	bucketFindings        = []byte("findings")
	bucketOutbox          = []byte("outbox")
	bucketOutboxKeys      = []byte("outbox-keys")
	bucketDead            = []byte("dead")
	bucketSeen            = []byte("seen")

	keyVersion = []byte("version")
)

// SchemaVersion is the version this build of keyleak reads and writes.
const SchemaVersion = 4

type migration struct {
	version uint64
	name    string
	apply   func(tx *bolt.Tx) error
}

// migrations lists every schema change in order. Append only.
func migrations() []migration {
	return []migration{
		{1, "create the buckets", migrateCreateBuckets},
		{2, "index actions by incident and incidents by Chat space", migrateIndexes},
		{3, "incident owners as data, not display text", migrateOwners},
		{4, "stamp idempotency keys with a time, so they can be pruned", migrateKeyStamps},
	}
}

func migrateCreateBuckets(tx *bolt.Tx) error {
	for _, name := range [][]byte{
		bucketMeta, bucketIncidents, bucketKeys, bucketTimeline, bucketActions,
		bucketFindings, bucketOutbox, bucketOutboxKeys, bucketDead, bucketSeen,
	} {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	_, err := tx.Bucket(bucketMeta).CreateBucketIfNotExists(bucketIncidentSeq)
	return err
}

// migrateIndexes adds incident-actions and spaces, so that an incident's
// actions and a space's incident are found without scanning, and fills
// them from actions/ and incidents/.
func migrateIndexes(tx *bolt.Tx) error {
	spaces, err := tx.CreateBucketIfNotExists(bucketSpaces)
	if err != nil {
		return err
	}
	err = tx.Bucket(bucketIncidents).ForEach(func(k, v []byte) error {
		var inc Incident
		if err := unmarshal(v, &inc); err != nil {
			return fmt.Errorf("incident %s: %w", k, err)
		}
		if inc.ChatSpace == "" {
			return nil
		}
		return spaces.Put([]byte(inc.ChatSpace), []byte(inc.ID))
	})
	if err != nil {
		return err
	}
	idx, err := tx.CreateBucketIfNotExists(bucketIncidentActions)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketActions).ForEach(func(k, v []byte) error {
		var a Action
		if err := unmarshal(v, &a); err != nil {
			return fmt.Errorf("action %s: %w", k, err)
		}
		return indexAction(idx, a)
	})
}

// migrateOwners rewrites the owner of each incident, which versions 1 and 2
// kept as display text ("ci-deploy-user", "root (the account's root
// user)", "temporary credential") beside owner_arn, as an Owner.
func migrateOwners(tx *bolt.Tx) error {
	b := tx.Bucket(bucketIncidents)
	updates := map[string][]byte{}
	err := b.ForEach(func(k, v []byte) error {
		var doc map[string]json.RawMessage
		if err := json.Unmarshal(v, &doc); err != nil {
			return fmt.Errorf("incident %s: %w", k, err)
		}
		var text, arn string
		if raw, ok := doc["owner"]; ok && json.Unmarshal(raw, &text) != nil {
			return nil // not text: written by a newer build already
		}
		if raw, ok := doc["owner_arn"]; ok {
			if err := json.Unmarshal(raw, &arn); err != nil {
				return fmt.Errorf("incident %s: owner_arn: %w", k, err)
			}
		}
		delete(doc, "owner_arn")
		delete(doc, "owner")
		if o := ownerFromText(text, arn); o.Known() {
			raw, err := json.Marshal(o)
			if err != nil {
				return err
			}
			doc["owner"] = raw
		}
		out, err := json.Marshal(doc)
		if err != nil {
			return err
		}
		updates[string(k)] = out
		return nil
	})
	if err != nil {
		return err
	}
	for k, v := range updates {
		if err := b.Put([]byte(k), v); err != nil {
			return err
		}
	}
	return nil
}

// migrateKeyStamps gives every idempotency key the time of its message
// (if still pending) or of the migration, so that PruneOutboxKeys ages it.
func migrateKeyStamps(tx *bolt.Tx) error {
	keys, out := tx.Bucket(bucketOutboxKeys), tx.Bucket(bucketOutbox)
	now := time.Now()
	updates := map[string][]byte{}
	err := keys.ForEach(func(k, v []byte) error {
		if len(v) != 8 {
			return nil
		}
		at := now
		var m Message
		if raw := out.Get(v); raw != nil && unmarshal(raw, &m) == nil {
			at = m.CreatedAt
		}
		updates[string(k)] = keyStamp(binary.BigEndian.Uint64(v), at)
		return nil
	})
	if err != nil {
		return err
	}
	for k, v := range updates {
		if err := keys.Put([]byte(k), v); err != nil {
			return err
		}
	}
	return nil
}

// ownerFromText reads the display text of versions 1 and 2.
func ownerFromText(text, arn string) Owner {
	switch {
	case text == "" && arn == "":
		return Owner{}
	case text == "root" || strings.HasPrefix(text, "root (") || strings.HasSuffix(arn, ":root"):
		return Owner{Kind: OwnerRoot, ARN: arn}
	case text == "temporary credential":
		return Owner{Kind: OwnerTemporary, ARN: arn}
	}
	name := text
	if name == "" {
		name = arn[strings.LastIndexByte(arn, '/')+1:]
	}
	return Owner{Kind: OwnerUser, UserName: name, ARN: arn}
}

func indexAction(idx *bolt.Bucket, a Action) error {
	n, err := actionNumber(a.ID)
	if err != nil {
		return err
	}
	b, err := idx.CreateBucketIfNotExists([]byte(a.Incident))
	if err != nil {
		return err
	}
	return b.Put(u64(n), []byte(a.ID))
}

// actionNumber extracts N from an action ID "KL-2026-0007-AN".
func actionNumber(id string) (uint64, error) {
	i := strings.LastIndex(id, "-A")
	if i < 0 {
		return 0, fmt.Errorf("action ID %q: %w", id, ErrInvalid)
	}
	n, err := strconv.ParseUint(id[i+2:], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("action ID %q: %w", id, ErrInvalid)
	}
	return n, nil
}

// migrate brings the file to version target, applying each pending
// migration in its own transaction.
func migrate(db *bolt.DB, target uint64) error {
	var current uint64
	if err := db.View(func(tx *bolt.Tx) error {
		current = schemaVersion(tx)
		return nil
	}); err != nil {
		return err
	}
	if current > SchemaVersion {
		return fmt.Errorf("database schema version %d is newer than this keyleak's %d: %w", current, SchemaVersion, ErrSchema)
	}
	for _, m := range migrations() {
		if m.version <= current || m.version > target {
			continue
		}
		err := db.Update(func(tx *bolt.Tx) error {
			if err := m.apply(tx); err != nil {
				return err
			}
			return tx.Bucket(bucketMeta).Put(keyVersion, u64(m.version))
		})
		if err != nil {
			return fmt.Errorf("migrate schema to version %d (%s): %w", m.version, m.name, err)
		}
	}
	return nil
}

func schemaVersion(tx *bolt.Tx) uint64 {
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		return 0
	}
	v := meta.Get(keyVersion)
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

func u64(n uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, n)
	return b
}
