package googlefake

import (
	"crypto/rand"
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// Chat's limits and formats.
const (
	maxMessageBytes      = 32000
	maxDisplayNameRunes  = 128
	clientIDPrefix       = "client-"
	maxClientIDSuffixLen = 63
	appCustomer          = "customers/my_customer"
)

// Space is a Chat space as the fake holds it.
type Space struct {
	Name        string // spaces/{id}
	DisplayName string
	SpaceType   string
	Customer    string
	RequestID   string
	URI         string
	CreateTime  time.Time
}

// Member is a membership of a Chat space.
type Member struct {
	Name  string // spaces/{space}/members/{member}
	User  string // as requested: users/{email} or users/{id}
	Type  string // HUMAN
	Role  string
	State string
}

// Message is a Chat message with its current text and card state.
type Message struct {
	Name       string // spaces/{space}/messages/{id}
	ClientID   string // clientAssignedMessageId, "" when none
	RequestID  string
	Thread     string // spaces/{space}/threads/{id}
	ThreadKey  string // the thread's key, "" when the thread has none
	Text       string
	CardsV2    json.RawMessage
	Updates    int // successful patches
	CreateTime time.Time
	UpdateTime time.Time
}

type chatSpace struct {
	Space
	members     []*Member
	messages    []*Message
	threadByKey map[string]string
	threads     map[string]bool
}

type chatState struct {
	spaces      []*chatSpace
	byName      map[string]*chatSpace
	byRequestID map[string]*chatSpace
}

func newChatState() chatState {
	return chatState{byName: make(map[string]*chatSpace), byRequestID: make(map[string]*chatSpace)}
}

// Spaces returns the Chat spaces in creation order.
func (s *Server) Spaces() []Space {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Space, 0, len(s.chat.spaces))
	for _, sp := range s.chat.spaces {
		out = append(out, sp.Space)
	}
	return out
}

// Members returns the memberships of a space ("spaces/…"), oldest first.
func (s *Server) Members(space string) []Member {
	s.mu.Lock()
	defer s.mu.Unlock()
	sp := s.chat.byName[space]
	if sp == nil {
		return nil
	}
	out := make([]Member, 0, len(sp.members))
	for _, m := range sp.members {
		out = append(out, *m)
	}
	return out
}

// Messages returns the messages of a space ("spaces/…"), oldest first.
func (s *Server) Messages(space string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	sp := s.chat.byName[space]
	if sp == nil {
		return nil
	}
	out := make([]Message, 0, len(sp.messages))
	for _, m := range sp.messages {
		c := *m
		c.CardsV2 = append(json.RawMessage(nil), m.CardsV2...)
		out = append(out, c)
	}
	return out
}

// newID returns a fresh random identifier of n characters from [A-Z2-7].
func newID(n int) string {
	id := rand.Text()
	for len(id) < n {
		id += rand.Text()
	}
	return id[:n]
}

func (s *Server) chatCreateSpace(c *call) (any, *apiError) {
	var body struct {
		DisplayName string `json:"displayName"`
		SpaceType   string `json:"spaceType"`
		Customer    string `json:"customer"`
		ImportMode  bool   `json:"importMode"`
	}
	if err := decodeBody(c, &body); err != nil {
		return nil, err
	}
	requestID := c.query.Get("requestId")
	s.mu.Lock()
	defer s.mu.Unlock()
	if sp, ok := s.chat.byRequestID[requestID]; ok && requestID != "" {
		return spaceJSON(&sp.Space), nil
	}
	switch {
	case body.SpaceType != "SPACE" && !body.ImportMode:
		return nil, newAPIError(http.StatusBadRequest, "space.space_type must be SPACE to create a named space")
	case strings.TrimSpace(body.DisplayName) == "":
		return nil, newAPIError(http.StatusBadRequest, "space.display_name is required for a named space")
	case len([]rune(body.DisplayName)) > maxDisplayNameRunes:
		return nil, newAPIError(http.StatusBadRequest, "space.display_name exceeds %d characters", maxDisplayNameRunes)
	case body.Customer != appCustomer:
		return nil, newAPIError(http.StatusBadRequest, "space.customer must be %q when authenticating as an app", appCustomer)
	}
	for _, sp := range s.chat.spaces {
		if strings.EqualFold(sp.DisplayName, body.DisplayName) {
			return nil, newAPIError(http.StatusConflict, "a space with display name %q already exists", body.DisplayName)
		}
	}
	id := "AAAA" + newID(7)
	sp := &chatSpace{
		Space: Space{
			Name: "spaces/" + id, DisplayName: body.DisplayName, SpaceType: body.SpaceType,
			Customer: body.Customer, RequestID: requestID, CreateTime: s.cfg.Now().UTC(),
			URI: "https://chat.google.com/room/" + id + "?cls=7",
		},
		threadByKey: make(map[string]string),
		threads:     make(map[string]bool),
	}
	// The app that creates a space with app authentication is its first member.
	sp.members = append(sp.members, &Member{Name: sp.Name + "/members/app", User: "users/app", Type: "BOT", Role: "ROLE_MEMBER", State: "JOINED"})
	s.chat.spaces = append(s.chat.spaces, sp)
	s.chat.byName[sp.Name] = sp
	if requestID != "" {
		s.chat.byRequestID[requestID] = sp
	}
	return spaceJSON(&sp.Space), nil
}

