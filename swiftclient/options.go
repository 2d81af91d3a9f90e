package swiftclient

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Options configure New. The zero value plus credentials in the environment
// is a working configuration; every field has a documented default.
type Options struct {
	// Container is the Swift container to mount. Required.
	Container string

	// Auth holds the credentials. Fields left empty are filled from the
	// environment (see Auth and the package documentation); fields set here
	// win over the environment.
	Auth Auth

	// PasswordFile names a file holding the password (Keystone), key (v1
	// auth) or application credential secret, used instead of OS_PASSWORD,
	// ST_KEY or OS_APPLICATION_CREDENTIAL_SECRET. The file must be a
	// regular file owned by the user running swiftfs and not accessible by
	// group or others (mode 0600 or stricter); one trailing newline is
	// ignored.
	PasswordFile string

	// Cloud names the entry of clouds.yaml that holds the credentials (the
	// --os-cloud flag); empty: the OS_CLOUD variable, and when that is empty
	// too, the environment as described under Auth. A selected cloud
	// supplies every credential; see clouds.go for the search path, the
	// secure.yaml merge and what still comes from the environment.
	Cloud string

	// Getenv reads the environment (default os.Getenv). Tests inject a map.
	Getenv func(string) string

	// ConnectTimeout bounds connecting and waiting for response headers
	// (default 10s). New also gives up after 10s in total.
	ConnectTimeout time.Duration
	// Timeout is the idle timeout of a request body or response body
	// transfer (default 60s).
	Timeout time.Duration

	// Retries is how many times a request that failed transiently is
	// retried (default 4, so at most 5 attempts). Negative disables
	// retries. See retry.go for what is retried.
	Retries int

	// Logger receives retry and connection messages (default: discard).
	Logger *slog.Logger

	// UserAgent is sent with every request (default "swiftfs/<version>").
	UserAgent string

	// Transport carries the HTTP requests (default: an http.Transport with
	// proxy settings from the environment, and the TLS settings of a
	// selected cloud: cacert, verify, cert, key). Set it for a custom TLS
	// configuration; a cloud's TLS settings then do not apply. ncw/swift can only enforce its timeouts by closing the
	// connection when this is an *http.Transport.
	Transport http.RoundTripper

	// Observer, when set, is told about every HTTP request (observe.go).
	Observer Observer

	// sleep replaces the retry sleeper in tests.
	sleep func(ctx context.Context, d time.Duration) error
	// newTimeout caps New (default 10s); tests shorten it.
	newTimeout time.Duration
	// siteCloudDir replaces /etc/openstack on the clouds.yaml search path
	// in tests.
	siteCloudDir string
}

// Auth is the set of credentials. It supports v1 auth (tempauth, swauth),
// Keystone v3 (password, application credential), Keystone v2 and a
// pre-authenticated storage URL and token. The environment variable that
// fills each field is named in its comment.
type Auth struct {
	URL     string // OS_AUTH_URL, or ST_AUTH for v1 auth
	Version int    // OS_IDENTITY_API_VERSION or ST_AUTH_VERSION; 0: guessed from URL

	User     string // OS_USERNAME, or ST_USER for v1 auth (e.g. "account:user")
	UserID   string // OS_USER_ID
	Password Secret // OS_PASSWORD, or ST_KEY for v1 auth (see Options.PasswordFile)

	UserDomain   string // OS_USER_DOMAIN_NAME
	UserDomainID string // OS_USER_DOMAIN_ID

	Project         string // OS_PROJECT_NAME or OS_TENANT_NAME
	ProjectID       string // OS_PROJECT_ID or OS_TENANT_ID
	ProjectDomain   string // OS_PROJECT_DOMAIN_NAME
	ProjectDomainID string // OS_PROJECT_DOMAIN_ID
	TrustID         string // OS_TRUST_ID

	Region    string // OS_REGION_NAME; empty: the first object-store endpoint
	Interface string // OS_INTERFACE or OS_ENDPOINT_TYPE: public (default), internal or admin

	ApplicationCredentialID     string // OS_APPLICATION_CREDENTIAL_ID
	ApplicationCredentialName   string // OS_APPLICATION_CREDENTIAL_NAME (needs User and UserDomain)
	ApplicationCredentialSecret Secret // OS_APPLICATION_CREDENTIAL_SECRET

	// StorageURL and Token, when both set, are used without authenticating
	// first. When the token expires the client re-authenticates with the
	// other fields if URL is set, and fails with ErrUnauthorized otherwise.
	StorageURL string // OS_STORAGE_URL
	Token      Secret // OS_AUTH_TOKEN
}

