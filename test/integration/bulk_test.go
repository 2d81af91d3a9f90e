//go:build integration && linux

package integration

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/swiftfs/swiftfs/swiftclient"
)

// bulkCreate makes many empty objects: with v1 credentials in one bulk
// "extract-archive" request (Swift's bulk middleware), else one PUT each.
func bulkCreate(t *testing.T, container string, c swiftclient.Client, names []string) {
	t.Helper()
	get := getenvFrom(env)
	if backend == "real" && get("ST_AUTH") != "" {
		req, _ := http.NewRequest("GET", get("ST_AUTH"), nil)
		req.Header.Set("X-Auth-User", get("ST_USER"))
		req.Header.Set("X-Auth-Key", get("ST_KEY"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		url, token := resp.Header.Get("X-Storage-Url"), resp.Header.Get("X-Auth-Token")
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		for _, n := range names {
			tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: 0, Typeflag: tar.TypeReg})
		}
		tw.Close()
		req, _ = http.NewRequest("PUT", url+"/"+container+"?extract-archive=tar", &buf)
		req.Header.Set("X-Auth-Token", token)
		req.Header.Set("Accept", "application/json")
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !bytes.Contains(body, []byte(fmt.Sprintf(`"Number Files Created": %d`, len(names)))) {
			t.Fatalf("bulk upload: %d %s", resp.StatusCode, body)
		}
		return
	}
	ctx := context.Background()
	sem := make(chan struct{}, 16)
	errs := make(chan error, len(names))
	for _, n := range names {
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			_, err := c.Put(ctx, n, bytes.NewReader(nil), 0, swiftclient.PutOptions{})
			errs <- err
		}()
	}
	for range names {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
