package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/keyleak/keyleak/awsops"
	"github.com/keyleak/keyleak/bot"
	"github.com/keyleak/keyleak/intake"
	"gopkg.in/yaml.v3"
)

// Secret is a configuration value that must never be printed or logged.
type Secret string

func (Secret) String() string { return "[redacted]" }

// GoString keeps %#v from printing it.
func (Secret) GoString() string { return "[redacted]" }

// MarshalText keeps JSON and YAML encoders from printing it.
func (Secret) MarshalText() ([]byte, error) { return []byte("[redacted]"), nil }

// Config is keyleak's configuration: a YAML file, then environment
// variables (KEYLEAK_ + the env tag) over it. Every secret can also be
// given as a file named by KEYLEAK_<NAME>_FILE.
type Config struct {
	Database    string   `yaml:"database" env:"DATABASE"`
	Listen      string   `yaml:"listen" env:"LISTEN"`
	AdminListen string   `yaml:"admin_listen" env:"ADMIN_LISTEN"`
	LogLevel    string   `yaml:"log_level" env:"LOG_LEVEL"`
	Approvals   Approval `yaml:"approvals"`
	Slack       Slack    `yaml:"slack"`
	Chat        Chat     `yaml:"chat"`
	Meet        Meet     `yaml:"meet"`
	AWS         AWS      `yaml:"aws"`
	Email       Email    `yaml:"email"`
	Watch       Watch    `yaml:"watch"`
	Intake      Intake   `yaml:"intake"`
}

// Intake configures the incidents that open themselves: detectors'
// events from an SQS queue (docs/intake.md).
type Intake struct {
	// QueueURL is the queue EventBridge sends detectors' events to; empty
	// turns the intake off.
	QueueURL string `yaml:"queue_url" env:"INTAKE_QUEUE_URL"`
	// MinSeverity is the lowest GuardDuty severity (0–10) that opens an
	// incident; lower findings are only recorded on an open incident.
	MinSeverity float64  `yaml:"min_severity" env:"INTAKE_MIN_SEVERITY"`
	AllowTypes  []string `yaml:"allow_types" env:"INTAKE_ALLOW_TYPES"`
	DenyTypes   []string `yaml:"deny_types" env:"INTAKE_DENY_TYPES"`
	// CanaryKeys and CanaryAccounts: any use of them opens a canary incident.
	CanaryKeys     []string `yaml:"canary_keys" env:"INTAKE_CANARY_KEYS"`
	CanaryAccounts []string `yaml:"canary_accounts" env:"INTAKE_CANARY_ACCOUNTS"`
	// Wait is the long poll, 1s to 20s.
	Wait time.Duration `yaml:"wait" env:"INTAKE_WAIT"`
}

// Watch configures the CloudTrail watch after containment.
type Watch struct {
	Period   time.Duration `yaml:"period" env:"WATCH_PERIOD"`
	Interval time.Duration `yaml:"interval" env:"WATCH_INTERVAL"`
}

// Email configures the InfoSec emails.
type Email struct {
	// Sender is "smtp" or "ses" (Amazon SES v2 through the AWS chain).
	Sender      string   `yaml:"sender" env:"EMAIL_SENDER"`
	Host        string   `yaml:"smtp_host" env:"SMTP_HOST"`
	Port        int      `yaml:"smtp_port" env:"SMTP_PORT"`
	TLS         string   `yaml:"smtp_tls" env:"SMTP_TLS"`
	Username    string   `yaml:"smtp_username" env:"SMTP_USERNAME"`
	Password    Secret   `yaml:"smtp_password" env:"SMTP_PASSWORD"`
	From        string   `yaml:"from" env:"EMAIL_FROM"`
	To          []string `yaml:"to" env:"EMAIL_TO"`
	Cc          []string `yaml:"cc" env:"EMAIL_CC"`
	TemplateDir string   `yaml:"template_dir" env:"EMAIL_TEMPLATE_DIR"`
}

