// Package deploy holds the tests of keyleak's deployment files in
// deploy/: the Kubernetes manifests decode strictly into their API types
// and keep keyleak's safety properties, the AWS policies are well-formed
// least-privilege documents that protect the protected principals, the
// Slack app manifest asks for the scopes keyleak uses, and every
// KEYLEAK_* variable they name is one keyleak reads.
package deploy
