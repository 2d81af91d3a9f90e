package swiftclient

import (
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// cloudDir writes clouds.yaml (and secure.yaml unless empty) into a fresh
// directory with the given modes and returns it with an environment that
// points the search path there and nowhere else.
func cloudDir(t *testing.T, cloudsYAML string, mode os.FileMode, secureYAML string, smode os.FileMode) (string, []string) {
	t.Helper()
	dir := t.TempDir()
	write := func(name, s string, m os.FileMode) {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), m); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, m); err != nil {
			t.Fatal(err)
		}
	}
	write("clouds.yaml", cloudsYAML, mode)
	env := []string{"HOME", dir, "XDG_CONFIG_HOME", dir, "OS_CLIENT_CONFIG_FILE", filepath.Join(dir, "clouds.yaml")}
	if secureYAML != "" {
		write("secure.yaml", secureYAML, smode)
		env = append(env, "OS_CLIENT_SECURE_FILE", filepath.Join(dir, "secure.yaml"))
	}
	return dir, env
}

const cloudsPlain = `clouds:
  other:
    auth: {auth_url: "https://elsewhere:5000/v3", username: bob}
  lsst:
    region_name: RegionOne
    interface: internal
    identity_api_version: 3
    auth:
      auth_url: https://keystone.example.org:5000
      username: jdoe
      user_domain_name: Users
      project_name: butler
      project_domain_id: dom-b
`

const securePassword = `clouds:
  lsst:
    auth:
      password: ` + pw + `
`