// AWS configures keyleak's AWS access. Credentials and endpoints come from
// the standard AWS chain (AWS_PROFILE, AWS_ACCESS_KEY_ID, web identity,
// instance role; AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE>).
type AWS struct {
	// Enabled turns on identification, investigation and containment.
	Enabled       bool   `yaml:"enabled" env:"AWS_ENABLED"`
	Region        string `yaml:"region" env:"AWS_HOME_REGION"`
	ResponderRole string `yaml:"responder_role" env:"AWS_RESPONDER_ROLE"`
	ExternalID    Secret `yaml:"external_id" env:"AWS_EXTERNAL_ID"`
	// ResponderInOwnAccount assumes the responder role in keyleak's own
	// account too (deploy the StackSet there as well).
	ResponderInOwnAccount bool     `yaml:"responder_in_own_account" env:"AWS_RESPONDER_IN_OWN_ACCOUNT"`
	Regions               []string `yaml:"regions" env:"AWS_REGIONS"`
	Protected             []string `yaml:"protected_principals" env:"AWS_PROTECTED_PRINCIPALS"`
	// Accounts are the organisation's accounts: a share or trust that
	// admits one of them is not an opening to the outside.
	Accounts []string `yaml:"accounts" env:"AWS_ACCOUNTS"`
	// Organizations are the organisation's IDs (o-…): a policy that admits
	// anyone of one of them (aws:PrincipalOrgID) is not an opening.
	Organizations []string `yaml:"organizations" env:"AWS_ORGANIZATIONS"`
	TrailBucket   string   `yaml:"trail_bucket" env:"AWS_TRAIL_BUCKET"`
	// TrailPrefix is the S3 key prefix the trail writes under, before
	// AWSLogs/ (empty for none).
	TrailPrefix string `yaml:"trail_prefix" env:"AWS_TRAIL_PREFIX"`
	// TrailSource, when the trail bucket is a replica (S3 replication,
	// which keeps the keys), is the bucket the trails write: a trail that
	// writes there counts as writing the files read (docs/trail.md).
	TrailSource string `yaml:"trail_source_bucket" env:"AWS_TRAIL_SOURCE_BUCKET"`
	// Athena answers for an account whose trail is too large to read on
	// one machine (docs/athena.md).
	Athena Athena `yaml:"athena"`
}

// Athena configures the queries over the organisation trail table that
// name the log files to read when an account's trail exceeds BudgetBytes.
type Athena struct {
	BudgetBytes    int64  `yaml:"budget_bytes" env:"AWS_ATHENA_BUDGET_BYTES"`
	Account        string `yaml:"account" env:"AWS_ATHENA_ACCOUNT"`
	Region         string `yaml:"region" env:"AWS_ATHENA_REGION"`
	Workgroup      string `yaml:"workgroup" env:"AWS_ATHENA_WORKGROUP"`
	Database       string `yaml:"database" env:"AWS_ATHENA_DATABASE"`
	Table          string `yaml:"table" env:"AWS_ATHENA_TABLE"`
	OutputLocation string `yaml:"output_location" env:"AWS_ATHENA_OUTPUT_LOCATION"`
}

// options returns the investigation's Athena options; nil when no budget
// is set, and Athena is never used.
func (a Athena) options() *awsops.AthenaOptions {
	if a.BudgetBytes <= 0 {
		return nil
	}
	return &awsops.AthenaOptions{BudgetBytes: a.BudgetBytes, Account: a.Account, Region: a.Region, Workgroup: a.Workgroup,
		Database: a.Database, Table: a.Table, OutputLocation: a.OutputLocation}
}

// s3Bucket is what S3 accepts as a bucket name, old names of us-east-1
// (capitals, underscores, up to 255 characters) included, or an ARN S3
// takes in its place (an access point's, a Multi-Region or an Outposts
// one).
var s3Bucket = regexp.MustCompile(`^([A-Za-z0-9._-]{3,255}|arn:aws[a-z-]*:s3[a-z-]*:[a-z0-9-]*:[0-9]{12}:[A-Za-z0-9._/-]+)$`)