// Secret is a password, key or token. It formats as "REDACTED" with every
// fmt verb, in slog output and in JSON/text encodings, so that it can be
// logged as part of a larger value without leaking. Use Reveal to get the
// value.
type Secret string

const redacted = "REDACTED"

// Reveal returns the secret value.
func (s Secret) Reveal() string { return string(s) }

// String implements fmt.Stringer.
func (s Secret) String() string { return redacted }

// GoString implements fmt.GoStringer.
func (s Secret) GoString() string { return redacted }

// Format implements fmt.Formatter, for every verb.
func (s Secret) Format(f fmt.State, verb rune) { io.WriteString(f, redacted) }

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalText implements encoding.TextMarshaler (used by JSON).
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// authMode is how New authenticates.
type authMode int

const (
	authNone      authMode = iota // nothing configured
	authToken                     // pre-authenticated storage URL + token only
	authV1                        // tempauth / swauth
	authV2                        // Keystone v2
	authV3                        // Keystone v3 password
	authV3AppCred                 // Keystone v3 application credential
)

// resolved is Options with defaults applied and credentials complete.
type resolved struct {
	Options
	mode           authMode
	passwordFrom   string // where the password/secret comes from, for messages
	explicitSecret bool   // Options.Auth carried a password or secret itself
	rawURL         string // the auth (or storage) URL as configured, before "/v3" is appended
	cloud          *cloudConfig
	cloudErr       error // reading the selected cloud failed (reported by check)
}

const (
	defaultConnectTimeout = 10 * time.Second
	defaultTimeout        = 60 * time.Second
	defaultRetries        = 4
	defaultNewTimeout     = 10 * time.Second
)

// withDefaults fills defaults and the environment into a copy of o. It does
// not read the password file.
func (o Options) withDefaults() resolved {
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = defaultConnectTimeout
	}
	if o.Timeout <= 0 {
		o.Timeout = defaultTimeout
	}
	if o.Retries == 0 {
		o.Retries = defaultRetries
	} else if o.Retries < 0 {
		o.Retries = 0
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.UserAgent == "" {
		o.UserAgent = "swiftfs/" + version()
	}
	if o.newTimeout <= 0 {
		o.newTimeout = defaultNewTimeout
	}
	if o.siteCloudDir == "" {
		o.siteCloudDir = defaultSiteCloudDir
	}
	r := resolved{Options: o, explicitSecret: o.Auth.Password != "" || o.Auth.ApplicationCredentialSecret != ""}
	if name, from := o.cloudName(); name != "" {
		r.Auth, r.cloud, r.cloudErr = loadCloud(o.Auth, name, from, o.Getenv, o.siteCloudDir)
		switch {
		case r.explicitSecret:
			r.passwordFrom = "Options"
		case r.Auth.Password != "" || r.Auth.ApplicationCredentialSecret != "":
			r.passwordFrom = r.cloud.secretFrom()
		}
	} else {
		r.Auth, r.passwordFrom = fillAuthFromEnv(o.Auth, o.Getenv)
	}
	r.rawURL = firstNonEmpty(r.Auth.URL, r.Auth.StorageURL)
	if o.PasswordFile != "" {
		r.passwordFrom = "file " + o.PasswordFile
	}
	r.mode = r.Auth.mode()
	if r.Auth.URL != "" && r.Auth.Version == 0 {
		r.Auth.Version = versionFromURL(r.Auth.URL, r.mode)
	}
	if r.Auth.Version == 3 && !strings.Contains(r.Auth.URL, "v3") {
		// An unversioned Keystone URL (as openstack CLI accepts with
		// OS_IDENTITY_API_VERSION=3); ncw/swift appends auth/tokens to it.
		r.Auth.URL = strings.TrimRight(r.Auth.URL, "/") + "/v3"
	}
	return r
}

