package swiftclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// envMap is an injected environment.
func envMap(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

const (
	pw     = "pa55-w0rd-SECRET"
	tok    = "gAAAAA-token-SECRET"
	secret = "app-cred-SECRET"
)

func TestSecretNeverPrinted(t *testing.T) {
	opts := Options{
		Container: "c",
		Auth: Auth{URL: "https://keystone/v3", User: "alice", Password: pw, Token: tok,
			ApplicationCredentialSecret: secret, StorageURL: "https://swift/v1/AUTH_x"},
	}
	r := opts.withDefaults()
	c := newClient(r)
	var outputs []string
	for _, v := range []any{opts.Auth.Password, opts.Auth, opts, &opts, r, c} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T %v"} {
			outputs = append(outputs, fmt.Sprintf(verb, v))
		}
	}
	outputs = append(outputs, fmt.Sprint(opts.Auth.Password), fmt.Sprintln(opts.Auth))
	for _, h := range []func(*bytes.Buffer) slog.Handler{
		func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
		func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
	} {
		var b bytes.Buffer
		l := slog.New(h(&b))
		l.Info("start", "password", opts.Auth.Password, "auth", opts.Auth, "opts", opts, "client", c)
		l.Info("group", slog.Group("g", "token", opts.Auth.Token))
		outputs = append(outputs, b.String())
	}
	js, err := json.Marshal(opts.Auth)
	if err != nil {
		t.Fatal(err)
	}
	outputs = append(outputs, string(js), DescribeAuth(opts))
	for _, out := range outputs {
		for _, s := range []string{pw, tok, secret} {
			if strings.Contains(out, s) {
				t.Errorf("secret %q printed in %q", s, out)
			}
		}
	}
	if got := fmt.Sprintf("%v|%s|%#v", opts.Auth.Password, opts.Auth.Token, opts.Auth.ApplicationCredentialSecret); got != "REDACTED|REDACTED|REDACTED" {
		t.Errorf("Secret formats as %q", got)
	}
	if opts.Auth.Password.Reveal() != pw {
		t.Errorf("Reveal() = %q", opts.Auth.Password.Reveal())
	}
}