// validateTrailBuckets checks the trail bucket and the bucket it
// replicates, if any.
func validateTrailBuckets(bucket, source string, bad func(string, ...any)) {
	if bucket != "" && !s3Bucket.MatchString(bucket) {
		bad("aws.trail_bucket (KEYLEAK_AWS_TRAIL_BUCKET): %q is not an S3 bucket name (nor an access point's ARN)", bucket)
	}
	switch {
	case source == "":
	case !s3Bucket.MatchString(source):
		bad("aws.trail_source_bucket (KEYLEAK_AWS_TRAIL_SOURCE_BUCKET): %q is not an S3 bucket name (nor an access point's ARN)", source)
	case bucket == "":
		bad("aws.trail_source_bucket (KEYLEAK_AWS_TRAIL_SOURCE_BUCKET): it names the bucket aws.trail_bucket replicates; set aws.trail_bucket too")
	case source == bucket:
		bad("aws.trail_source_bucket (KEYLEAK_AWS_TRAIL_SOURCE_BUCKET): %q is aws.trail_bucket itself; set it only when aws.trail_bucket is a replica", source)
	}
}

// athenaName is what Athena accepts as a database or table name here.
var athenaName = regexp.MustCompile(`^[a-z0-9_]{1,255}$`)

// validate checks the Athena settings.
func (a Athena) validate(trailBucket string, bad func(string, ...any)) {
	switch {
	case a.BudgetBytes < 0:
		bad("aws.athena.budget_bytes (KEYLEAK_AWS_ATHENA_BUDGET_BYTES): %d is negative; 0 never uses Athena", a.BudgetBytes)
	case a.BudgetBytes > 0 && trailBucket == "":
		bad("aws.athena.budget_bytes (KEYLEAK_AWS_ATHENA_BUDGET_BYTES): Athena names files of the trail bucket; set aws.trail_bucket too")
	}
	if a.Account != "" && !awsAccount.MatchString(a.Account) {
		bad("aws.athena.account (KEYLEAK_AWS_ATHENA_ACCOUNT): %q is not a 12-digit account ID", a.Account)
	}
	if a.Region != "" && !awsRegion.MatchString(a.Region) {
		bad("aws.athena.region (KEYLEAK_AWS_ATHENA_REGION): %q is not a region like us-east-1", a.Region)
	}
	for name, v := range map[string]string{"database (KEYLEAK_AWS_ATHENA_DATABASE)": a.Database, "table (KEYLEAK_AWS_ATHENA_TABLE)": a.Table} {
		if v != "" && !athenaName.MatchString(v) {
			bad("aws.athena.%s: %q: use lower-case letters, digits and _", name, v)
		}
	}
	if a.OutputLocation != "" && !strings.HasPrefix(a.OutputLocation, "s3://") {
		bad("aws.athena.output_location (KEYLEAK_AWS_ATHENA_OUTPUT_LOCATION): %q is not an s3:// location", a.OutputLocation)
	}
}

// Chat configures the Google Chat war room.
type Chat struct {
	// AudienceType is how the Chat app authenticates its requests:
	// "endpoint_url" (the audience is this URL) or "project_number".
	AudienceType    string            `yaml:"audience_type" env:"CHAT_AUDIENCE_TYPE"`
	Audience        string            `yaml:"audience" env:"CHAT_AUDIENCE"`
	KeysURL         string            `yaml:"keys_url" env:"CHAT_KEYS_URL"`
	APIURL          string            `yaml:"api_url" env:"CHAT_API_URL"`
	CredentialsFile string            `yaml:"credentials_file" env:"CHAT_CREDENTIALS_FILE"`
	Members         []string          `yaml:"members" env:"CHAT_MEMBERS"`
	Commands        map[string]string `yaml:"commands" env:"CHAT_COMMANDS"`
}