func TestCloudsYAML(t *testing.T) {
	tests := []struct {
		name               string
		clouds             string
		mode               os.FileMode
		secure             string
		smode              os.FileMode
		env                []string // added to the environment of cloudDir
		opts               Options  // Container and Getenv are set by the test
		want               Auth     // compared field by field when wantErr is empty
		wantMode           authMode
		wantErr            string
		wantDesc, wantNone []string // substrings of DescribeAuth (present, absent)
	}{
		{
			name:   "password in secure.yaml, project in another domain than its user",
			clouds: cloudsPlain, mode: 0o644, secure: securePassword, smode: 0o600,
			env: []string{"OS_CLOUD", "lsst"},
			want: Auth{URL: "https://keystone.example.org:5000/v3", Version: 3, User: "jdoe", Password: pw,
				UserDomain: "Users", Project: "butler", ProjectDomainID: "dom-b", Region: "RegionOne", Interface: "internal"},
			wantMode: authV3,
			wantDesc: []string{`cloud "lsst" (OS_CLOUD) from `, "secure.yaml", `as user "jdoe (domain Users)"`,
				`project "butler" (domain dom-b)`, "password from ", "region RegionOne", "internal interface"},
		},
		{
			// gophercloud would scope to project domain name "Default"
			// (domain_name) and id dom-b at once; ncw/swift sends the name.
			name: "domain_name is the user's, project_domain_id the project's",
			clouds: `clouds:
  c:
    auth: {auth_url: "http://ks:5000/v3", username: u, password: p, domain_name: Default, project_name: x, project_domain_id: dom-b}
`, mode: 0o600,
			opts:     Options{Cloud: "c"},
			want:     Auth{URL: "http://ks:5000/v3", User: "u", Password: "p", UserDomain: "Default", Project: "x", ProjectDomainID: "dom-b"},
			wantMode: authV3,
		},
		{
			name: "domain_id stands for both, default_domain last",
			clouds: `clouds:
  c:
    auth: {auth_url: "http://ks:5000/v3", username: u, password: p, domain_id: d1, project_name: x}
  d:
    auth: {auth_url: "http://ks:5000/v3", username: u, password: p, default_domain: d2, project_name: x, user_domain_name: Users}
`, mode: 0o600,
			opts: Options{Cloud: "c"},
			want: Auth{User: "u", UserDomainID: "d1", Project: "x", ProjectDomainID: "d1"},
		},
		{
			name: "default_domain fills only the level without a domain",
			clouds: `clouds:
  d:
    auth: {auth_url: "http://ks:5000/v3", username: u, password: p, default_domain: d2, project_name: x, user_domain_name: Users}
`, mode: 0o600,
			opts: Options{Cloud: "d"},
			want: Auth{UserDomain: "Users", ProjectDomainID: "d2"},
		},
		{
			name: "application credential; --os-cloud wins over OS_CLOUD; OS_* credentials ignored",
			clouds: `clouds:
  ac:
    auth_type: v3applicationcredential
    auth: {auth_url: "http://ks:5000/v3", application_credential_id: ac1}
`, mode: 0o644,
			secure: "clouds:\n  ac:\n    auth: {application_credential_secret: " + secret + "}\n", smode: 0o400,
			env: []string{"OS_CLOUD", "lsst", "OS_USERNAME", "envuser", "OS_PASSWORD", "envpw", "OS_AUTH_URL", "http://env/v3",
				"ST_AUTH", "http://st/auth/v1.0", "OS_REGION_NAME", "RegionTwo"},
			opts:     Options{Cloud: "ac"},
			want:     Auth{URL: "http://ks:5000/v3", ApplicationCredentialID: "ac1", ApplicationCredentialSecret: secret, Region: "RegionTwo"},
			wantMode: authV3AppCred,
			wantDesc: []string{`cloud "ac" (--os-cloud)`, "application credential ac1", "secret from ", "secure.yaml",
				"ignoring OS_AUTH_URL, OS_USERNAME, OS_PASSWORD, ST_AUTH from the environment", "region RegionTwo"},
			wantNone: []string{"envuser", "http://env"},
		},
		{
			name: "password file wins over the cloud's password", clouds: cloudsPlain, mode: 0o644,
			secure: securePassword, smode: 0o600, opts: Options{Cloud: "lsst", PasswordFile: "FILE"},
			want: Auth{Password: "from-file"}, wantDesc: []string{"password from file "},
		},
		{
			name: "no password anywhere", clouds: cloudsPlain, mode: 0o644, opts: Options{Cloud: "lsst"},
			wantErr: `cloud "lsst" in DIR/clouds.yaml has no auth.password: put it in secure.yaml (chmod 600) or give a password file`,
		},
		{
			name: "clouds.yaml with a password readable by others", clouds: cloudsPlain + "    \n  p:\n    auth: {password: x}\n",
			mode: 0o644, opts: Options{Cloud: "lsst"},
			wantErr: `DIR/clouds.yaml holds a secret (cloud "p") but has mode 0644: it must not be accessible by group or others (chmod 600 DIR/clouds.yaml)`,
		},
		{
			name: "secure.yaml readable by its group", clouds: cloudsPlain, mode: 0o644, secure: securePassword, smode: 0o640,
			opts:    Options{Cloud: "lsst"},
			wantErr: `DIR/secure.yaml holds a secret (cloud "lsst") but has mode 0640: it must not be accessible by group or others (chmod 600 DIR/secure.yaml)`,
		},
		{
			name: "unknown cloud", clouds: cloudsPlain, mode: 0o644, opts: Options{Cloud: "nope"},
			wantErr: `cloud "nope" (--os-cloud) is not in DIR/clouds.yaml (it has: lsst, other)`,
		},
		{
			name: "OS_CLIENT_CONFIG_FILE names a missing file", clouds: cloudsPlain, mode: 0o644,
			env: []string{"OS_CLIENT_CONFIG_FILE", "/nonexistent/clouds.yaml"}, opts: Options{Cloud: "lsst"},
			wantErr: "cannot read /nonexistent/clouds.yaml: open /nonexistent/clouds.yaml: no such file or directory",
		},
		{
			name: "token auth refused", clouds: "clouds:\n  t:\n    auth_type: token\n    auth: {auth_url: \"http://ks/v3\", token: abc}\n",
			mode: 0o600, opts: Options{Cloud: "t"},
			wantErr: `cloud "t" in DIR/clouds.yaml: auth_type "token" is not supported (use password, v3password or v3applicationcredential)`,
		},
		{
			name: "token without auth_type refused", clouds: "clouds:\n  t:\n    auth: {auth_url: \"http://ks/v3\", token: abc}\n",
			mode: 0o600, opts: Options{Cloud: "t"},
			wantErr: `cloud "t" in DIR/clouds.yaml: token authentication is not supported`,
		},
		{
			name: "system scope refused", clouds: "clouds:\n  s:\n    auth: {auth_url: \"http://ks/v3\", username: u, password: p, system_scope: all}\n",
			mode: 0o600, opts: Options{Cloud: "s"},
			wantErr: `cloud "s" in DIR/clouds.yaml: system_scope is not supported (Swift needs a project)`,
		},
		{
			name: "no auth_url", clouds: "clouds:\n  s:\n    auth: {username: u, password: p}\n",
			mode: 0o600, opts: Options{Cloud: "s"}, wantErr: `cloud "s" in DIR/clouds.yaml has no auth.auth_url`,
		},
		{
			name: "YAML error does not echo values", clouds: "clouds:\n  s:\n    auth: " + pw + "\n",
			mode: 0o600, opts: Options{Cloud: "s"}, wantErr: "DIR/clouds.yaml is not a valid clouds file: yaml: unmarshal errors:\n  line 3: cannot unmarshal !!str `...`",
		},
		{
			name: "verify false", clouds: "clouds:\n  v:\n    verify: false\n    auth: {auth_url: \"https://ks/v3\", username: u, password: p}\n",
			mode: 0o600, opts: Options{Cloud: "v"}, want: Auth{User: "u"},
			wantDesc: []string{"TLS certificates are NOT verified (verify: false)"},
		},
		{
			name: "cacert that is not a certificate", clouds: "clouds:\n  v:\n    cacert: DIR/clouds.yaml\n    auth: {auth_url: \"https://ks/v3\", username: u, password: p}\n",
			mode: 0o600, opts: Options{Cloud: "v"}, wantErr: `cloud "v" in DIR/clouds.yaml: unable to compute TLS configuration: failed to parse the CA Cert from "DIR/clouds.yaml"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, env := cloudDir(t, tt.clouds, tt.mode, tt.secure, tt.smode)
			expand := func(s string) string { return strings.ReplaceAll(s, "DIR", dir) }
			if strings.Contains(tt.clouds, "DIR") {
				os.WriteFile(filepath.Join(dir, "clouds.yaml"), []byte(expand(tt.clouds)), tt.mode)
			}
			opts := tt.opts
			opts.Container = "c"
			opts.Getenv = envMap(append(env, tt.env...)...)
			opts.siteCloudDir = t.TempDir() // not /etc/openstack
			if opts.PasswordFile == "FILE" {
				opts.PasswordFile = writeFile(t, "from-file\n", 0o600)
			}
			r := opts.withDefaults()
			err := r.check()
			if tt.wantErr != "" {
				if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), expand(tt.wantErr)) {
					t.Fatalf("error %v, want ErrInvalid with %q", err, expand(tt.wantErr))
				}
				for _, s := range []string{pw, secret} {
					if strings.Contains(err.Error(), s) {
						t.Errorf("error shows a secret: %v", err)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("check: %v", err)
			}
			checkAuthFields(t, r.Auth, tt.want)
			if tt.wantMode != 0 && r.mode != tt.wantMode {
				t.Errorf("mode %d, want %d", r.mode, tt.wantMode)
			}
			desc := DescribeAuth(opts)
			for _, s := range tt.wantDesc {
				if !strings.Contains(desc, s) {
					t.Errorf("DescribeAuth %q lacks %q", desc, s)
				}
			}
			for _, s := range append(tt.wantNone, pw, secret) {
				if strings.Contains(desc, s) {
					t.Errorf("DescribeAuth %q shows %q", desc, s)
				}
			}
			if tt.name == "verify false" && (r.cloud.tls == nil || !r.cloud.tls.InsecureSkipVerify) {
				t.Errorf("verify: false gave TLS config %+v", r.cloud.tls)
			}
		})
	}
}

// checkAuthFields compares the non-empty fields of want.
func checkAuthFields(t *testing.T, got, want Auth) {
	t.Helper()
	for _, f := range []struct {
		name      string
		got, want string
	}{
		{"URL", got.URL, want.URL}, {"User", got.User, want.User}, {"UserID", got.UserID, want.UserID},
		{"Password", got.Password.Reveal(), want.Password.Reveal()}, {"UserDomain", got.UserDomain, want.UserDomain},
		{"UserDomainID", got.UserDomainID, want.UserDomainID}, {"Project", got.Project, want.Project},
		{"ProjectID", got.ProjectID, want.ProjectID}, {"ProjectDomain", got.ProjectDomain, want.ProjectDomain},
		{"ProjectDomainID", got.ProjectDomainID, want.ProjectDomainID}, {"Region", got.Region, want.Region},
		{"Interface", got.Interface, want.Interface}, {"ApplicationCredentialID", got.ApplicationCredentialID, want.ApplicationCredentialID},
		{"ApplicationCredentialSecret", got.ApplicationCredentialSecret.Reveal(), want.ApplicationCredentialSecret.Reveal()},
		{"StorageURL", got.StorageURL, want.StorageURL},
	} {
		if f.want != "" && f.got != f.want {
			t.Errorf("%s = %q, want %q", f.name, f.got, f.want)
		}
	}
	// A domain level given by name must not also carry another level's id.
	if want.ProjectDomainID != "" && want.ProjectDomain == "" && got.ProjectDomain != "" {
		t.Errorf("ProjectDomain = %q, want none (the project's domain is id %s)", got.ProjectDomain, want.ProjectDomainID)
	}
	if want.UserDomain != "" && want.UserDomainID == "" && got.UserDomainID != "" {
		t.Errorf("UserDomainID = %q, want none", got.UserDomainID)
	}
	if want.Version != 0 && got.Version != want.Version {
		t.Errorf("Version = %d, want %d", got.Version, want.Version)
	}
}

// TestCloudsSearchPath finds clouds.yaml in $XDG_CONFIG_HOME/openstack,
// ~/.config/openstack and the site directory, in that order, and secure.yaml
// independently of it.
func TestCloudsSearchPath(t *testing.T) {
	xdg, home, site := t.TempDir(), t.TempDir(), t.TempDir()
	write := func(dir, name, s string) {
		os.MkdirAll(dir, 0o700)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cloud := func(user string) string {
		return "clouds:\n  c:\n    auth: {auth_url: \"http://ks/v3\", username: " + user + "}\n"
	}
	env := envMap("HOME", home, "XDG_CONFIG_HOME", xdg, "OS_CLOUD", "c")
	user := func() (string, error) {
		r := Options{Container: "c", Getenv: env, siteCloudDir: site}.withDefaults()
		if err := r.check(); err != nil {
			return "", err
		}
		return r.Auth.User + " " + r.passwordFrom, nil
	}
	if _, err := user(); err == nil || !strings.Contains(err.Error(), "OS_CLOUD=c, but no clouds.yaml was found (looked in ") {
		t.Fatalf("no clouds.yaml: %v", err)
	}
	write(site, "clouds.yaml", cloud("site"))
	write(site, "secure.yaml", "clouds:\n  c:\n    auth: {password: sitepw}\n")
	if u, err := user(); err != nil || u != "site "+filepath.Join(site, "secure.yaml") {
		t.Errorf("site clouds.yaml: %q, %v", u, err)
	}
	write(filepath.Join(home, ".config", "openstack"), "clouds.yaml", cloud("home"))
	if u, err := user(); err != nil || u != "home "+filepath.Join(site, "secure.yaml") {
		t.Errorf("~/.config/openstack/clouds.yaml: %q, %v", u, err)
	}
	write(filepath.Join(xdg, "openstack"), "clouds.yaml", cloud("xdg"))
	if u, err := user(); err != nil || !strings.HasPrefix(u, "xdg ") {
		t.Errorf("$XDG_CONFIG_HOME/openstack/clouds.yaml: %q, %v", u, err)
	}
	if got := AuthURL(Options{Getenv: env, siteCloudDir: site}); got != "http://ks/v3" {
		t.Errorf("AuthURL = %q", got)
	}
}

// TestAuthURLFromEnvironment: AuthURL is what names a mount's cache
// directory, so without a cloud it must stay the raw variable.
func TestAuthURLFromEnvironment(t *testing.T) {
	for _, tt := range []struct {
		env  []string
		want string
	}{
		{[]string{"OS_AUTH_URL", "http://ks:5000", "ST_AUTH", "http://st/auth/v1.0"}, "http://ks:5000"},
		{[]string{"ST_AUTH", "http://st/auth/v1.0", "OS_STORAGE_URL", "http://s/v1/AUTH_x"}, "http://st/auth/v1.0"},
		{[]string{"OS_STORAGE_URL", "http://s/v1/AUTH_x", "OS_AUTH_TOKEN", "t"}, "http://s/v1/AUTH_x"},
		{nil, ""},
	} {
		if got := AuthURL(Options{Getenv: envMap(tt.env...)}); got != tt.want {
			t.Errorf("AuthURL(%v) = %q, want %q", tt.env, got, tt.want)
		}
	}
}

// TestCloudsKeystoneScope authenticates against the fake Keystone with a
// cloud whose user and project live in different domains, and checks the
// domains sent; then over TLS with the server's certificate as cacert.
func TestCloudsKeystoneScope(t *testing.T) {
	site := t.TempDir() // not /etc/openstack
	m := newMiniSwift(t)
	k := newFakeKeystone(t, m)
	ctx := context.Background()
	cloudsYAML := fmt.Sprintf(`clouds:
  split:
    region_name: RegionOne
    auth:
      auth_url: %s
      username: alice
      domain_name: Default
      project_name: proj
      project_domain_id: dom-b
`, k.srv.URL)
	_, env := cloudDir(t, cloudsYAML, 0o644, "clouds:\n  split:\n    auth:\n      password: pw\n", 0o600)
	if _, err := New(ctx, Options{Container: "c", Cloud: "split", Getenv: envMap(env...), siteCloudDir: site}); err != nil {
		t.Fatalf("New with cloud split: %v", err)
	}
	k.mu.Lock()
	req := k.requests[len(k.requests)-1]
	k.mu.Unlock()
	auth := req["auth"].(map[string]any)
	userDomain := fmt.Sprint(auth["identity"].(map[string]any)["password"].(map[string]any)["user"].(map[string]any)["domain"])
	projDomain := fmt.Sprint(auth["scope"].(map[string]any)["project"].(map[string]any)["domain"])
	if userDomain != "map[name:Default]" || projDomain != "map[id:dom-b]" {
		t.Errorf("user domain %s, project domain %s; want map[name:Default] and map[id:dom-b]", userDomain, projDomain)
	}

	// TLS: the same Keystone behind a certificate only cacert trusts.
	tk := &fakeKeystone{swift: m}
	tk.srv = httptest.NewUnstartedServer(tk)
	tk.srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake
	tk.srv.StartTLS()
	t.Cleanup(tk.srv.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tk.srv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		extra   string
		wantErr string
	}{
		{"", "certificate"},
		{"    cacert: " + ca + "\n", ""},
		{"    verify: false\n", ""},
	} {
		y := "clouds:\n  tls:\n" + tt.extra + "    auth: {auth_url: \"" + tk.srv.URL + "/v3\", username: alice, password: pw, project_name: proj, user_domain_name: Default}\n"
		_, env := cloudDir(t, y, 0o600, "", 0)
		_, err := New(ctx, Options{Container: "c", Cloud: "tls", Getenv: envMap(env...), siteCloudDir: site})
		if tt.wantErr == "" && err != nil {
			t.Errorf("cloud with %q: %v", tt.extra, err)
		}
		if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("cloud without cacert: %v, want a certificate error", err)
		}
	}
}
