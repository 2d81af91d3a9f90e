package swiftclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeKeystone answers POST /v3/auth/tokens for user "alice" (domain
// Default, password "pw", project "proj") and application credential "ac1"
// (secret "acs"), with a catalog whose object-store endpoints point at a
// miniSwift in two regions.
type fakeKeystone struct {
	srv   *httptest.Server
	swift *miniSwift

	mu       sync.Mutex
	requests []map[string]any // GUARDED_BY(mu): decoded request bodies
}

func newFakeKeystone(t *testing.T, m *miniSwift) *fakeKeystone {
	k := &fakeKeystone{swift: m}
	k.srv = httptest.NewServer(k)
	t.Cleanup(k.srv.Close)
	return k
}

func (k *fakeKeystone) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v3/auth/tokens" {
		http.NotFound(w, r)
		return
	}
	var req map[string]any
	body, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(body, &req); err != nil {
		http.Error(w, "bad json", http.StatusBadRequest)
		return
	}
	k.mu.Lock()
	k.requests = append(k.requests, req)
	k.mu.Unlock()
	ok := strings.Contains(string(body), `"password":"pw"`) && strings.Contains(string(body), `"name":"alice"`) &&
		strings.Contains(string(body), `"name":"proj"`) ||
		strings.Contains(string(body), `"id":"ac1"`) && strings.Contains(string(body), `"secret":"acs"`)
	if !ok {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"error":{"code":401,"message":"The request you have made requires authentication."}}`)
		return
	}
	k.swift.mu.Lock()
	k.swift.nextTok++
	k.swift.auths++
	tok := fmt.Sprintf("ks-token-%d", k.swift.nextTok)
	k.swift.tokens[tok] = true
	k.swift.mu.Unlock()
	storage := k.swift.srv.URL + "/v1/AUTH_u"
	resp := map[string]any{"token": map[string]any{
		"expires_at": time.Now().Add(time.Hour).UTC().Format(time.RFC3339),
		"catalog": []any{map[string]any{"type": "object-store", "endpoints": []any{
			map[string]any{"interface": "public", "region": "RegionOne", "url": storage},
			map[string]any{"interface": "internal", "region": "RegionOne", "url": storage},
			map[string]any{"interface": "public", "region": "RegionTwo", "url": "http://127.0.0.1:1/v1/AUTH_u"},
		}}},
	}}
	w.Header().Set("X-Subject-Token", tok)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	json.NewEncoder(w).Encode(resp)
}

func TestKeystoneV3(t *testing.T) {
	m := newMiniSwift(t)
	k := newFakeKeystone(t, m)
	ctx := context.Background()
	base := []string{"OS_AUTH_URL", k.srv.URL + "/v3", "OS_USER_DOMAIN_NAME", "Default",
		"OS_PROJECT_NAME", "proj", "OS_PROJECT_DOMAIN_NAME", "Default", "OS_REGION_NAME", "RegionOne"}
	env := func(kv ...string) func(string) string { return envMap(append(append([]string{}, base...), kv...)...) }

	c, err := New(ctx, Options{Container: "c", Getenv: env("OS_USERNAME", "alice", "OS_PASSWORD", "pw", "OS_INTERFACE", "internal")})
	if err != nil {
		t.Fatalf("New with Keystone v3 password: %v", err)
	}
	if _, err := c.Put(ctx, "obj", strings.NewReader("x"), 1, PutOptions{}); err != nil {
		t.Errorf("Put: %v", err)
	}
	m.expireAll()
	if _, err := c.Stat(ctx, "obj"); err != nil {
		t.Errorf("Stat after the Keystone token was revoked: %v", err)
	}

	// Unversioned URL with OS_IDENTITY_API_VERSION=3.
	unversioned := envMap("OS_AUTH_URL", k.srv.URL, "OS_IDENTITY_API_VERSION", "3", "OS_USERNAME", "alice",
		"OS_PASSWORD", "pw", "OS_USER_DOMAIN_NAME", "Default", "OS_PROJECT_NAME", "proj")
	if _, err := New(ctx, Options{Container: "c", Getenv: unversioned}); err != nil {
		t.Errorf("New with an unversioned Keystone URL: %v", err)
	}

	if _, err := New(ctx, Options{Container: "c", Getenv: env("OS_APPLICATION_CREDENTIAL_ID", "ac1", "OS_APPLICATION_CREDENTIAL_SECRET", "acs")}); err != nil {
		t.Errorf("New with an application credential: %v", err)
	}
	k.mu.Lock()
	last := k.requests[len(k.requests)-1]
	k.mu.Unlock()
	methods := fmt.Sprint(last["auth"].(map[string]any)["identity"].(map[string]any)["methods"])
	if methods != "[application_credential]" {
		t.Errorf("application credential request used methods %s", methods)
	}

	_, err = New(ctx, Options{Container: "c", Getenv: env("OS_USERNAME", "alice", "OS_PASSWORD", "wrong")})
	if !errors.Is(err, ErrUnauthorized) || !strings.Contains(err.Error(), `authentication failed for user "alice" at `+k.srv.URL+"/v3: wrong credentials") {
		t.Errorf("New with a wrong Keystone password: %v", err)
	}

	_, err = New(ctx, Options{Container: "c", Getenv: env("OS_USERNAME", "alice", "OS_PASSWORD", "pw", "OS_REGION_NAME", "Nowhere")})
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), `no object-store endpoint (region "Nowhere"`) {
		t.Errorf("New with an unknown region: %v", err)
	}
}
