package swiftclient

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"syscall"

	"github.com/gophercloud/gophercloud/v2/openstack/config/clouds"
	"gopkg.in/yaml.v2"
)

// A cloud is an entry of clouds.yaml chosen with Options.Cloud (--os-cloud)
// or OS_CLOUD. gophercloud's clouds.Parse reads it: it merges secure.yaml
// over clouds.yaml and a clouds-public.yaml profile, and builds the TLS
// configuration from cacert, verify, cert and key. This file wraps it where
// swiftfs needs more:
//
//   - It finds the files itself (the search path below), opens each once and
//     hands gophercloud the bytes it checked: a file that holds a password,
//     application credential secret or token must not be accessible by group
//     or others.
//   - It takes the user's and the project's domain from the file, each on its
//     own. gophercloud falls back to domain_name and domain_id field by
//     field, so project_domain_id with domain_name (the user's) gives the
//     project scope that id and the user's domain name at once, and
//     ncw/swift, which prefers the name, would scope to a project of that
//     name in the user's domain. Here a level's own keys, when present, are
//     used alone; domain_name/domain_id only for a level without them, then
//     default_domain.
//   - It refuses what swiftfs cannot do (a token, system scope, other
//     auth_type plugins) instead of authenticating some other way.
//
// A selected cloud supplies every credential; the OS_* and ST_* credential
// variables are then ignored (DescribeAuth names the ones that are set).
// OS_REGION_NAME, OS_INTERFACE, OS_CACERT, OS_CERT and OS_KEY still override
// region_name, interface, cacert, cert and key, as gophercloud and the
// openstack CLI do. docs/CONFIGURATION.md#cloudsyaml is the user's view.

// cloudConfig is what a selected cloud resolved to, besides Auth.
type cloudConfig struct {
	name       string
	from       string   // "--os-cloud" or "OS_CLOUD"
	file       string   // the clouds.yaml read
	secureFile string   // the secure.yaml read, if any
	ignored    []string // OS_*/ST_* credential variables set but not used
	tls        *tls.Config
	// secureSecret: the password or secret is in secureFile, not file.
	secureSecret bool
}

// secretFrom names the file the cloud's password or secret came from.
func (c *cloudConfig) secretFrom() string {
	if c.secureSecret {
		return c.secureFile
	}
	return c.file
}

// credentialVars are the variables a selected cloud makes swiftfs ignore.
var credentialVars = []string{
	"OS_AUTH_URL", "OS_USERNAME", "OS_USER_ID", "OS_PASSWORD", "OS_USER_DOMAIN_NAME", "OS_USER_DOMAIN_ID",
	"OS_PROJECT_NAME", "OS_TENANT_NAME", "OS_PROJECT_ID", "OS_TENANT_ID", "OS_PROJECT_DOMAIN_NAME",
	"OS_PROJECT_DOMAIN_ID", "OS_TRUST_ID", "OS_IDENTITY_API_VERSION", "OS_APPLICATION_CREDENTIAL_ID",
	"OS_APPLICATION_CREDENTIAL_NAME", "OS_APPLICATION_CREDENTIAL_SECRET", "OS_STORAGE_URL", "OS_AUTH_TOKEN",
	"ST_AUTH", "ST_USER", "ST_KEY", "ST_AUTH_VERSION",
}

// cloudSearchPath is where clouds.yaml (or secure.yaml) is looked for, in
// order, as the openstack CLI does: the file named by envVar
// (OS_CLIENT_CONFIG_FILE, OS_CLIENT_SECURE_FILE), the current directory,
// $XDG_CONFIG_HOME/openstack and ~/.config/openstack, /etc/openstack.
func cloudSearchPath(base, envVar string, getenv func(string) string, siteDir string) []string {
	var out []string
	if f := getenv(envVar); f != "" {
		out = append(out, f)
	}
	if wd, err := os.Getwd(); err == nil {
		out = append(out, filepath.Join(wd, base))
	}
	home := getenv("HOME")
	if home == "" {
		home, _ = os.UserHomeDir()
	}
	if x := getenv("XDG_CONFIG_HOME"); x != "" {
		out = append(out, filepath.Join(x, "openstack", base))
	}
	if home != "" {
		out = append(out, filepath.Join(home, ".config", "openstack", base))
	}
	out = append(out, filepath.Join(siteDir, base))
	return slices.Compact(out)
}

// defaultSiteCloudDir is the system-wide directory of the search path
// (Options.siteCloudDir replaces it in tests).
const defaultSiteCloudDir = "/etc/openstack"

// cloudFile is one clouds.yaml or secure.yaml, read once.
type cloudFile struct {
	path   string
	data   []byte
	clouds map[string]clouds.Cloud
}