func TestAuthFromEnvironment(t *testing.T) {
	tests := []struct {
		name    string
		env     func(string) string
		auth    Auth
		mode    authMode
		check   func(a Auth) string // "" when fine
		pwFrom  string
		wantErr string // from check()
	}{
		{
			name: "v1 from ST_*",
			env:  envMap("ST_AUTH", "http://127.0.0.1:8080/auth/v1.0", "ST_USER", "test:tester", "ST_KEY", "testing", "OS_USERNAME", "not-me"),
			mode: authV1, pwFrom: "ST_KEY",
			check: func(a Auth) string {
				if a.User != "test:tester" || a.Password != "testing" || a.Version != 1 {
					return fmt.Sprintf("user %q version %d", a.User, a.Version)
				}
				return ""
			},
		},
		{
			name: "keystone v3 password",
			env: envMap("OS_AUTH_URL", "https://keystone.example.org:5000/v3", "OS_USERNAME", "alice", "OS_PASSWORD", "pw",
				"OS_PROJECT_NAME", "proj", "OS_USER_DOMAIN_NAME", "Default", "OS_PROJECT_DOMAIN_ID", "default",
				"OS_REGION_NAME", "RegionOne", "OS_INTERFACE", "internal", "ST_KEY", "ignored"),
			mode: authV3, pwFrom: "OS_PASSWORD",
			check: func(a Auth) string {
				if a.User != "alice" || a.Password != "pw" || a.Project != "proj" || a.UserDomain != "Default" ||
					a.ProjectDomainID != "default" || a.Region != "RegionOne" || endpointType(a.Interface) != "internal" || a.Version != 3 {
					return fmt.Sprintf("%+v", a)
				}
				return ""
			},
		},
		{
			name: "unversioned keystone URL gets /v3",
			env:  envMap("OS_AUTH_URL", "https://keystone.example.org:5000/", "OS_USERNAME", "alice", "OS_PASSWORD", "pw", "OS_TENANT_NAME", "legacy"),
			mode: authV3, pwFrom: "OS_PASSWORD",
			check: func(a Auth) string {
				if a.URL != "https://keystone.example.org:5000/v3" || a.Project != "legacy" {
					return fmt.Sprintf("URL %q project %q", a.URL, a.Project)
				}
				return ""
			},
		},
		{
			name: "keystone v2 by version variable",
			env:  envMap("OS_AUTH_URL", "https://keystone/", "OS_IDENTITY_API_VERSION", "2.0", "OS_USERNAME", "bob", "OS_PASSWORD", "pw", "OS_TENANT_ID", "t1", "OS_ENDPOINT_TYPE", "publicURL"),
			mode: authV2, pwFrom: "OS_PASSWORD",
			check: func(a Auth) string {
				if a.Version != 2 || a.ProjectID != "t1" || endpointType(a.Interface) != "public" {
					return fmt.Sprintf("%+v", a)
				}
				return ""
			},
		},
		{
			name: "application credential",
			env:  envMap("OS_AUTH_URL", "https://keystone/v3", "OS_APPLICATION_CREDENTIAL_ID", "ac1", "OS_APPLICATION_CREDENTIAL_SECRET", "s3cret"),
			mode: authV3AppCred, pwFrom: "OS_APPLICATION_CREDENTIAL_SECRET",
		},
		{
			name:    "application credential without secret",
			env:     envMap("OS_AUTH_URL", "https://keystone/v3", "OS_APPLICATION_CREDENTIAL_ID", "ac1"),
			mode:    authV3AppCred,
			wantErr: "has no secret",
		},
		{
			name: "pre-authenticated",
			env:  envMap("OS_STORAGE_URL", "https://swift/v1/AUTH_x", "OS_AUTH_TOKEN", "tok"),
			mode: authToken,
		},
		{
			name:    "nothing",
			env:     envMap(),
			mode:    authNone,
			wantErr: "no credentials: set OS_AUTH_URL",
		},
		{
			name:    "token without storage URL",
			env:     envMap("OS_AUTH_TOKEN", "tok"),
			mode:    authNone,
			wantErr: "OS_STORAGE_URL and OS_AUTH_TOKEN must be set together",
		},
		{
			name:    "URL without password",
			env:     envMap("OS_AUTH_URL", "https://keystone/v3", "OS_USERNAME", "alice"),
			mode:    authV3,
			wantErr: "OS_PASSWORD (or a password file) is not",
		},
		{
			name:    "v1 without user",
			env:     envMap("ST_AUTH", "http://h/auth/v1.0", "ST_KEY", "k"),
			mode:    authV1,
			wantErr: "ST_USER is not",
		},
		{
			name: "explicit fields win",
			env:  envMap("OS_AUTH_URL", "https://env/v3", "OS_USERNAME", "env-user", "OS_PASSWORD", "env-pw"),
			auth: Auth{User: "explicit", Password: "explicit-pw"},
			mode: authV3, pwFrom: "Options",
			check: func(a Auth) string {
				if a.User != "explicit" || a.Password != "explicit-pw" || a.URL != "https://env/v3" {
					return fmt.Sprintf("%+v", a)
				}
				return ""
			},
		},
	}
	for _, tc := range tests {
		r := Options{Container: "c", Auth: tc.auth, Getenv: tc.env}.withDefaults()
		if r.mode != tc.mode {
			t.Errorf("%s: mode %d, want %d", tc.name, r.mode, tc.mode)
		}
		if tc.pwFrom != "" && r.passwordFrom != tc.pwFrom {
			t.Errorf("%s: password from %q, want %q", tc.name, r.passwordFrom, tc.pwFrom)
		}
		if tc.check != nil {
			if msg := tc.check(r.Auth); msg != "" {
				t.Errorf("%s: %s", tc.name, msg)
			}
		}
		err := r.check()
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%s: check() = %v", tc.name, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, ErrInvalid)):
			t.Errorf("%s: check() = %v, want ErrInvalid containing %q", tc.name, err, tc.wantErr)
		}
	}
}

func TestDescribeAuth(t *testing.T) {
	tests := []struct {
		env  func(string) string
		want []string
	}{
		{envMap("ST_AUTH", "http://127.0.0.1:8080/auth/v1.0", "ST_USER", "test:tester", "ST_KEY", pw),
			[]string{"v1 auth at http://127.0.0.1:8080/auth/v1.0", `user "test:tester"`, "key from ST_KEY", `container "c"`}},
		{envMap("OS_AUTH_URL", "https://ks/v3", "OS_USERNAME", "alice", "OS_PASSWORD", pw, "OS_PROJECT_NAME", "p",
			"OS_USER_DOMAIN_NAME", "Default", "OS_PROJECT_DOMAIN_NAME", "Dom", "OS_REGION_NAME", "R1"),
			[]string{"Keystone v3 password auth at https://ks/v3", `user "alice (domain Default)"`, `project "p" (domain Dom)`, "region R1", "password from OS_PASSWORD"}},
		{envMap("OS_AUTH_URL", "https://ks/v3", "OS_APPLICATION_CREDENTIAL_ID", "ac1", "OS_APPLICATION_CREDENTIAL_SECRET", secret),
			[]string{"application credential ac1", "secret from OS_APPLICATION_CREDENTIAL_SECRET"}},
		{envMap("OS_STORAGE_URL", "https://swift/v1/AUTH_x", "OS_AUTH_TOKEN", tok),
			[]string{"pre-authenticated token", "https://swift/v1/AUTH_x", "cannot be renewed"}},
		{envMap("OS_AUTH_URL", "https://user:"+pw+"@ks/v3", "OS_USERNAME", "u", "OS_PASSWORD", pw),
			[]string{"https://user:xxxxx@ks/v3"}},
		{envMap(), []string{"no credentials"}},
	}
	for _, tc := range tests {
		got := DescribeAuth(Options{Container: "c", Getenv: tc.env})
		for _, w := range tc.want {
			if !strings.Contains(got, w) {
				t.Errorf("DescribeAuth = %q, want it to contain %q", got, w)
			}
		}
		for _, s := range []string{pw, tok, secret} {
			if strings.Contains(got, s) {
				t.Errorf("DescribeAuth = %q leaks a secret", got)
			}
		}
	}
	opts := Options{Container: "c", PasswordFile: "/etc/swiftfs/pw", Getenv: envMap("ST_AUTH", "http://h/auth/v1.0", "ST_USER", "u")}
	if got := DescribeAuth(opts); !strings.Contains(got, "key from file /etc/swiftfs/pw") {
		t.Errorf("DescribeAuth with a password file = %q", got)
	}
}