// Meet configures the Meet created for each incident.
type Meet struct {
	APIURL          string `yaml:"api_url" env:"MEET_API_URL"`
	CredentialsFile string `yaml:"credentials_file" env:"MEET_CREDENTIALS_FILE"`
	DelegatedUser   string `yaml:"delegated_user" env:"MEET_DELEGATED_USER"`
	AccessType      string `yaml:"access_type" env:"MEET_ACCESS_TYPE"`
}

// Approval configures the approval engine.
type Approval struct {
	Responders []string      `yaml:"responders" env:"RESPONDERS"`
	Expiry     time.Duration `yaml:"expiry" env:"APPROVAL_EXPIRY"`
	OnePerson  []string      `yaml:"one_person" env:"ONE_PERSON_ACTIONS"`
}

// Slack configures the Slack front door.
type Slack struct {
	SigningSecret     Secret   `yaml:"signing_secret" env:"SLACK_SIGNING_SECRET"`
	BotToken          Secret   `yaml:"bot_token" env:"SLACK_BOT_TOKEN"`
	AppToken          Secret   `yaml:"app_token" env:"SLACK_APP_TOKEN"`
	APIURL            string   `yaml:"api_url" env:"SLACK_API_URL"`
	PageChannel       string   `yaml:"page_channel" env:"SLACK_PAGE_CHANNEL"`
	OncallGroup       string   `yaml:"oncall_group" env:"SLACK_ONCALL_GROUP"`
	AllowedWorkspaces []string `yaml:"allowed_workspaces" env:"SLACK_ALLOWED_WORKSPACES"`
}

func defaultConfig() Config {
	return Config{
		Database:    "keyleak.db",
		Listen:      ":8080",
		AdminListen: "127.0.0.1:8081",
		LogLevel:    "info",
		Approvals:   Approval{Expiry: 15 * time.Minute},
		Chat:        Chat{AudienceType: "endpoint_url", Commands: map[string]string{"1": "keyleak"}},
		Meet:        Meet{AccessType: "TRUSTED"},
		AWS:         AWS{Region: "us-east-1", ResponderRole: "KeyleakResponder"},
		Email:       Email{Sender: "smtp", TLS: "starttls"},
		Watch:       Watch{Period: 30 * time.Minute, Interval: time.Minute},
		Intake:      Intake{MinSeverity: 4, Wait: 20 * time.Second},
	}
}

// loadConfig reads path (if not empty) over the defaults, then the
// environment, and validates the result.
func loadConfig(path string, getenv func(string) string) (Config, error) {
	var data []byte
	if path != "" {
		var err error
		if data, err = os.ReadFile(path); err != nil {
			return Config{}, fmt.Errorf("read config: %w", err)
		}
	}
	return parseConfig(data, path, getenv)
}

// parseConfig reads the YAML configuration from file (data, empty for
// none) and then the environment, and validates the result.
func parseConfig(data []byte, file string, getenv func(string) string) (Config, error) {
	cfg := defaultConfig()
	if len(data) > 0 {
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) { // an empty file is fine
			return Config{}, fmt.Errorf("config %s: %w", file, err)
		}
	}
	if err := applyEnv(reflect.ValueOf(&cfg).Elem(), getenv); err != nil {
		return Config{}, err
	}
	if err := cfg.validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

const envPrefix = "KEYLEAK_"

var awsRegion = regexp.MustCompile(`^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$`)

// awsAccount is a 12-digit AWS account ID.
var awsAccount = regexp.MustCompile(`^\d{12}$`)

// awsOrganization is an organization ID, as AWS Organizations gives it.
var awsOrganization = regexp.MustCompile(`^o-[a-z0-9]{10,32}$`)

