package respond

import (
	"slices"

	"github.com/keyleak/keyleak/awsops"
	"github.com/keyleak/keyleak/state"
)

// settled reports whether a follow-up of the investigation was carried
// out by a succeeded action that was not undone: deactivating (or
// deleting) the key, revoking the sessions of the role or user it names,
// or deleting the resource it names. Follow-ups are matched by their kind
// and subject, never by their words.
func settled(fu awsops.FollowUp, actions []state.Action) bool {
	for _, a := range actions {
		if a.Status != state.ActionSucceeded || a.Undone != "" {
			continue
		}
		switch fu.Kind {
		case awsops.FollowUpDeactivateKey:
			if a.Name == ActionDeactivate || a.Name == ActionDeleteKey {
				return true
			}
		case awsops.FollowUpRevokeSessions:
			// revoke-sessions always covers the key's user; a role only
			// when it was among the roles the approved plan froze.
			if a.Name == ActionRevokeSessions && (!isRoleARN(fu.Subject) || slices.Contains(awsops.FrozenRoles(a.Params), fu.Subject)) {
				return true
			}
		case awsops.FollowUpDeleteResource:
			if a.Name == ActionCleanup && slices.Contains(requestedResources(a.Params), fu.Subject) {
				return true
			}
		}
	}
	return false
}