// readCloudFile opens the first file of paths that exists. mustExist is the
// explicitly named file (OS_CLIENT_CONFIG_FILE), an error when missing. A
// nil file and nil error: none found.
func readCloudFile(paths []string, mustExist string) (*cloudFile, error) {
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			if p == mustExist || !(errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)) {
				return nil, configError("cannot read %s: %v", p, err)
			}
			continue
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			return nil, configError("cannot read %s: %v", p, err)
		}
		if !fi.Mode().IsRegular() {
			return nil, configError("%s is not a regular file", p)
		}
		data, err := io.ReadAll(io.LimitReader(f, maxCloudFile+1))
		if err != nil {
			return nil, configError("cannot read %s: %v", p, err)
		}
		if len(data) > maxCloudFile {
			return nil, configError("%s is larger than %d bytes", p, maxCloudFile)
		}
		var c clouds.Clouds
		if err := yaml.Unmarshal(data, &c); err != nil {
			return nil, configError("%s is not a valid clouds file: %s", p, scrubYAMLError(err))
		}
		if perm := fi.Mode().Perm(); perm&0o077 != 0 {
			if name := cloudWithSecret(c.Clouds); name != "" {
				return nil, configError("%s holds a secret (cloud %q) but has mode %04o: it must not be accessible by group or others (chmod 600 %s)",
					p, name, perm, p)
			}
		}
		return &cloudFile{path: p, data: data, clouds: c.Clouds}, nil
	}
	return nil, nil
}

// maxCloudFile bounds what readCloudFile reads.
const maxCloudFile = 1 << 20

// cloudWithSecret returns the name of a cloud in m that holds a password,
// application credential secret or token, or "".
func cloudWithSecret(m map[string]clouds.Cloud) string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if a := m[n].AuthInfo; a != nil && (a.Password != "" || a.ApplicationCredentialSecret != "" || a.Token != "") {
			return n
		}
	}
	return ""
}

// yamlQuoted is how yaml.v2 quotes a value in a type error.
var yamlQuoted = regexp.MustCompile("`[^`]*`")

// scrubYAMLError keeps the line numbers of a YAML error but not the values
// it quotes (which could be a misplaced password).
func scrubYAMLError(err error) string {
	return yamlQuoted.ReplaceAllString(err.Error(), "`...`")
}

// authTypes are the clouds.yaml auth_type values swiftfs handles.
var authTypes = []clouds.AuthType{"", clouds.AuthPassword, clouds.AuthV3Password, clouds.AuthV2Password,
	clouds.AuthV3ApplicationCredential}