// applyEnv sets every field with an env tag from KEYLEAK_<tag>, and secret
// fields from KEYLEAK_<tag>_FILE. Setting both is an error.
func applyEnv(v reflect.Value, getenv func(string) string) error {
	t := v.Type()
	for i := range t.NumField() {
		f, fv := t.Field(i), v.Field(i)
		if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeFor[time.Duration]() {
			if err := applyEnv(fv, getenv); err != nil {
				return err
			}
			continue
		}
		tag := f.Tag.Get("env")
		if tag == "" {
			continue
		}
		name := envPrefix + tag
		val, set := getenv(name), getenv(name) != ""
		if f.Type == reflect.TypeFor[Secret]() {
			if file := getenv(name + "_FILE"); file != "" {
				if set {
					return fmt.Errorf("%s and %s_FILE are both set; use one", name, name)
				}
				data, err := os.ReadFile(file)
				if err != nil {
					return fmt.Errorf("%s_FILE: %w", name, err)
				}
				val, set = strings.TrimRight(string(data), "\r\n"), true
			}
		}
		if !set {
			continue
		}
		if err := setField(fv, val); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}

func setField(fv reflect.Value, val string) error {
	switch {
	case fv.Type() == reflect.TypeFor[time.Duration]():
		d, err := time.ParseDuration(val)
		if err != nil {
			return fmt.Errorf("not a duration like 15m: %q", val)
		}
		fv.SetInt(int64(d))
	case fv.Kind() == reflect.String:
		fv.SetString(val)
	case fv.Kind() == reflect.Int || fv.Kind() == reflect.Int64:
		n, err := strconv.ParseInt(val, 10, 64)
		if err != nil {
			return fmt.Errorf("not a whole number: %q", val)
		}
		fv.SetInt(n)
	case fv.Kind() == reflect.Float64:
		f, err := strconv.ParseFloat(val, 64)
		if err != nil {
			return fmt.Errorf("not a number: %q", val)
		}
		fv.SetFloat(f)
	case fv.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(val)
		if err != nil {
			return fmt.Errorf("not true or false: %q", val)
		}
		fv.SetBool(b)
	case fv.Kind() == reflect.Map && fv.Type().Key().Kind() == reflect.String && fv.Type().Elem().Kind() == reflect.String:
		m := map[string]string{}
		for _, pair := range strings.Split(val, ",") {
			if pair = strings.TrimSpace(pair); pair == "" {
				continue
			}
			k, v, ok := strings.Cut(pair, "=")
			if !ok {
				return fmt.Errorf("%q is not key=value", pair)
			}
			m[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
		fv.Set(reflect.ValueOf(m))
	case fv.Kind() == reflect.Slice && fv.Type().Elem().Kind() == reflect.String:
		var items []string
		for _, s := range strings.Split(val, ",") {
			if s = strings.TrimSpace(s); s != "" {
				items = append(items, s)
			}
		}
		fv.Set(reflect.ValueOf(items))
	default:
		return fmt.Errorf("unsupported setting type %s", fv.Type())
	}
	return nil
}

// validate reports every problem at once, each naming its setting.
func (c Config) validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.Database == "" {
		bad("database (KEYLEAK_DATABASE): a file path is required")
	}
	for name, addr := range map[string]string{"listen (KEYLEAK_LISTEN)": c.Listen, "admin_listen (KEYLEAK_ADMIN_LISTEN)": c.AdminListen} {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			bad("%s: %q is not host:port", name, addr)
		}
	}
	if host, _, err := net.SplitHostPort(c.AdminListen); err == nil {
		if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			bad("admin_listen (KEYLEAK_ADMIN_LISTEN): %q must be a loopback address; it serves database backups", c.AdminListen)
		}
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("log_level (KEYLEAK_LOG_LEVEL): %q is not debug, info, warn or error", c.LogLevel)
	}
	if len(c.Approvals.Responders) == 0 {
		bad("approvals.responders (KEYLEAK_RESPONDERS): list the authorised responders' emails; no one could approve anything")
	}
	for _, r := range c.Approvals.Responders {
		if strings.TrimSpace(r) == "" || strings.ContainsAny(r, " \t,") {
			bad("approvals.responders: %q is not an email or a user ID", r)
		}
	}
	if c.Approvals.Expiry < time.Minute || c.Approvals.Expiry > 24*time.Hour {
		bad("approvals.expiry (KEYLEAK_APPROVAL_EXPIRY): %s is outside 1m to 24h", c.Approvals.Expiry)
	}
	if u := c.Slack.APIURL; u != "" {
		p, err := url.Parse(u)
		switch {
		case err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "":
			bad("slack.api_url (KEYLEAK_SLACK_API_URL): %q is not an http(s) URL", u)
		case strings.HasSuffix(p.Hostname(), "slack.com") && strings.TrimSuffix(p.Path, "/") != "/api":
			bad("slack.api_url (KEYLEAK_SLACK_API_URL): %q: Slack's Web API is https://slack.com/api/ (method names are added after it); leave the setting empty for it", u)
		}
	}
	if c.Slack.BotToken != "" && !strings.HasPrefix(string(c.Slack.BotToken), "xoxb-") {
		bad("slack.bot_token (KEYLEAK_SLACK_BOT_TOKEN): a bot token starts with xoxb-")
	}
	if c.Slack.BotToken != "" && c.Slack.PageChannel == "" {
		bad("slack.page_channel (KEYLEAK_SLACK_PAGE_CHANNEL): the channel ID to page in is required with a bot token")
	}
	if c.Slack.AppToken != "" && c.Slack.BotToken == "" {
		bad("slack.bot_token (KEYLEAK_SLACK_BOT_TOKEN): Socket Mode (slack.app_token) also needs the bot token")
	}
	if c.Slack.AppToken != "" && !strings.HasPrefix(string(c.Slack.AppToken), "xapp-") {
		bad("slack.app_token (KEYLEAK_SLACK_APP_TOKEN): an app-level token starts with xapp-")
	}
	c.validateChat(bad)
	if c.Watch.Period < time.Minute || c.Watch.Period > 7*24*time.Hour {
		bad("watch.period (KEYLEAK_WATCH_PERIOD): %s is outside 1m to 168h", c.Watch.Period)
	}
	if c.Watch.Interval < time.Second || c.Watch.Interval > c.Watch.Period {
		bad("watch.interval (KEYLEAK_WATCH_INTERVAL): %s must be at least 1s and at most the period", c.Watch.Interval)
	}
	switch c.Email.Sender {
	case "smtp", "ses":
	default:
		bad("email.sender (KEYLEAK_EMAIL_SENDER): %q is not smtp or ses", c.Email.Sender)
	}
	if len(c.Email.To) > 0 {
		if c.Email.From == "" {
			bad("email.from (KEYLEAK_EMAIL_FROM): the sender address is required to send email")
		}
		if c.Email.Sender == "smtp" && c.Email.Host == "" {
			bad("email.smtp_host (KEYLEAK_SMTP_HOST): required with the smtp sender")
		}
		if c.Email.Sender == "ses" && !c.AWS.Enabled {
			bad("email.sender (KEYLEAK_EMAIL_SENDER): ses needs aws.enabled")
		}
	}
	for _, r := range c.AWS.Regions {
		if !awsRegion.MatchString(r) {
			bad("aws.regions (KEYLEAK_AWS_REGIONS): %q is not a region name like eu-west-1", r)
		}
	}
	for _, a := range c.AWS.Accounts {
		if !awsAccount.MatchString(a) {
			bad("aws.accounts (KEYLEAK_AWS_ACCOUNTS): %q is not a 12-digit account ID", a)
		}
	}
	for _, o := range c.AWS.Organizations {
		if !awsOrganization.MatchString(o) {
			bad("aws.organizations (KEYLEAK_AWS_ORGANIZATIONS): %q is not an organization ID like o-a1b2c3d4e5", o)
		}
	}
	if !awsRegion.MatchString(c.AWS.Region) {
		bad("aws.region (KEYLEAK_AWS_HOME_REGION): %q is not a region name like us-east-1", c.AWS.Region)
	}
	validateTrailBuckets(c.AWS.TrailBucket, c.AWS.TrailSource, bad)
	c.AWS.Athena.validate(c.AWS.TrailBucket, bad)
	for _, p := range c.AWS.Protected {
		if err := awsops.ValidateProtected([]string{p}); err != nil {
			bad("aws.protected_principals (KEYLEAK_AWS_PROTECTED_PRINCIPALS): %v; '*' may stand in the partition, account or name", err)
		}
	}
	if c.Intake.QueueURL != "" {
		if !c.AWS.Enabled {
			bad("intake.queue_url (KEYLEAK_INTAKE_QUEUE_URL): the intake reads an SQS queue and needs aws.enabled")
		}
		if u, err := url.Parse(c.Intake.QueueURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || strings.Count(strings.Trim(u.Path, "/"), "/") != 1 {
			bad("intake.queue_url (KEYLEAK_INTAKE_QUEUE_URL): %q is not an SQS queue URL like https://sqs.us-east-1.amazonaws.com/111122223333/keyleak-intake", c.Intake.QueueURL)
		}
		if c.Intake.Wait < time.Second || c.Intake.Wait > 20*time.Second {
			bad("intake.wait (KEYLEAK_INTAKE_WAIT): %s is outside 1s to 20s", c.Intake.Wait)
		}
		if err := c.intakeRules().Validate(); err != nil {
			bad("intake (KEYLEAK_INTAKE_*): %v", err)
		}
	}
	return errors.Join(errs...)
}

// intakeRules are the rules of the intake as configured.
func (c Config) intakeRules() intake.Rules {
	return intake.Rules{MinSeverity: c.Intake.MinSeverity, Allow: c.Intake.AllowTypes, Deny: c.Intake.DenyTypes,
		CanaryKeys: c.Intake.CanaryKeys, CanaryAccounts: c.Intake.CanaryAccounts, Accounts: c.AWS.Accounts}
}

func (c Config) validateChat(bad func(string, ...any)) {
	switch c.Chat.AudienceType {
	case "endpoint_url":
		if a := c.Chat.Audience; a != "" {
			if u, err := url.Parse(a); err != nil || u.Scheme == "" || u.Host == "" {
				bad("chat.audience (KEYLEAK_CHAT_AUDIENCE): %q is not the app's endpoint URL", a)
			}
		}
	case "project_number":
		if _, err := strconv.ParseUint(c.Chat.Audience, 10, 64); c.Chat.Audience != "" && err != nil {
			bad("chat.audience (KEYLEAK_CHAT_AUDIENCE): %q is not a Cloud project number", c.Chat.Audience)
		}
	default:
		bad("chat.audience_type (KEYLEAK_CHAT_AUDIENCE_TYPE): %q is not endpoint_url or project_number", c.Chat.AudienceType)
	}
	for id, name := range c.Chat.Commands {
		if n, err := strconv.ParseInt(id, 10, 64); err != nil || n <= 0 {
			bad("chat.commands (KEYLEAK_CHAT_COMMANDS): %q is not a command ID (a positive number)", id)
		}
		if name == "" || strings.ContainsAny(name, " /") {
			bad("chat.commands (KEYLEAK_CHAT_COMMANDS): command %s has no usable name %q", id, name)
		}
	}
	for name, u := range map[string]string{"chat.api_url (KEYLEAK_CHAT_API_URL)": c.Chat.APIURL, "meet.api_url (KEYLEAK_MEET_API_URL)": c.Meet.APIURL, "chat.keys_url (KEYLEAK_CHAT_KEYS_URL)": c.Chat.KeysURL} {
		if u == "" {
			continue
		}
		if p, err := url.Parse(u); err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" {
			bad("%s: %q is not an http(s) URL", name, u)
		}
	}
	// Only a local test server may go without authentication: Google's
	// APIs, and anything standing in for them elsewhere, get the
	// service account's tokens.
	for _, api := range []struct{ name, url, creds string }{
		{"chat", c.Chat.APIURL, c.Chat.CredentialsFile}, {"meet", c.Meet.APIURL, c.Meet.CredentialsFile},
	} {
		if api.url != "" && api.creds == "" && !loopbackURL(api.url) {
			bad("%s.credentials_file (KEYLEAK_%s_CREDENTIALS_FILE): required with %s.api_url %q; keyleak authenticates to it with the service account key (only a server on loopback may do without)",
				api.name, strings.ToUpper(api.name), api.name, api.url)
		}
	}
	if c.Chat.Audience != "" && !c.chatConfigured() {
		bad("chat.credentials_file (KEYLEAK_CHAT_CREDENTIALS_FILE): chat.audience makes keyleak take commands from Chat, and it needs the Chat app's key to answer in the spaces")
	}
	if c.Meet.CredentialsFile != "" && c.Meet.DelegatedUser == "" {
		bad("meet.delegated_user (KEYLEAK_MEET_DELEGATED_USER): Meet accepts only user authentication; name the Workspace user its service account acts as")
	}
	switch c.Meet.AccessType {
	case "OPEN", "TRUSTED", "RESTRICTED":
	default:
		bad("meet.access_type (KEYLEAK_MEET_ACCESS_TYPE): %q is not OPEN, TRUSTED or RESTRICTED", c.Meet.AccessType)
	}
}

