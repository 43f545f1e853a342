// Package test holds keyleak's local world (the AWS gateway in front of
// moto, local Slack, Google Chat, Meet and SMTP servers, a scripted
// attacker) and the tests that hold the whole repository to its rules.
package test
