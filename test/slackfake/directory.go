package slackfake

import (
	"slices"
	"strings"
)

// created is the date_create of seeded user groups: 2024-01-02T03:04:05Z.
const created = 1704164645

func (s *Server) user(id string) (User, bool) {
	for _, u := range s.opts.Users {
		if u.ID == id {
			return u, true
		}
	}
	return User{}, false
}

// userJSON is a user object as users.info returns it; the email only with
// the users:read.email scope.
func (s *Server) userJSON(u User) map[string]any {
	profile := map[string]any{
		"real_name":               u.RealName,
		"real_name_normalized":    u.RealName,
		"display_name":            u.Name,
		"display_name_normalized": u.Name,
		"team":                    s.opts.TeamID,
	}
	if u.Email != "" && s.hasScope("users:read.email") {
		profile["email"] = u.Email
	}
	return map[string]any{
		"id":        u.ID,
		"team_id":   s.opts.TeamID,
		"name":      u.Name,
		"deleted":   u.Deleted,
		"real_name": u.RealName,
		"tz":        "Europe/Amsterdam",
		"tz_label":  "Central European Time",
		"tz_offset": 3600,
		"is_bot":    u.IsBot,
		"is_admin":  false,
		"profile":   profile,
		"updated":   int64(created),
	}
}

func (s *Server) hasScope(scope string) bool { return slices.Contains(s.opts.Scopes, scope) }

func (s *Server) usersInfo(req *request) (map[string]any, *apiError) {
	id := req.params.Get("user")
	if id == "" {
		return nil, errCode("user_not_found")
	}
	u, ok := s.user(id)
	if !ok {
		return nil, errCode("user_not_found")
	}
	return map[string]any{"user": s.userJSON(u)}, nil
}

func (s *Server) usersLookupByEmail(req *request) (map[string]any, *apiError) {
	email := req.params.Get("email")
	if email == "" {
		return nil, errCode("invalid_arguments")
	}
	for _, u := range s.opts.Users {
		if u.Email != "" && strings.EqualFold(u.Email, email) && !u.Deleted {
			return map[string]any{"user": s.userJSON(u)}, nil
		}
	}
	return nil, errCode("users_not_found")
}

func (s *Server) userGroupsList(req *request) (map[string]any, *apiError) {
	includeUsers := req.params.Get("include_users") == "true"
	includeDisabled := req.params.Get("include_disabled") == "true"
	groups := []map[string]any{}
	for _, g := range s.opts.UserGroups {
		if g.Disabled && !includeDisabled {
			continue
		}
		deleted := 0
		if g.Disabled {
			deleted = created + 86400
		}
		obj := map[string]any{
			"id":           g.ID,
			"team_id":      s.opts.TeamID,
			"is_usergroup": true,
			"is_subteam":   true,
			"name":         g.Name,
			"description":  g.Description,
			"handle":       g.Handle,
			"is_external":  false,
			"date_create":  created,
			"date_update":  created,
			"date_delete":  deleted,
			"auto_type":    nil,
			"created_by":   "U0ADMIN",
			"updated_by":   "U0ADMIN",
			"deleted_by":   nil,
			"prefs":        map[string]any{"channels": []string{}, "groups": []string{}},
			"user_count":   len(g.Users),
		}
		if includeUsers {
			obj["users"] = append([]string{}, g.Users...)
		}
		groups = append(groups, obj)
	}
	return map[string]any{"usergroups": groups}, nil
}

func (s *Server) authTest(*request) (map[string]any, *apiError) {
	return map[string]any{
		"url":                   "https://" + s.opts.TeamName + ".slack.com/",
		"team":                  s.opts.TeamName,
		"user":                  s.opts.BotName,
		"team_id":               s.opts.TeamID,
		"user_id":               s.opts.BotUserID,
		"bot_id":                s.opts.BotID,
		"is_enterprise_install": false,
	}, nil
}
