package world

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/binary"
	"strings"
	"sync"
	"time"

	"github.com/keyleak/keyleak/awsops"
)

// Credentials is an AWS credential set: a long-term key (AKIA) or a session (ASIA with token).
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
}

// principalKind is who a key acts as.
type principalKind int

const (
	kindRoot        principalKind = iota // the world's admin key of an account
	kindUser                             // an IAM user's long-term key
	kindUserSession                      // sts:GetSessionToken credentials of an IAM user
	kindFederated                        // sts:GetFederationToken credentials of an IAM user
	kindRoleSession                      // sts:AssumeRole credentials
)

// credential is everything the gateway knows about one access key.
type credential struct {
	Credentials
	Account  string
	Kind     principalKind
	Inactive bool
	Deleted  bool // deleted key, or its user or role deleted; kept to attribute failed calls

	UserName string // kindUser, kindUserSession, kindFederated: the IAM user

	RoleARN        string // kindRoleSession
	RoleID         string // AROA… of the role
	SessionName    string // role session name, or federated user name
	SourceIdentity string

	Console    bool      // a console session (SignIn)
	ParentKey  string    // sessions: the key that called STS
	ForwardKey string    // the key put in requests to moto (a session's parent for GetSessionToken)
	Issued     time.Time // sessions
	Expires    time.Time // sessions
}

func (c *credential) temporary() bool {
	return c.Kind == kindUserSession || c.Kind == kindFederated || c.Kind == kindRoleSession
}

// roleName is the last path element of the role ARN.
func (c *credential) roleName() string {
	return c.RoleARN[strings.LastIndexByte(c.RoleARN, '/')+1:]
}

// keyStore holds the keys the gateway has seen issued.
type keyStore struct {
	mu   sync.RWMutex
	keys map[string]*credential
}

func newKeyStore() *keyStore { return &keyStore{keys: map[string]*credential{}} }

func (s *keyStore) get(id string) (credential, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	c, ok := s.keys[id]
	if !ok {
		return credential{}, false
	}
	return *c, true
}

func (s *keyStore) put(c credential) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys[c.AccessKeyID] = &c
}

func (s *keyStore) setInactive(id string, inactive bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.keys[id]; ok && c.Kind == kindUser {
		c.Inactive = inactive
	}
}

func (s *keyStore) delete(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.keys[id]; ok && c.Kind != kindRoot {
		c.Deleted = true
	}
}

// deleteUser marks every key and session of the user deleted.
func (s *keyStore) deleteUser(account, user string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.keys {
		if c.Account == account && c.UserName == user && c.Kind != kindRoot && c.Kind != kindRoleSession {
			c.Deleted = true
		}
	}
}

// deleteRole marks every session of the role deleted.
func (s *keyStore) deleteRole(account, role string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.keys {
		if c.Kind == kindRoleSession && c.Account == account && c.roleName() == role {
			c.Deleted = true
		}
	}
}

// reset forgets everything but the root keys.
func (s *keyStore) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, c := range s.keys {
		if c.Kind != kindRoot {
			delete(s.keys, id)
		}
	}
}

// newAccessKeyID mints an access key ID that encodes account the way AWS does since 2019
// (base32 of the characters after the prefix; account = bits 7..46 of the first 6 bytes).
func newAccessKeyID(prefix, account string) string {
	var n uint64
	for _, c := range account {
		n = n*10 + uint64(c-'0')
	}
	var b [10]byte
	_, _ = rand.Read(b[:])
	var head [8]byte
	// Bit 47 is set in every key ID AWS has minted since 2019; the
	// account sits below it, shifted by 7.
	binary.BigEndian.PutUint64(head[:], 1<<47|n<<7|uint64(b[0]&0x7f))
	copy(b[:6], head[2:])
	return prefix + base32.StdEncoding.EncodeToString(b[:])
}

// NewAccessKeyID is an access key ID of account that no one was issued:
// a key IAM and CloudTrail have never seen.
func NewAccessKeyID(prefix, account string) string { return newAccessKeyID(prefix, account) }

// accountFromAccessKeyID decodes the account from an AKIA/ASIA key ID minted as AWS does.
func accountFromAccessKeyID(id string) (string, bool) {
	k, err := awsops.ParseAccessKeyID(id)
	if err != nil {
		return "", false
	}
	return k.Account()
}

func randomSecret(n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}