// cloudName is the selected clouds.yaml entry and what selected it.
func (o Options) cloudName() (name, from string) {
	if o.Cloud != "" {
		return o.Cloud, "--os-cloud"
	}
	if v := o.Getenv("OS_CLOUD"); v != "" {
		return v, "OS_CLOUD"
	}
	return "", ""
}

// AuthURL is the auth URL as configured (OS_AUTH_URL, ST_AUTH, a cloud's
// auth_url; OS_STORAGE_URL for a pre-authenticated token), before swiftfs
// appends a version: what names the account a mount's cache belongs to. It
// reads clouds.yaml when a cloud is selected, and is empty when nothing is
// configured or the cloud cannot be read.
func AuthURL(opts Options) string {
	return opts.withDefaults().rawURL
}

// version is the module version for the User-Agent.
func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return strings.TrimPrefix(bi.Main.Version, "v")
	}
	return "dev"
}

// fillAuthFromEnv fills the empty fields of a from the environment. The v1
// variables (ST_*) are used as a group when ST_AUTH provides the URL, so that
// OS_* and ST_* settings are never mixed. It returns the name of the variable
// the password came from.
func fillAuthFromEnv(a Auth, getenv func(string) string) (Auth, string) {
	set := func(dst *string, names ...string) string {
		if *dst != "" {
			return ""
		}
		for _, n := range names {
			if v := getenv(n); v != "" {
				*dst = v
				return n
			}
		}
		return ""
	}
	setSecret := func(dst *Secret, names ...string) string {
		s := string(*dst)
		n := set(&s, names...)
		*dst = Secret(s)
		return n
	}
	passwordFrom := ""
	if a.Password != "" {
		passwordFrom = "Options"
	}
	v1 := false
	if a.URL == "" {
		if v := getenv("OS_AUTH_URL"); v != "" {
			a.URL = v
		} else if v := getenv("ST_AUTH"); v != "" {
			a.URL, v1 = v, true
		}
	}
	if v1 {
		set(&a.User, "ST_USER")
		if n := setSecret(&a.Password, "ST_KEY"); n != "" {
			passwordFrom = n
		}
		if a.Version == 0 {
			a.Version = atoiPrefix(getenv("ST_AUTH_VERSION"))
		}
	} else {
		set(&a.User, "OS_USERNAME", "ST_USER")
		if n := setSecret(&a.Password, "OS_PASSWORD", "ST_KEY"); n != "" {
			passwordFrom = n
		}
		if a.Version == 0 {
			a.Version = atoiPrefix(getenv("OS_IDENTITY_API_VERSION"))
		}
		if a.Version == 0 {
			a.Version = atoiPrefix(getenv("ST_AUTH_VERSION"))
		}
	}
	set(&a.UserID, "OS_USER_ID")
	set(&a.UserDomain, "OS_USER_DOMAIN_NAME")
	set(&a.UserDomainID, "OS_USER_DOMAIN_ID")
	set(&a.Project, "OS_PROJECT_NAME", "OS_TENANT_NAME")
	set(&a.ProjectID, "OS_PROJECT_ID", "OS_TENANT_ID")
	set(&a.ProjectDomain, "OS_PROJECT_DOMAIN_NAME")
	set(&a.ProjectDomainID, "OS_PROJECT_DOMAIN_ID")
	set(&a.TrustID, "OS_TRUST_ID")
	set(&a.Region, "OS_REGION_NAME")
	set(&a.Interface, "OS_INTERFACE", "OS_ENDPOINT_TYPE")
	set(&a.ApplicationCredentialID, "OS_APPLICATION_CREDENTIAL_ID")
	set(&a.ApplicationCredentialName, "OS_APPLICATION_CREDENTIAL_NAME")
	if n := setSecret(&a.ApplicationCredentialSecret, "OS_APPLICATION_CREDENTIAL_SECRET"); n != "" && a.isAppCred() {
		passwordFrom = n
	}
	set(&a.StorageURL, "OS_STORAGE_URL")
	setSecret(&a.Token, "OS_AUTH_TOKEN")
	return a, passwordFrom
}

