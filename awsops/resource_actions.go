package awsops

// cleanupKinds maps the investigation's resource types to cleanup kinds:
// what the attacker created, which cleanup deletes.
var cleanupKinds = map[string]string{
	"AWS::EC2::Instance":                  CleanupInstance,
	"AWS::EC2::SpotInstanceRequest":       CleanupSpotRequest,
	"AWS::Lambda::Function":               CleanupFunction,
	"AWS::IAM::User":                      CleanupUser,
	"AWS::IAM::Role":                      CleanupRole,
	"AWS::IAM::AccessKey":                 CleanupAccessKey,
	"AWS::IAM::LoginProfile":              CleanupLoginProfile,
	"AWS::IAM::ServiceSpecificCredential": CleanupServiceCredential,
	"AWS::IAM::OIDCProvider":              CleanupOIDCProvider,
	"AWS::IAM::SAMLProvider":              CleanupSAMLProvider,
	"AWS::RolesAnywhere::TrustAnchor":     CleanupTrustAnchor,
	"AWS::RolesAnywhere::Profile":         CleanupRAProfile,
	"AWS::EKS::AccessEntry":               CleanupAccessEntry,
	"AWS::SecretsManager::Secret":         CleanupSecret,
	"AWS::SSO::AccountAssignment":         CleanupSSOAssignment,
}

// doorKinds maps the investigation's resource types to the doors close
// shuts: what the attacker opened on resources not its own.
var doorKinds = map[string]string{
	"AWS::Lambda::Permission":             DoorLambdaPermission,
	"AWS::Lambda::Url":                    DoorFunctionURL,
	"AWS::EC2::SnapshotShare":             DoorSnapshotShare,
	"AWS::EC2::ImageShare":                DoorImageShare,
	"AWS::RDS::DBSnapshotShare":           DoorDBSnapshotShare,
	"AWS::RDS::DBClusterSnapshotShare":    DoorDBClusterShare,
	"AWS::S3::BucketPolicy":               DoorBucketPolicy,
	"AWS::S3::BucketAcl":                  DoorBucketACL,
	"AWS::EC2::SecurityGroupRule":         DoorIngressRule,
	"AWS::KMS::Grant":                     DoorKMSGrant,
	"AWS::KMS::KeyPolicy":                 DoorKeyPolicy,
	"AWS::SecretsManager::ResourcePolicy": DoorSecretPolicy,
	"AWS::IAM::RoleTrust":                 DoorRoleTrust,
	"AWS::ECR::RepositoryPolicy":          DoorRepositoryPolicy,
	"AWS::SNS::TopicPolicy":               DoorTopicPolicy,
	"AWS::SQS::QueuePolicy":               DoorQueuePolicy,
	"AWS::S3::Replication":                DoorReplication,
}

// CleanupOf is the cleanup item of a resource the attacker created, with
// its evidence; false for what cleanup does not delete.
func CleanupOf(r Resource) (CleanupItem, bool) {
	kind, ok := cleanupKinds[r.Type]
	if !ok || r.ID == "" {
		return CleanupItem{}, false
	}
	return CleanupItem{Kind: kind, ID: r.ID, Region: r.Region, Account: r.Account, EventID: r.EventID, EventName: r.CreatedBy,
		EventTime: r.CreatedAt, UniqueID: r.UniqueID, Owner: r.Owner, On: r.On, Ref: r.Ref}, true
}

// DoorOf is the door of a resource the attacker opened, with its
// evidence; false for what close does not shut.
func DoorOf(r Resource) (DoorItem, bool) {
	kind, ok := doorKinds[r.Type]
	if !ok || (r.ID == "" && r.On == "") {
		return DoorItem{}, false
	}
	return DoorItem{Kind: kind, ID: r.ID, On: r.On, Opening: r.Opening, Account: r.Account, Region: r.Region,
		EventID: r.EventID, EventName: r.CreatedBy, EventTime: r.CreatedAt}, true
}