func spaceJSON(sp *Space) map[string]any {
	return map[string]any{
		"name": sp.Name, "displayName": sp.DisplayName, "spaceType": sp.SpaceType, "type": "ROOM",
		"spaceThreadingState": "THREADED_MESSAGES", "spaceHistoryState": "HISTORY_ON",
		"externalUserAllowed": false, "spaceUri": sp.URI, "createTime": sp.CreateTime.Format(time.RFC3339Nano),
	}
}

func (s *Server) chatGetSpace(c *call) (any, *apiError) {
	name := strings.TrimPrefix(c.path, "v1/")
	s.mu.Lock()
	defer s.mu.Unlock()
	sp := s.chat.byName[name]
	if sp == nil {
		return nil, newAPIError(http.StatusNotFound, "space %s not found", name)
	}
	return spaceJSON(&sp.Space), nil
}

// spaceOf returns the space a path such as v1/spaces/X/messages/Y belongs to.
// The caller holds s.mu.
func (s *Server) spaceOf(c *call) (*chatSpace, *apiError) {
	parts := strings.Split(c.path, "/")
	name := parts[1] + "/" + parts[2]
	sp := s.chat.byName[name]
	if sp == nil {
		return nil, newAPIError(http.StatusNotFound, "space %s not found", name)
	}
	return sp, nil
}

func (s *Server) chatCreateMember(c *call) (any, *apiError) {
	var body struct {
		Member *struct {
			Name string `json:"name"`
			Type string `json:"type"`
		} `json:"member"`
		GroupMember json.RawMessage `json:"groupMember"`
		Role        string          `json:"role"`
	}
	if err := decodeBody(c, &body); err != nil {
		return nil, err
	}
	switch {
	case body.GroupMember != nil:
		return nil, newAPIError(http.StatusForbidden, "groups can't be added to a space with app authentication")
	case body.Member == nil || !strings.HasPrefix(body.Member.Name, "users/") || len(body.Member.Name) == len("users/"):
		return nil, newAPIError(http.StatusBadRequest, "membership.member.name must be users/{user}")
	case body.Member.Type != "HUMAN":
		return nil, newAPIError(http.StatusBadRequest, "membership.member.type must be HUMAN to add a person")
	}
	user := strings.TrimPrefix(body.Member.Name, "users/")
	if at := strings.LastIndexByte(user, '@'); at >= 0 && s.cfg.WorkspaceDomain != "" &&
		!strings.EqualFold(user[at+1:], s.cfg.WorkspaceDomain) {
		return nil, newAPIError(http.StatusForbidden, "external users can't be added to a space with app authentication")
	}
	role := body.Role
	if role == "" || role == "MEMBERSHIP_ROLE_UNSPECIFIED" {
		role = "ROLE_MEMBER"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sp, aerr := s.spaceOf(c)
	if aerr != nil {
		return nil, aerr
	}
	for _, m := range sp.members {
		if strings.EqualFold(m.User, body.Member.Name) {
			return nil, newAPIError(http.StatusConflict, "%s is already a member of %s", body.Member.Name, sp.Name)
		}
	}
	m := &Member{Name: sp.Name + "/members/" + user, User: body.Member.Name, Type: "HUMAN", Role: role, State: "JOINED"}
	sp.members = append(sp.members, m)
	return map[string]any{
		"name": m.Name, "state": m.State, "role": m.Role,
		"member":     map[string]any{"name": m.User, "type": m.Type},
		"createTime": s.cfg.Now().UTC().Format(time.RFC3339Nano),
	}, nil
}