// loopbackURL reports whether u's host is this machine.
func loopbackURL(u string) bool {
	p, err := url.Parse(u)
	if err != nil {
		return false
	}
	host := p.Hostname()
	if ip := net.ParseIP(host); ip != nil {
		return ip.IsLoopback()
	}
	return host == "localhost"
}

// chatConfigured says whether keyleak works incidents in Google Chat.
func (c Config) chatConfigured() bool { return c.Chat.CredentialsFile != "" || c.Chat.APIURL != "" }

// awsOptions are the AWS client's settings.
func (c Config) awsOptions(now func() time.Time, log *slog.Logger) awsops.Options {
	return awsops.Options{
		Region: c.AWS.Region, ResponderRole: c.AWS.ResponderRole, ExternalID: string(c.AWS.ExternalID),
		ResponderInOwnAccount: c.AWS.ResponderInOwnAccount, Regions: c.AWS.Regions, Protected: c.AWS.Protected,
		Accounts: c.AWS.Accounts, Organizations: c.AWS.Organizations, Now: now, Log: log,
	}
}

// pagerConfig is the Slack pager's.
func (c Config) pagerConfig() bot.PagerConfig {
	return bot.PagerConfig{BotToken: string(c.Slack.BotToken), APIURL: c.Slack.APIURL, Channel: c.Slack.PageChannel, OncallGroup: c.Slack.OncallGroup}
}