// atoiPrefix parses "3" and "3.0" as 3; anything else is 0.
func atoiPrefix(s string) int {
	s, _, _ = strings.Cut(s, ".")
	n, err := strconv.Atoi(strings.TrimPrefix(strings.TrimSpace(s), "v"))
	if err != nil {
		return 0
	}
	return n
}

func (a Auth) isAppCred() bool {
	return a.ApplicationCredentialID != "" || a.ApplicationCredentialName != ""
}

// mode tells the authentication mode.
func (a Auth) mode() authMode {
	switch {
	case a.URL == "" && a.StorageURL != "" && a.Token != "":
		return authToken
	case a.URL == "":
		return authNone
	case a.isAppCred():
		return authV3AppCred
	}
	switch a.Version {
	case 1:
		return authV1
	case 2:
		return authV2
	case 3:
		return authV3
	}
	switch versionFromURL(a.URL, authNone) {
	case 1:
		return authV1
	case 2:
		return authV2
	}
	return authV3
}

// versionFromURL guesses the auth version from the URL as ncw/swift does;
// an unversioned URL is taken as Keystone v3.
func versionFromURL(u string, mode authMode) int {
	switch {
	case mode == authV3AppCred:
		return 3
	case strings.Contains(u, "v3"):
		return 3
	case strings.Contains(u, "v2"):
		return 2
	case strings.Contains(u, "v1"):
		return 1
	}
	return 3
}

// endpointType maps OS_INTERFACE values ("public", "internalURL", ...) to
// the interface names of the Keystone catalog.
func endpointType(s string) string {
	s = strings.ToLower(strings.TrimSuffix(strings.TrimSuffix(s, "URL"), "url"))
	return s
}

// check validates the resolved credentials and reads the password file.
// Errors are ErrInvalid and say what to set.
func (r *resolved) check() error {
	if r.Container == "" {
		return configError("no container given")
	}
	if r.cloudErr != nil {
		return r.cloudErr
	}
	if r.PasswordFile != "" {
		if r.explicitSecret {
			return configError("both a password in Options.Auth and a password file are set; use one")
		}
		pw, err := readSecretFile(r.PasswordFile)
		if err != nil {
			return err
		}
		if r.Auth.isAppCred() {
			r.Auth.ApplicationCredentialSecret = pw
		} else {
			r.Auth.Password = pw
		}
	}
	a := r.Auth
	if r.cloud != nil {
		return r.checkCloud()
	}
	switch r.mode {
	case authNone:
		if a.StorageURL != "" || a.Token != "" {
			return configError("OS_STORAGE_URL and OS_AUTH_TOKEN must be set together")
		}
		return configError("no credentials: set OS_AUTH_URL, OS_USERNAME, OS_PASSWORD and OS_PROJECT_NAME " +
			"(Keystone v3), or ST_AUTH, ST_USER and ST_KEY (v1 auth), or OS_STORAGE_URL and OS_AUTH_TOKEN " +
			"(pre-authenticated)")
	case authToken:
		return nil
	case authV3AppCred:
		if a.ApplicationCredentialSecret == "" {
			return configError("application credential %s has no secret: set OS_APPLICATION_CREDENTIAL_SECRET or a password file",
				firstNonEmpty(a.ApplicationCredentialID, a.ApplicationCredentialName))
		}
		if a.ApplicationCredentialID == "" && a.User == "" && a.UserID == "" {
			return configError("application credential name %q needs OS_USERNAME (and OS_USER_DOMAIN_NAME) or OS_USER_ID, or use OS_APPLICATION_CREDENTIAL_ID",
				a.ApplicationCredentialName)
		}
		return nil
	}
	if a.User == "" && a.UserID == "" {
		if r.mode == authV1 {
			return configError("ST_AUTH is set but ST_USER is not")
		}
		return configError("OS_AUTH_URL is set but OS_USERNAME (or OS_USER_ID) is not")
	}
	if a.Password == "" {
		if r.mode == authV1 {
			return configError("ST_AUTH is set but ST_KEY (or a password file) is not")
		}
		return configError("OS_AUTH_URL is set but OS_PASSWORD (or a password file) is not")
	}
	if _, err := url.Parse(a.URL); err != nil {
		return configError("bad auth URL %q: %v", redactURL(a.URL), err)
	}
	return nil
}

