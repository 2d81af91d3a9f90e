//go:build integration && linux

package integration

import (
	"crypto/md5"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"testing"
)

// v1Request makes one request to the container with v1 (tempauth)
// credentials from the environment, behind swiftclient's back: the
// container setting and the versions listing are not part of its
// narrow interface.
func v1Request(t *testing.T, method, container, query string, hdr map[string]string) []byte {
	t.Helper()
	get := getenvFrom(env)
	req, _ := http.NewRequest(http.MethodGet, get("ST_AUTH"), nil)
	req.Header.Set("X-Auth-User", get("ST_USER"))
	req.Header.Set("X-Auth-Key", get("ST_KEY"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	storage, token := resp.Header.Get("X-Storage-Url"), resp.Header.Get("X-Auth-Token")
	u := storage + "/" + url.PathEscape(container)
	if query != "" {
		u += "?" + query
	}
	req, _ = http.NewRequest(method, u, nil)
	req.Header.Set("X-Auth-Token", token)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("%s %s: %s\n%s", method, u, resp.Status, body)
	}
	return body
}

// TestObjectVersioningKeepsOverwritten: the conflict check's window (HEAD
// then PUT is not atomic in Swift) cannot lose a version in a container
// with Swift's object versioning enabled (X-Versions-Enabled: true; the
// object_versioning middleware of Swift 2.30: versioned_writes with
// allow_object_versioning in test/integration/saio/swift.sh's pipeline). The window is played by a mount with
// --on-conflict=overwrite (no check at all) writing over another mount's
// version: that version stays in the container's versions.
func TestObjectVersioningKeepsOverwritten(t *testing.T) {
	if backend == "swifttest" {
		t.Skip("swifttest has no object versioning: the real-Swift tier (it-v1) runs this")
	}
	if getenvFrom(env)("ST_AUTH") == "" {
		t.Skip("needs v1 credentials (ST_AUTH) to enable versioning on the container: the it-v1 tier runs this")
	}
	name, c := newContainer(t)
	v1Request(t, http.MethodPost, name, "", map[string]string{"X-Versions-Enabled": "true"})
	a := startMount(t, name, "")
	b := startMount(t, name, "", "--on-conflict", "overwrite")
	if err := os.WriteFile(a.path("data.txt"), []byte("from A\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	a.sync()
	// B never saw A's object: without the check its create overwrites it.
	if err := os.WriteFile(b.path("data.txt"), []byte("from B\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	b.sync()
	if data, _ := getObject(t, c, "data.txt"); string(data) != "from B\n" {
		t.Fatalf("data.txt holds %q, want B's (last writer)", data)
	}
	var versions []struct {
		Name      string `json:"name"`
		Hash      string `json:"hash"`
		VersionID string `json:"version_id"`
	}
	if err := json.Unmarshal(v1Request(t, http.MethodGet, name, "versions&format=json", nil), &versions); err != nil {
		t.Fatal(err)
	}
	var hashes []string
	for _, v := range versions {
		if v.Name == "data.txt" {
			hashes = append(hashes, v.Hash)
		}
	}
	if want := md5hexString("from A\n"); !slices.Contains(hashes, want) {
		t.Errorf("A's overwritten version (%s) is not among data.txt's versions %q", want, hashes)
	}
}

func md5hexString(s string) string {
	return fmt.Sprintf("%x", md5.Sum([]byte(s)))
}
