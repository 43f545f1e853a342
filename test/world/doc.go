// Package world is the local AWS that keyleak's AWS code is tested against: moto
// (python3 -m moto.server) behind a gateway that behaves like AWS where moto does not.
//
// # Starting the world
//
// One test:
//
//	w := world.Start(t) // moto + gateway, stopped at cleanup
//	cfg := w.Config("us-east-1", w.Admin(world.DefaultAccount))
//	iamClient := iam.NewFromConfig(cfg)
//	s3Client := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
//
// Moto takes about two seconds to start, so a test binary usually starts one in TestMain
// with StartMoto and gives each test a fresh gateway over a reset moto with New(t, moto).
// Such tests must not run in parallel. Without python3 and moto, StartMoto returns
// ErrMotoMissing ("moto is not installed: pip install 'moto[server]'").
//
// Every AWS client points at one endpoint, World.URL (Gateway.URL); the gateway routes by
// the SigV4 credential scope. S3 clients must use path-style addressing. A separate process
// (the demo) can start the gateway itself with StartGateway(Config{MotoURL: …}).
//
// # Accounts and credentials
//
// The world has DefaultAccount (123456789012, moto's default) and SecondAccount
// (210987654321). Admin(account) returns fixed credentials that act as that account's root
// user: they bootstrap the world (create users, roles, buckets), are never denied, and are
// recorded as userIdentity type Root. Every other key is learned by watching traffic:
// iam:CreateAccessKey, UpdateAccessKey, DeleteAccessKey, DeleteUser and DeleteRole, and
// sts:AssumeRole, GetSessionToken and GetFederationToken. moto returns a fixed AKIA key for
// GetSessionToken and GetFederationToken; the gateway replaces it with an ASIA key it mints
// (encoding the account as AWS does) and maps it to the calling user.
//
// # What the gateway does like AWS
//
//   - Authentication: the SigV4 signature (Authorization header or presigned URL) is checked
//     with the key's secret. Unknown, deleted and Inactive keys get the service's error
//     (InvalidClientTokenId for IAM/STS, InvalidAccessKeyId for S3, AuthFailure for EC2,
//     UnrecognizedClientException for JSON services); a session token that does not match
//     its key is refused; expired sessions get ExpiredToken (RequestExpired on EC2).
//   - Authorisation, deny side only: explicit Deny statements in the caller's inline and
//     attached managed policies (a user's and its groups', or the role's for role sessions)
//     with Action/NotAction and Resource/NotResource wildcards, and the conditions
//     Date{LessThan,GreaterThan}[Equals] on aws:TokenIssueTime and aws:CurrentTime (and
//     Null). Statements with other condition operators are not applied. Allow statements,
//     trust policies and session policies are not evaluated (moto allows everything), except
//     that AssumeRole is refused for a role that does not exist (AccessDenied), a duration
//     above the role's MaxSessionDuration, or above one hour when chaining roles
//     (ValidationError). sts:GetCallerIdentity is never denied. Denied calls get AccessDenied in the service's format. Policies are
//     cached per principal and dropped on any IAM write seen through the gateway.
//     AWSCompromisedKeyQuarantineV3 and every other AWS managed policy are loaded into
//     moto (MOTO_IAM_LOAD_MANAGED_POLICIES), so quarantining by attaching
//     arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3 is enforced.
//   - CloudTrail: every call, failures included (with errorCode and errorMessage), is one
//     Record in the real shape (eventVersion 1.08). Gateway.Events returns them all as the
//     tests' ground truth. IAM events are recorded in us-east-1; other events in the
//     region of the signature. S3 object calls and Lambda Invoke are data events.
//     responseElements are filled, from moto's answer, for the STS session calls,
//     iam:CreateAccessKey, CreateUser, CreateRole, CreatePolicy and CreateLoginProfile,
//     ec2:RunInstances (instancesSet.items[].instanceId…), RequestSpotInstances
//     (spotInstanceRequestSet.items[].spotInstanceRequestId…), CreateKeyPair (keyName,
//     keyFingerprint; keyMaterial "<sensitiveDataRemoved>") and lambda:CreateFunction20150331
//     (the function's configuration). Other calls record none. requestParameters are the
//     call's parameters with the first letter lowered; RunInstances and RequestSpotInstances
//     take CloudTrail's nested shape (instancesSet.items[{imageId, minCount, maxCount}],
//     launchSpecification), and what CloudTrail does not record is left out: passwords,
//     userData ("<sensitiveDataRemoved>"), function code and environment variables.
//   - sts:GetCallerIdentity and sts:GetAccessKeyInfo are answered by the gateway from what
//     it learned (root as arn:aws:iam::<account>:root, federated users, the account of any
//     key it saw issued, else the account decoded from the key ID). moto's own AKIA key IDs
//     are random and do not encode the account; only gateway-minted ASIA keys and the
//     admin keys do.
//   - cloudtrail:LookupEvents is served by the gateway from the management events of the
//     caller's account in the signing region, the last 90 days: one lookup attribute, StartTime/EndTime,
//     newest first, at most 50 per page, opaque NextToken, and ThrottlingException above 2
//     requests per second per account and region (a token bucket of 2).
//   - Athena (athena.go): StartQueryExecution, GetQueryExecution, GetQueryResults and
//     StopQueryExecution are answered by the gateway over moto's stored queries and seeded
//     results (SetAthenaResults): per-query scripted progress (ScriptAthena: QUEUED and
//     RUNNING polls, then SUCCEEDED, FAILED or CANCELLED), DataScannedInBytes and the
//     workgroup's BytesScannedCutoffPerQuery, its result location, ClientRequestToken,
//     paging by MaxResults with an opaque NextToken, InvalidRequestException for unknown
//     IDs and unfinished queries, Stop changing only unfinished queries, and injected
//     ThrottlingException and TooManyRequestsException (ThrottleAthena).
//   - Trail log files: FlushTrail (also every minute, and POST /_world/flush) writes the
//     events recorded since the last flush, data events included, to the trail bucket
//     ("world-cloudtrail" in the first account) as
//     AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/<account>_CloudTrail_<region>_<YYYYMMDDTHHmmZ>_<random>.json.gz,
//     one gzip {"Records":[…]} per account, region and five minutes of event time.
//
// # Headers that shape recorded events
//
// A world client may set these request headers (ClientOption WithSourceIP, WithUserAgent,
// WithEventTime do it for an aws.Config from World.Config). The gateway strips them before
// forwarding to moto:
//
//	X-World-Source-Ip   recorded sourceIPAddress (default: the TCP peer)
//	X-World-User-Agent  recorded userAgent (default: the User-Agent header)
//	X-World-Event-Time  RFC 3339 time of the call: the event's eventTime, the time policy
//	                    conditions see as aws:CurrentTime, and the issue time of any session
//	                    the call creates (its expiry counts from then). Use it to backfill
//	                    an incident that happened hours ago. A value that is not RFC 3339
//	                    is refused with HTTP 400.
//
// # Faults
//
// Gateway.SetFault(service, Fault{Delay, ErrorRate, ThrottleRate, BreakRate}) delays or
// fails calls to a service (signing name, or "*", or one operation as "cloudtrail:LookupEvents"),
// with the service's own 500 and throttling
// errors, or serves them and resets the connection halfway through the answer. A process
// without the *Gateway sets the same with
//
//	PUT /_world/fault {"service":"s3","delay":"50ms","errorRate":0.1,"throttleRate":0.2,"breakRate":0.05}
//
// and reads the records with GET /_world/events.
package world