// checkCloud is check for credentials from a cloud: its messages name the
// keys of clouds.yaml.
func (r *resolved) checkCloud() error {
	a := r.Auth
	where := fmt.Sprintf("cloud %q in %s", r.cloud.name, r.cloud.file)
	if r.mode == authV3AppCred {
		if a.ApplicationCredentialSecret == "" {
			return configError("%s has no auth.application_credential_secret: put it in secure.yaml (chmod 600) or give a password file", where)
		}
		if a.ApplicationCredentialID == "" && a.User == "" && a.UserID == "" {
			return configError("%s: application_credential_name needs username (and user_domain_name) or user_id, or use application_credential_id", where)
		}
		return nil
	}
	if a.User == "" && a.UserID == "" {
		return configError("%s has no auth.username (or user_id) and no application credential", where)
	}
	if a.Password == "" {
		return configError("%s has no auth.password: put it in secure.yaml (chmod 600) or give a password file", where)
	}
	if _, err := url.Parse(a.URL); err != nil {
		return configError("%s: bad auth_url %q: %v", where, redactURL(a.URL), err)
	}
	return nil
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

func configError(format string, args ...any) error {
	return &Error{Kind: ErrInvalid, Op: "auth", Err: fmt.Errorf(format, args...)}
}

// maxSecretFile bounds what readSecretFile reads.
const maxSecretFile = 64 << 10

// readSecretFile reads a password file after checking that only its owner,
// the current user, can read or write it.
func readSecretFile(path string) (Secret, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", configError("cannot read password file: %v", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", configError("cannot read password file: %v", err)
	}
	if !fi.Mode().IsRegular() {
		return "", configError("password file %s is not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return "", configError("password file %s has mode %04o: it must not be accessible by group or others (chmod 600 %s)",
			path, perm, path)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
		return "", configError("password file %s is owned by uid %d, not by the user running swiftfs (uid %d)",
			path, st.Uid, os.Geteuid())
	}
	data, err := io.ReadAll(io.LimitReader(f, maxSecretFile+1))
	if err != nil {
		return "", configError("cannot read password file: %v", err)
	}
	if len(data) > maxSecretFile {
		return "", configError("password file %s is larger than %d bytes", path, maxSecretFile)
	}
	s := strings.TrimSuffix(string(data), "\n")
	s = strings.TrimSuffix(s, "\r")
	if s == "" {
		return "", configError("password file %s is empty", path)
	}
	return Secret(s), nil
}

// redactURL hides a password in a URL's user information.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	return u.Redacted()
}

