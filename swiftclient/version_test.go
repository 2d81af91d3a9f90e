package swiftclient_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/swiftfs/swiftfs/swiftclient"
	"github.com/swiftfs/swiftfs/swiftclient/swiftfake"
)

func TestIsVersion(t *testing.T) {
	ctx := context.Background()
	c := swiftfake.New()
	info, err := c.Put(ctx, "obj", bytes.NewReader([]byte("v1")), 2, swiftclient.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, etag string
		want       bool
	}{
		{"obj", info.ETag, true},
		{"obj", "0123456789abcdef0123456789abcdef", false},
		{"obj", "", false},
		{"missing", "", true},
		{"missing", info.ETag, false},
	} {
		got, cur, err := swiftclient.IsVersion(ctx, c, tc.name, tc.etag)
		if err != nil || got != tc.want {
			t.Errorf("IsVersion(%q, %q) = %v, %v; want %v", tc.name, tc.etag, got, err, tc.want)
		}
		if tc.name == "obj" && cur.ETag != info.ETag {
			t.Errorf("IsVersion(%q): current ETag %q, want %q", tc.name, cur.ETag, info.ETag)
		}
	}
}
