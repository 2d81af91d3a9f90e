//go:build integration && linux

package integration

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/swiftfs/swiftfs/swiftclient"
)

// The clouds.yaml tests need the real Keystone (make it-keystone:
// test/integration/saio/swift.sh env --keystone). SWIFTFS_TEST_REQUIRE_KEYSTONE=1
// (set by that target) turns their skip into a failure.
func keystoneURL(t *testing.T) string {
	t.Helper()
	u := getenvFrom(env)("OS_AUTH_URL")
	if backend != "real" || u == "" {
		msg := "clouds.yaml tests need the real Swift with Keystone (eval \"$(test/integration/saio/swift.sh env --keystone)\")"
		if os.Getenv("SWIFTFS_TEST_REQUIRE_KEYSTONE") == "1" {
			t.Fatal(msg + ", and SWIFTFS_TEST_REQUIRE_KEYSTONE=1")
		}
		t.Skip(msg)
	}
	return strings.TrimRight(u, "/")
}

// ksClient is a tiny admin client of the Keystone v3 API, for test set-up.
type ksClient struct {
	t      *testing.T
	url    string // .../v3
	token  string
	userID string // the token's user
}

func newKSClient(t *testing.T, url, user, password, project string) *ksClient {
	k := &ksClient{t: t, url: url}
	body := fmt.Sprintf(`{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":%q,"domain":{"id":"default"},"password":%q}}},
		"scope":{"project":{"name":%q,"domain":{"id":"default"}}}}}`, user, password, project)
	resp, err := http.Post(url+"/auth/tokens", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("keystone token for %s: %s %s", user, resp.Status, b)
	}
	k.token = resp.Header.Get("X-Subject-Token")
	var tok struct {
		Token struct{ User struct{ ID string } } `json:"token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil {
		t.Fatalf("keystone token for %s: %v", user, err)
	}
	k.userID = tok.Token.User.ID
	return k
}

// do sends a request and decodes the JSON answer into out (when not nil).
func (k *ksClient) do(method, path string, in, out any) int {
	k.t.Helper()
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, k.url+path, body)
	req.Header.Set("X-Auth-Token", k.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		k.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 && resp.StatusCode != http.StatusConflict {
		k.t.Fatalf("keystone %s %s: %s %s", method, path, resp.Status, b)
	}
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			k.t.Fatalf("keystone %s %s: %v", method, path, err)
		}
	}
	return resp.StatusCode
}

type ksList struct {
	Domains  []struct{ ID string } `json:"domains"`
	Projects []struct{ ID string } `json:"projects"`
	Users    []struct{ ID string } `json:"users"`
	Roles    []struct{ ID string } `json:"roles"`
}

// id returns the id of the one named entity of kind ("domains", ...),
// creating it with create when there is none.
func (k *ksClient) id(kind, query string, create map[string]any) string {
	k.t.Helper()
	var l ksList
	k.do("GET", "/"+kind+"?"+query, nil, &l)
	ids := map[string][]struct{ ID string }{"domains": l.Domains, "projects": l.Projects, "users": l.Users, "roles": l.Roles}[kind]
	if len(ids) > 0 {
		return ids[0].ID
	}
	if create == nil {
		k.t.Fatalf("keystone: no %s with %s", kind, query)
	}
	var out map[string]struct{ ID string }
	k.do("POST", "/"+kind, create, &out)
	for _, v := range out {
		return v.ID
	}
	k.t.Fatalf("keystone: creating %s gave no id", kind)
	return ""
}

// writeCloudFile writes a clouds.yaml or secure.yaml with mode.
func writeCloudFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

// docText is the text of the docs/CONFIGURATION.md code block whose first
// line is first, that line included.
func docText(t *testing.T, first string) string {
	t.Helper()
	return first + "\n" + strings.Join(docBlock(t, "docs/CONFIGURATION.md", first), "\n") + "\n"
}

// cloudsSuffix is a short random suffix for names.
func cloudsSuffix() string {
	b := make([]byte, 4)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// writeThroughCheck writes name through the mount, syncs, and checks the object
// with c.
func writeThroughCheck(t *testing.T, m *mount, c swiftclient.Client, name, data string) {
	t.Helper()
	if err := os.WriteFile(m.path(name), []byte(data), 0o644); err != nil {
		t.Fatalf("write through the mount: %v\n%s", err, m.log.String())
	}
	m.sync()
	if got, _ := getObject(t, c, name); string(got) != data {
		t.Errorf("object %s = %q, want %q", name, got, data)
	}
}

// TestCloudsYAML mounts with credentials from clouds.yaml on the real
// Keystone: the example of docs/CONFIGURATION.md (password in secure.yaml,
// found on the search path, --os-cloud), a project in another domain than
// its user (OS_CLOUD, OS_CLIENT_CONFIG_FILE, OS_* credentials in the
// environment that must be ignored), an application credential, and the
// refusal of a clouds.yaml with a password that others can read.
func TestCloudsYAML(t *testing.T) {
	ksURL := keystoneURL(t)
	base := strings.TrimSuffix(ksURL, "/v3")
	getenv := getenvFrom(env)
	demoPW := getenv("OS_PASSWORD")
	adminPW := os.Getenv("SAIO_KEYSTONE_ADMIN_PASSWORD")
	if adminPW == "" {
		adminPW = "adminpass"
	}
	// What the clouds give the daemon: no OS_* or ST_* of the real run.
	home := t.TempDir()
	cloudEnv := []string{"HOME=" + home, "XDG_CONFIG_HOME=" + filepath.Join(home, ".config")}

	t.Run("doc example", func(t *testing.T) {
		if !strings.Contains(docText(t, "swiftfs mount --os-cloud lsst --daemon butler-repo /data/repo"), "--os-cloud lsst") {
			t.Fatal("doc example command changed")
		}
		local := strings.NewReplacer("https://keystone.example.org:5000", base, "jdoe", getenv("OS_USERNAME"),
			"butler", getenv("OS_PROJECT_NAME"), "s3cret", demoPW)
		dir := filepath.Join(home, ".config", "openstack")
		writeCloudFile(t, filepath.Join(dir, "clouds.yaml"), local.Replace(docText(t, "# ~/.config/openstack/clouds.yaml (no secret in it: any mode)")), 0o644)
		writeCloudFile(t, filepath.Join(dir, "secure.yaml"), local.Replace(docText(t, "# ~/.config/openstack/secure.yaml (chmod 600)")), 0o600)
		name, c := newContainer(t)
		m := startMountEnv(t, cloudEnv, name, "", "--os-cloud", "lsst")
		writeThroughCheck(t, m, c, "doc.txt", "from the documented clouds.yaml\n")
		if want := `cloud \"lsst\" (--os-cloud) from ` + filepath.Join(dir, "clouds.yaml") + " and " + filepath.Join(dir, "secure.yaml"); !strings.Contains(m.log.String(), want) {
			t.Errorf("daemon log lacks %q:\n%s", want, m.log.String())
		}
	})

	t.Run("project in another domain", func(t *testing.T) {
		admin := newKSClient(t, ksURL, "admin", adminPW, "admin")
		dom := admin.id("domains", "name=swiftfs-it", map[string]any{"domain": map[string]any{"name": "swiftfs-it"}})
		proj := admin.id("projects", "name=swiftfs-it-proj&domain_id="+dom,
			map[string]any{"project": map[string]any{"name": "swiftfs-it-proj", "domain_id": dom}})
		user := admin.id("users", "name="+getenv("OS_USERNAME")+"&domain_id=default", nil)
		role := admin.id("roles", "name=member", nil)
		admin.do("PUT", "/projects/"+proj+"/users/"+user+"/roles/"+role, nil, nil)

		// domain_name is the user's domain; the project's is given by id.
		// gophercloud alone would scope to "swiftfs-it-proj" in Default.
		file := filepath.Join(t.TempDir(), "split.yaml")
		writeCloudFile(t, file, fmt.Sprintf(`clouds:
  split:
    region_name: RegionOne
    auth:
      auth_url: %s
      username: %s
      password: %s
      domain_name: Default
      project_name: swiftfs-it-proj
      project_domain_id: %s
`, ksURL, getenv("OS_USERNAME"), demoPW, dom), 0o600)
		splitEnv := append([]string{"OS_CLOUD=split", "OS_CLIENT_CONFIG_FILE=" + file,
			"OS_USERNAME=nobody", "OS_PASSWORD=wrong", "OS_PROJECT_NAME=demo", "ST_AUTH=http://127.0.0.1:1/auth/v1.0"}, cloudEnv...)
		name := "it-clouds-domain-" + cloudsSuffix()
		ctx := context.Background()
		if err := swiftclient.CreateContainer(ctx, swiftclient.Options{Container: name, Getenv: getenvFrom(splitEnv)}); err != nil {
			t.Fatalf("creating %s with cloud split: %v", name, err)
		}
		// The container is in the other project's account, not in demo's.
		// (getenvFrom takes the first match: these shadow env's.)
		otherEnv := append([]string{"OS_PROJECT_NAME=swiftfs-it-proj", "OS_PROJECT_DOMAIN_NAME=", "OS_PROJECT_DOMAIN_ID=" + dom}, env...)
		c, err := swiftclient.New(ctx, swiftclient.Options{Container: name, Getenv: getenvFrom(otherEnv)})
		if err != nil {
			t.Fatalf("client of project swiftfs-it-proj: %v", err)
		}
		if _, err := swiftclient.New(ctx, swiftclient.Options{Container: name, Getenv: getenvFrom(env)}); !errors.Is(err, swiftclient.ErrNotFound) {
			t.Errorf("container %s in project demo: %v, want ErrNotFound", name, err)
		}
		m := startMountEnv(t, splitEnv, name, "")
		writeThroughCheck(t, m, c, "split.txt", "user in Default, project in swiftfs-it\n")
		for _, want := range []string{`project \"swiftfs-it-proj\" (domain ` + dom + ")", "(OS_CLOUD)",
			"ignoring OS_USERNAME, OS_PASSWORD, OS_PROJECT_NAME, ST_AUTH from the environment"} {
			if !strings.Contains(m.log.String(), want) {
				t.Errorf("daemon log lacks %q:\n%s", want, m.log.String())
			}
		}
	})

	t.Run("application credential", func(t *testing.T) {
		demo := newKSClient(t, ksURL, getenv("OS_USERNAME"), demoPW, getenv("OS_PROJECT_NAME"))
		var ac struct {
			AC struct{ ID, Secret string } `json:"application_credential"`
		}
		demo.do("POST", "/users/"+demo.userID+"/application_credentials",
			map[string]any{"application_credential": map[string]any{"name": "swiftfs-it-" + cloudsSuffix()}}, &ac)
		t.Cleanup(func() { demo.do("DELETE", "/users/"+demo.userID+"/application_credentials/"+ac.AC.ID, nil, nil) })
		file := filepath.Join(t.TempDir(), "clouds.yaml")
		writeCloudFile(t, file, fmt.Sprintf(`clouds:
  ac:
    auth_type: v3applicationcredential
    auth:
      auth_url: %s
      application_credential_id: %s
      application_credential_secret: %s
`, ksURL, ac.AC.ID, ac.AC.Secret), 0o600)
		name, c := newContainer(t)
		m := startMountEnv(t, append([]string{"OS_CLIENT_CONFIG_FILE=" + file}, cloudEnv...), name, "", "--os-cloud", "ac")
		writeThroughCheck(t, m, c, "ac.txt", "application credential\n")
		if strings.Contains(m.log.String(), ac.AC.Secret) {
			t.Errorf("the daemon logged the application credential secret")
		}
	})

	t.Run("refuses a readable password", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "clouds.yaml")
		writeCloudFile(t, file, fmt.Sprintf("clouds:\n  open:\n    auth: {auth_url: %q, username: demo, password: %q}\n", ksURL, demoPW), 0o644)
		cmd := exec.Command(binary, "mount", "--os-cloud", "open", "any-container", t.TempDir())
		cmd.Env = append(filterEnv(os.Environ()), append([]string{"OS_CLIENT_CONFIG_FILE=" + file}, cloudEnv...)...)
		out, err := cmd.CombinedOutput()
		want := file + ` holds a secret (cloud "open") but has mode 0644: it must not be accessible by group or others (chmod 600 ` + file + ")"
		if err == nil || !strings.Contains(string(out), want) {
			t.Errorf("swiftfs mount with a world-readable password: %v\n%s\nwant %q", err, out, want)
		}
		if strings.Contains(string(out), demoPW) {
			t.Errorf("the password was printed:\n%s", out)
		}
	})
}
