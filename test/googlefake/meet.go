package googlefake

import (
	"crypto/rand"
	"net/http"
	"strings"
	"time"
)

// MeetSpace is a Meet meeting space.
type MeetSpace struct {
	Name             string // spaces/{id}
	MeetingURI       string // https://meet.google.com/{code}
	MeetingCode      string // abc-mnop-xyz
	AccessType       string
	EntryPointAccess string
	CreateTime       time.Time
}

type meetState struct {
	spaces []*MeetSpace
	byName map[string]*MeetSpace
	byCode map[string]*MeetSpace
}

func newMeetState() meetState {
	return meetState{byName: make(map[string]*MeetSpace), byCode: make(map[string]*MeetSpace)}
}

// MeetSpaces returns the Meet spaces in creation order.
func (s *Server) MeetSpaces() []MeetSpace {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]MeetSpace, 0, len(s.meet.spaces))
	for _, sp := range s.meet.spaces {
		out = append(out, *sp)
	}
	return out
}

// meetingCode returns a code shaped like Meet's: three groups of 3, 4 and 3
// lowercase letters.
func meetingCode() string {
	b := make([]byte, 10)
	_, _ = rand.Read(b) // never fails
	for i := range b {
		b[i] = 'a' + b[i]%26
	}
	return string(b[:3]) + "-" + string(b[3:7]) + "-" + string(b[7:])
}

func (s *Server) meetCreateSpace(c *call) (any, *apiError) {
	var body struct {
		Config *struct {
			AccessType       string `json:"accessType"`
			EntryPointAccess string `json:"entryPointAccess"`
		} `json:"config"`
	}
	if err := decodeBody(c, &body); err != nil {
		return nil, err
	}
	// Meet returns the organisation's default for an unset access type.
	access, entry := "TRUSTED", "ALL"
	if body.Config != nil {
		if body.Config.AccessType != "" && body.Config.AccessType != "ACCESS_TYPE_UNSPECIFIED" {
			access = body.Config.AccessType
		}
		if body.Config.EntryPointAccess != "" && body.Config.EntryPointAccess != "ENTRY_POINT_ACCESS_UNSPECIFIED" {
			entry = body.Config.EntryPointAccess
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	code := meetingCode()
	for s.meet.byCode[code] != nil {
		code = meetingCode()
	}
	sp := &MeetSpace{
		Name: "spaces/" + newID(12), MeetingURI: "https://meet.google.com/" + code, MeetingCode: code,
		AccessType: access, EntryPointAccess: entry, CreateTime: s.cfg.Now().UTC(),
	}
	s.meet.spaces = append(s.meet.spaces, sp)
	s.meet.byName[sp.Name] = sp
	s.meet.byCode[code] = sp
	return meetSpaceJSON(sp), nil
}

func meetSpaceJSON(sp *MeetSpace) map[string]any {
	return map[string]any{
		"name": sp.Name, "meetingUri": sp.MeetingURI, "meetingCode": sp.MeetingCode,
		"config": map[string]any{"accessType": sp.AccessType, "entryPointAccess": sp.EntryPointAccess},
	}
}

func (s *Server) meetGetSpace(c *call) (any, *apiError) {
	name := strings.TrimPrefix(c.path, "v2/")
	s.mu.Lock()
	defer s.mu.Unlock()
	sp := s.meet.byName[name]
	if sp == nil {
		// The meeting code is an alias of the space name.
		sp = s.meet.byCode[strings.TrimPrefix(name, "spaces/")]
	}
	if sp == nil {
		return nil, newAPIError(http.StatusNotFound, "meeting space %s not found", name)
	}
	return meetSpaceJSON(sp), nil
}
