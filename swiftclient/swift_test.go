package swiftclient_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/ncw/swift/v2"

	"github.com/swiftfs/swiftfs/swiftclient"
	"github.com/swiftfs/swiftfs/swiftclient/swiftclienttest"
	"github.com/swiftfs/swiftfs/swiftclient/swiftfake"
	"github.com/swiftfs/swiftfs/swiftclient/swifttestproxy"
)

// noEnv keeps the developer's OS_* and ST_* variables out of tests that
// must not use them.
func noEnv(string) string { return "" }

// Tier (i): the in-memory fake.
func TestConformanceFake(t *testing.T) {
	f := swiftfake.New()
	swiftclienttest.Run(t, func(*testing.T) swiftclient.Client { return f })
}

// swifttestCaps is what ncw/swift's swifttest server lacks.
var swifttestCaps = swiftclienttest.Caps{
	Backend:                 "swifttest",
	NoFreshMetadata:         true,
	MergesMeta:              true,
	StaleListingContentType: true,
	NoSLOListingSize:        true,
	NoSLODelete:             true,
}

// Tier (ii): the ncw/swift client against an in-process swifttest server.
func TestConformanceSwifttest(t *testing.T) {
	authURL := startSwifttest(t, "conformance")
	c, err := swiftclient.New(t.Context(), swiftclient.Options{
		Container: "conformance",
		Auth:      swiftclient.Auth{URL: authURL, User: swifttestproxy.User, Password: swiftclient.Secret(swifttestproxy.Key)},
		Getenv:    noEnv,
	})
	if err != nil {
		t.Fatal(err)
	}
	swiftclienttest.RunCaps(t, swifttestCaps, func(*testing.T) swiftclient.Client { return c })
}

// Tier (iii): a real Swift, from the environment.
func TestConformanceRealSwift(t *testing.T) {
	if os.Getenv("SWIFTFS_TEST_REAL") != "1" {
		t.Skip("real Swift tier not enabled: set SWIFTFS_TEST_REAL=1 and ST_AUTH/ST_USER/ST_KEY or OS_AUTH_URL/OS_USERNAME/... " +
			"(optionally SWIFTFS_TEST_CONTAINER, default swiftfs-conformance), e.g. " +
			"SWIFTFS_TEST_REAL=1 ST_AUTH=http://127.0.0.1:8080/auth/v1.0 ST_USER=test:tester ST_KEY=testing go test ./swiftclient/...")
	}
	container := os.Getenv("SWIFTFS_TEST_CONTAINER")
	if container == "" {
		container = "swiftfs-conformance"
	}
	t.Logf("real Swift: %s", swiftclient.DescribeAuth(swiftclient.Options{Container: container}))
	ensureContainer(t, container)
	c, err := swiftclient.New(t.Context(), swiftclient.Options{Container: container})
	if err != nil {
		t.Fatal(err)
	}
	swiftclienttest.Run(t, func(*testing.T) swiftclient.Client { return c })
}

// ensureContainer creates the container with ncw/swift directly, from the
// environment.
func ensureContainer(t *testing.T, container string) {
	t.Helper()
	conn := &swift.Connection{}
	if err := conn.ApplyEnvironment(); err != nil {
		t.Fatal(err)
	}
	if conn.AuthVersion == 0 && os.Getenv("OS_IDENTITY_API_VERSION") == "3" {
		conn.AuthVersion = 3
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := conn.ContainerCreate(ctx, container, nil); err != nil {
		t.Fatalf("creating container %q: %v", container, err)
	}
}

// startSwifttest starts a swifttest server with the given containers behind
// the fix-up proxy (swifttestproxy), and returns the proxy's auth URL.
func startSwifttest(t *testing.T, containers ...string) string {
	t.Helper()
	srv, err := swifttestproxy.Start(swifttestproxy.Options{Containers: containers})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv.AuthURL
}
