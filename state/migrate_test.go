package state

import (
	"encoding/binary"
	"errors"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TestMigrateFromVersion1 writes a file as schema version 1 left it (no
// incident-actions or spaces index) and checks that opening it with the
// current schema builds both indexes from the existing records.
func TestMigrateFromVersion1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v1.db")
	old, err := openVersion(path, Options{}, 1)
	if err != nil {
		t.Fatal(err)
	}
	inc, _ := report(t, old, "AKIAQYLPMN5HHHFPZAM2", alice, t0)
	// Version 1 stored incidents and actions in the same shape; write them
	// without the v2 indexes, as a v1 binary would have.
	err = old.db.Update(func(btx *bolt.Tx) error {
		inc.ChatSpace = "spaces/AAAAv1"
		if err := put(btx.Bucket(bucketIncidents), []byte(inc.ID), inc); err != nil {
			return err
		}
		for _, id := range []string{inc.ID + "-A1", inc.ID + "-A2"} {
			a := Action{ID: id, Incident: inc.ID, Name: "deactivate", Status: ActionRequested, RequestedAt: t0}
			if err := put(btx.Bucket(bucketActions), []byte(id), a); err != nil {
				return err
			}
		}
		if btx.Bucket(bucketIncidentActions) != nil || btx.Bucket(bucketSpaces) != nil {
			t.Error("version 1 file already has version 2 buckets")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}

	s, err := Open(path, Options{})
	if err != nil {
		t.Fatalf("open v1 file: %v", err)
	}
	defer s.Close()
	err = s.View(func(tx *Tx) error {
		if v := schemaVersion(tx.tx); v != SchemaVersion {
			t.Errorf("schema version = %d, want %d", v, SchemaVersion)
		}
		actions, err := tx.Actions(inc.ID)
		if err != nil {
			return err
		}
		if len(actions) != 2 || actions[0].ID != inc.ID+"-A1" || actions[1].ID != inc.ID+"-A2" {
			t.Errorf("actions after migration = %v, want A1 and A2", actions)
		}
		got, err := tx.IncidentBySpace("spaces/AAAAv1")
		if err != nil {
			return err
		}
		if got.ID != inc.ID {
			t.Errorf("incident by space = %s, want %s", got.ID, inc.ID)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestRefuseNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "future.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keyVersion, u64(SchemaVersion+1))
	}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err = Open(path, Options{LockTimeout: time.Second})
	if !errors.Is(err, ErrSchema) {
		t.Fatalf("open newer file: err = %v, want ErrSchema", err)
	}
}

// TestMigrateOwnersFromVersion2 writes incidents as version 2 kept their
// owners (display text beside owner_arn) and checks each becomes data.
func TestMigrateOwnersFromVersion2(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v2.db")
	old, err := openVersion(path, Options{}, 2)
	if err != nil {
		t.Fatal(err)
	}
	v2 := map[string]string{
		"KL-2026-0001": `{"id":"KL-2026-0001","access_key_id":"AKIAQYLPMN5HHHFPZAM2","status":"open","owner":"ci-deploy-user","owner_arn":"arn:aws:iam::123456789012:user/ci-deploy-user"}`,
		"KL-2026-0002": `{"id":"KL-2026-0002","access_key_id":"AKIAQYLPMN5HHHFPZAM3","status":"open","owner":"root (the account's root user)","owner_arn":"arn:aws:iam::123456789012:root"}`,
		"KL-2026-0003": `{"id":"KL-2026-0003","access_key_id":"ASIAQYLPMN5HHHFPZAM4","status":"open","owner":"temporary credential"}`,
		"KL-2026-0004": `{"id":"KL-2026-0004","access_key_id":"AKIAQYLPMN5HHHFPZAM5","status":"open"}`,
	}
	err = old.db.Update(func(btx *bolt.Tx) error {
		for id, doc := range v2 {
			if err := btx.Bucket(bucketIncidents).Put([]byte(id), []byte(doc)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatalf("open v2 file: %v", err)
	}
	defer s.Close()
	want := map[string]Owner{
		"KL-2026-0001": {Kind: OwnerUser, UserName: "ci-deploy-user", ARN: "arn:aws:iam::123456789012:user/ci-deploy-user"},
		"KL-2026-0002": {Kind: OwnerRoot, ARN: "arn:aws:iam::123456789012:root"},
		"KL-2026-0003": {Kind: OwnerTemporary},
		"KL-2026-0004": {},
	}
	err = s.View(func(tx *Tx) error {
		for id, w := range want {
			inc, err := tx.Incident(id)
			if err != nil {
				return err
			}
			if inc.Owner != w {
				t.Errorf("%s owner = %+v, want %+v", id, inc.Owner, w)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestMigrateKeyStampsFromVersion3: idempotency keys written without a
// time get their message's creation time, or else the migration's.
func TestMigrateKeyStampsFromVersion3(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v3.db")
	old, err := openVersion(path, Options{}, 3)
	if err != nil {
		t.Fatal(err)
	}
	err = old.db.Update(func(btx *bolt.Tx) error {
		m := Message{ID: 7, Key: "page:KL-2026-0001", Channel: "slack", CreatedAt: t0, NextAttempt: t0}
		if err := put(btx.Bucket(bucketOutbox), u64(7), m); err != nil {
			return err
		}
		if err := btx.Bucket(bucketOutboxKeys).Put([]byte("slack/page:KL-2026-0001"), u64(7)); err != nil {
			return err
		}
		return btx.Bucket(bucketOutboxKeys).Put([]byte("chat/gone"), u64(3))
	})
	if err != nil {
		t.Fatal(err)
	}
	old.Close()
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.View(func(tx *Tx) error {
		v := tx.bucket(bucketOutboxKeys).Get([]byte("slack/page:KL-2026-0001"))
		if len(v) != 16 || binary.BigEndian.Uint64(v) != 7 || !time.Unix(0, int64(binary.BigEndian.Uint64(v[8:]))).Equal(t0) {
			t.Errorf("pending message's key = %x, want ID 7 stamped with its creation time", v)
		}
		if v := tx.bucket(bucketOutboxKeys).Get([]byte("chat/gone")); len(v) != 16 || binary.BigEndian.Uint64(v) != 3 {
			t.Errorf("delivered message's key = %x, want ID 3 with a stamp", v)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