// DescribeAuth says, without secrets, which authentication mode, URL, user
// and project New will use with opts, for the daemon's start-up log, and
// which clouds.yaml entry they come from. It does not contact any server or
// read the password file (it does read clouds.yaml and secure.yaml).
func DescribeAuth(opts Options) string {
	r := opts.withDefaults()
	a := r.Auth
	var b strings.Builder
	pw := func(what string) {
		if r.passwordFrom != "" {
			fmt.Fprintf(&b, ", %s from %s", what, r.passwordFrom)
		} else {
			fmt.Fprintf(&b, ", no %s set", what)
		}
	}
	user := func() string {
		u := firstNonEmpty(a.User, a.UserID)
		if d := firstNonEmpty(a.UserDomain, a.UserDomainID); d != "" {
			u += " (domain " + d + ")"
		}
		return u
	}
	scope := func() {
		switch {
		case a.TrustID != "":
			fmt.Fprintf(&b, ", trust %s", a.TrustID)
		case a.ProjectID != "":
			fmt.Fprintf(&b, ", project id %s", a.ProjectID)
		case a.Project != "":
			fmt.Fprintf(&b, ", project %q", a.Project)
			if d := firstNonEmpty(a.ProjectDomain, a.ProjectDomainID); d != "" {
				fmt.Fprintf(&b, " (domain %s)", d)
			}
		default:
			b.WriteString(", unscoped (no project)")
		}
	}
	endpoint := func() {
		if a.Region != "" {
			fmt.Fprintf(&b, ", region %s", a.Region)
		}
		if a.Interface != "" {
			fmt.Fprintf(&b, ", %s interface", endpointType(a.Interface))
		}
	}
	if c := r.cloud; c != nil {
		if r.cloudErr != nil {
			return fmt.Sprintf("cloud %q (%s): cannot be used (the error says why)", c.name, c.from)
		}
		fmt.Fprintf(&b, "cloud %q (%s) from %s", c.name, c.from, c.file)
		if c.secureFile != "" {
			fmt.Fprintf(&b, " and %s", c.secureFile)
		}
		b.WriteString(": ")
	}
	switch r.mode {
	case authNone:
		b.WriteString("no credentials configured")
	case authToken:
		fmt.Fprintf(&b, "pre-authenticated token (OS_AUTH_TOKEN) for storage URL %s; it cannot be renewed when it expires",
			redactURL(a.StorageURL))
	case authV1:
		fmt.Fprintf(&b, "v1 auth at %s as user %q", redactURL(a.URL), user())
		pw("key")
	case authV2:
		fmt.Fprintf(&b, "Keystone v2 at %s as user %q", redactURL(a.URL), user())
		scope()
		endpoint()
		pw("password")
	case authV3:
		fmt.Fprintf(&b, "Keystone v3 password auth at %s as user %q", redactURL(a.URL), user())
		scope()
		endpoint()
		pw("password")
	case authV3AppCred:
		if a.ApplicationCredentialID != "" {
			fmt.Fprintf(&b, "Keystone v3 application credential %s at %s", a.ApplicationCredentialID, redactURL(a.URL))
		} else {
			fmt.Fprintf(&b, "Keystone v3 application credential %q of user %q at %s",
				a.ApplicationCredentialName, user(), redactURL(a.URL))
		}
		endpoint()
		pw("secret")
	}
	if r.mode != authToken && a.StorageURL != "" && a.Token != "" {
		fmt.Fprintf(&b, "; starting with the token from OS_AUTH_TOKEN for %s", redactURL(a.StorageURL))
	}
	if r.Container != "" {
		fmt.Fprintf(&b, "; container %q", r.Container)
	}
	if c := r.cloud; c != nil && c.tls != nil && r.Transport == nil {
		if c.tls.RootCAs != nil {
			b.WriteString("; TLS trusts the cacert bundle only")
		}
		if c.tls.InsecureSkipVerify {
			b.WriteString("; TLS certificates are NOT verified (verify: false)")
		}
	}
	if c := r.cloud; c != nil && len(c.ignored) > 0 {
		fmt.Fprintf(&b, "; ignoring %s from the environment (the cloud supplies the credentials)", strings.Join(c.ignored, ", "))
	}
	return b.String()
}