// roomConfig is the war room's (Chat and Meet).
func (c Config) roomConfig() bot.RoomConfig {
	return bot.RoomConfig{
		ChatAPIURL: c.Chat.APIURL, ChatCredentialsFile: c.Chat.CredentialsFile,
		MeetAPIURL: c.Meet.APIURL, MeetCredentialsFile: c.Meet.CredentialsFile, MeetDelegate: c.Meet.DelegatedUser,
		MeetAccess: c.Meet.AccessType, Responders: chatMembers(c),
	}
}

// mailConfig is the InfoSec emails'.
func (c Config) mailConfig() bot.MailConfig {
	return bot.MailConfig{
		Host: c.Email.Host, Port: c.Email.Port, TLS: c.Email.TLS, Username: c.Email.Username,
		Password: string(c.Email.Password), From: c.Email.From, To: c.Email.To, Cc: c.Email.Cc,
		TemplateDir: c.Email.TemplateDir,
	}
}

// chatVerifierConfig is the Chat event verifier's.
func (c Config) chatVerifierConfig(now func() time.Time, log *slog.Logger) bot.ChatVerifierConfig {
	aud := bot.ChatAudienceEndpointURL
	if c.Chat.AudienceType == "project_number" {
		aud = bot.ChatAudienceProjectNumber
	}
	return bot.ChatVerifierConfig{AudienceType: aud, Audience: c.Chat.Audience, KeysURL: c.Chat.KeysURL, Now: now, Logger: log}
}