// loadCloud resolves cloud name into a, filling only the fields a leaves
// empty (fields set in Options.Auth win). getenv is Options.Getenv, siteDir
// the last directory of the search path.
func loadCloud(a Auth, name, from string, getenv func(string) string, siteDir string) (Auth, *cloudConfig, error) {
	cc := &cloudConfig{name: name, from: from}
	for _, v := range credentialVars {
		if getenv(v) != "" {
			cc.ignored = append(cc.ignored, v)
		}
	}
	main, err := readCloudFile(cloudSearchPath("clouds.yaml", "OS_CLIENT_CONFIG_FILE", getenv, siteDir), getenv("OS_CLIENT_CONFIG_FILE"))
	if err != nil {
		return a, cc, err
	}
	if main == nil {
		return a, cc, configError("%s=%s, but no clouds.yaml was found (looked in %s)", from, name,
			strings.Join(cloudSearchPath("clouds.yaml", "OS_CLIENT_CONFIG_FILE", getenv, siteDir), ", "))
	}
	cc.file = main.path
	sec, err := readCloudFile(cloudSearchPath("secure.yaml", "OS_CLIENT_SECURE_FILE", getenv, siteDir), getenv("OS_CLIENT_SECURE_FILE"))
	if err != nil {
		return a, cc, err
	}
	base, ok := main.clouds[name]
	if !ok {
		names := make([]string, 0, len(main.clouds))
		for n := range main.clouds {
			names = append(names, n)
		}
		sort.Strings(names)
		return a, cc, configError("cloud %q (%s) is not in %s (it has: %s)", name, from, main.path, strings.Join(names, ", "))
	}
	var over clouds.Cloud
	opts := []clouds.ParseOption{
		clouds.WithCloudName(name),
		clouds.WithCloudsYAML(bytes.NewReader(main.data)),
		clouds.WithRegion(getenv("OS_REGION_NAME")),
		clouds.WithEndpointType(firstNonEmpty(getenv("OS_INTERFACE"), getenv("OS_ENDPOINT_TYPE"))),
		clouds.WithCACertPath(getenv("OS_CACERT")),
		clouds.WithClientCertPath(getenv("OS_CERT")),
		clouds.WithClientKeyPath(getenv("OS_KEY")),
	}
	if sec != nil {
		cc.secureFile = sec.path
		over = sec.clouds[name]
		if over.AuthInfo != nil && (over.AuthInfo.Password != "" || over.AuthInfo.ApplicationCredentialSecret != "") {
			cc.secureSecret = true
		}
		opts = append(opts, clouds.WithSecureYAML(bytes.NewReader(sec.data)))
	}
	where := fmt.Sprintf("cloud %q in %s", name, main.path)
	ao, eo, tlsConfig, err := clouds.Parse(opts...)
	if err != nil {
		return a, cc, configError("%s: %v", where, err)
	}
	authType := firstNonEmpty(string(over.AuthType), string(base.AuthType))
	if !slices.Contains(authTypes, clouds.AuthType(authType)) {
		return a, cc, configError("%s: auth_type %q is not supported (use password, v3password or v3applicationcredential)", where, authType)
	}
	if ao.TokenID != "" {
		return a, cc, configError("%s: token authentication is not supported (use a password or an application credential)", where)
	}
	if ao.Scope != nil && ao.Scope.System {
		return a, cc, configError("%s: system_scope is not supported (Swift needs a project)", where)
	}
	if ao.IdentityEndpoint == "" {
		return a, cc, configError("%s has no auth.auth_url", where)
	}
	cc.tls = tlsConfig

	userDomain, userDomainID, projDomain, projDomainID := cloudDomains(over, base)

	set := func(dst *string, v string) {
		if *dst == "" {
			*dst = v
		}
	}
	setSecret := func(dst *Secret, v string) {
		if *dst == "" {
			*dst = Secret(v)
		}
	}
	set(&a.URL, ao.IdentityEndpoint)
	if a.Version == 0 {
		a.Version = atoiPrefix(firstNonEmpty(over.IdentityAPIVersion, base.IdentityAPIVersion))
	}
	if a.Version == 0 {
		// Always Keystone: never v1 auth, whatever the URL looks like.
		a.Version = 3
		if strings.Contains(a.URL, "/v2") {
			a.Version = 2
		}
	}
	set(&a.User, ao.Username)
	set(&a.UserID, ao.UserID)
	setSecret(&a.Password, ao.Password)
	if a.UserDomain == "" && a.UserDomainID == "" {
		a.UserDomain, a.UserDomainID = userDomain, userDomainID
	}
	set(&a.Project, ao.TenantName)
	set(&a.ProjectID, ao.TenantID)
	if a.ProjectDomain == "" && a.ProjectDomainID == "" {
		a.ProjectDomain, a.ProjectDomainID = projDomain, projDomainID
	}
	if ao.Scope != nil {
		set(&a.TrustID, ao.Scope.TrustID)
	}
	set(&a.Region, eo.Region)
	if a.Interface == "" && eo.Availability != "" {
		a.Interface = string(eo.Availability)
	}
	set(&a.ApplicationCredentialID, ao.ApplicationCredentialID)
	set(&a.ApplicationCredentialName, ao.ApplicationCredentialName)
	setSecret(&a.ApplicationCredentialSecret, ao.ApplicationCredentialSecret)
	return a, cc, nil
}

// cloudDomains takes the user's and the project's domain (name, id) from
// the cloud's entries in secure.yaml (over) and clouds.yaml (base), each
// level from its own keys when it has any, else from domain_name and
// domain_id, else default_domain (an id). A clouds-public.yaml profile's
// domains are not used.
func cloudDomains(over, base clouds.Cloud) (userName, userID, projName, projID string) {
	ai := func(c clouds.Cloud) clouds.AuthInfo {
		if c.AuthInfo == nil {
			return clouds.AuthInfo{}
		}
		return *c.AuthInfo
	}
	s, b := ai(over), ai(base)
	pick := func(f func(clouds.AuthInfo) string) string { return firstNonEmpty(f(s), f(b)) }
	domain := func(nameKey, idKey func(clouds.AuthInfo) string) (string, string) {
		if n, id := pick(nameKey), pick(idKey); n != "" || id != "" {
			return n, id
		}
		if n, id := pick(func(x clouds.AuthInfo) string { return x.DomainName }),
			pick(func(x clouds.AuthInfo) string { return x.DomainID }); n != "" || id != "" {
			return n, id
		}
		return "", pick(func(x clouds.AuthInfo) string { return x.DefaultDomain })
	}
	userName, userID = domain(func(x clouds.AuthInfo) string { return x.UserDomainName },
		func(x clouds.AuthInfo) string { return x.UserDomainID })
	projName, projID = domain(func(x clouds.AuthInfo) string { return x.ProjectDomainName },
		func(x clouds.AuthInfo) string { return x.ProjectDomainID })
	return userName, userID, projName, projID
}