func writeFile(t *testing.T, content string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil { // umask-proof
		t.Fatal(err)
	}
	return p
}

func TestPasswordFile(t *testing.T) {
	v1env := envMap("ST_AUTH", "http://h/auth/v1.0", "ST_USER", "u", "ST_KEY", "from-env")
	check := func(opts Options) (resolved, error) {
		r := opts.withDefaults()
		return r, r.check()
	}

	good := writeFile(t, "file-secret\n", 0o600)
	r, err := check(Options{Container: "c", PasswordFile: good, Getenv: v1env})
	if err != nil || r.Auth.Password.Reveal() != "file-secret" {
		t.Errorf("0600 file: err %v, password %q; want the file's content without the newline", err, r.Auth.Password.Reveal())
	}
	ro := writeFile(t, "read-only\r\n", 0o400)
	if r, err := check(Options{Container: "c", PasswordFile: ro, Getenv: v1env}); err != nil || r.Auth.Password.Reveal() != "read-only" {
		t.Errorf("0400 file: err %v, password %q", err, r.Auth.Password.Reveal())
	}
	app := writeFile(t, "app-secret", 0o600)
	r, err = check(Options{Container: "c", PasswordFile: app, Getenv: envMap("OS_AUTH_URL", "https://ks/v3", "OS_APPLICATION_CREDENTIAL_ID", "ac")})
	if err != nil || r.Auth.ApplicationCredentialSecret.Reveal() != "app-secret" {
		t.Errorf("application credential secret from file: err %v", err)
	}

	for _, tc := range []struct {
		name string
		path string
		want string
	}{
		{"group readable", writeFile(t, "x", 0o640), "chmod 600"},
		{"world readable", writeFile(t, "x", 0o644), "mode 0644"},
		{"group writable", writeFile(t, "x", 0o620), "must not be accessible by group or others"},
		{"empty", writeFile(t, "\n", 0o600), "is empty"},
		{"missing", filepath.Join(t.TempDir(), "nope"), "cannot read password file"},
		{"directory", t.TempDir(), "not a regular file"},
	} {
		if tc.name == "directory" {
			os.Chmod(tc.path, 0o700)
		}
		_, err := check(Options{Container: "c", PasswordFile: tc.path, Getenv: v1env})
		if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want ErrInvalid containing %q", tc.name, err, tc.want)
		}
	}
	if os.Geteuid() == 0 {
		other := writeFile(t, "x", 0o600)
		if err := os.Chown(other, 12345, 12345); err != nil {
			t.Fatal(err)
		}
		_, err := check(Options{Container: "c", PasswordFile: other, Getenv: v1env})
		if err == nil || !strings.Contains(err.Error(), "owned by uid 12345") {
			t.Errorf("file of another user: got %v", err)
		}
	}
	_, err = check(Options{Container: "c", PasswordFile: good, Auth: Auth{Password: "explicit"}, Getenv: v1env})
	if err == nil || !strings.Contains(err.Error(), "use one") {
		t.Errorf("password and password file: got %v, want a refusal", err)
	}
}

func TestNewWithoutCredentials(t *testing.T) {
	_, err := New(context.Background(), Options{Container: "c", Getenv: envMap()})
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "no credentials: set OS_AUTH_URL") ||
		!strings.Contains(err.Error(), "ST_AUTH") {
		t.Errorf("New without credentials: got %v", err)
	}
	_, err = New(context.Background(), Options{Getenv: envMap("ST_AUTH", "http://h/auth/v1.0", "ST_USER", "u", "ST_KEY", "k")})
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "no container") {
		t.Errorf("New without container: got %v", err)
	}
}
