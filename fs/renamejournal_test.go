package fs

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/swiftfs/swiftfs/swiftclient"
)

// FinishRenames carries out a journaled plan from any point a crash left
// it at: objects not moved yet, copied but not deleted, and moved. A plan
// that cannot be finished stays for the next mount.
func TestFinishRenames(t *testing.T) {
	tests := []struct {
		name      string
		moved     []string // objects already under b/ only
		copied    []string // objects under both names
		copyFails bool
	}{
		{"nothing moved yet", nil, nil, false},
		{"half-way", []string{"x1", "sub/x2"}, []string{"x3"}, false},
		{"all moved, journal not removed", []string{"x1", "sub/x2", "x3", "x4"}, nil, false},
		{"Swift refuses", []string{"x1"}, nil, true},
	}
	all := []string{"x1", "sub/x2", "x3", "x4"}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := newOutageFS(t)
			p := &renamePlan{Src: "a", Dst: "b", SrcPrefix: "a/", DstPrefix: "b/"}
			for _, n := range all {
				p.Objects = append(p.Objects, planObject{From: "a/" + n, To: "b/" + n})
				switch {
				case slices.Contains(tc.moved, n):
					o.fake.PutRaw("b/"+n, []byte(n), "text/plain", nil)
				case slices.Contains(tc.copied, n):
					o.fake.PutRaw("b/"+n, []byte(n), "text/plain", nil)
					o.fake.PutRaw("a/"+n, []byte(n), "text/plain", nil)
				default:
					o.fake.PutRaw("a/"+n, []byte(n), "text/plain", nil)
				}
			}
			if err := o.journalRename(p); err != nil {
				t.Fatal(err)
			}
			if tc.copyFails {
				o.fake.Fault = func(op, name string) error {
					if op == "copy" {
						return &swiftclient.Error{Kind: swiftclient.ErrUnavailable, Op: op, Name: name, Status: 503}
					}
					return nil
				}
			}
			err := o.FinishRenames(context.Background())
			journals, _ := filepath.Glob(filepath.Join(o.renamesDir(), "*.json"))
			if tc.copyFails {
				if err == nil || len(journals) != 1 {
					t.Fatalf("FinishRenames = %v with %d journals; want an error and the journal kept", err, len(journals))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(journals) != 0 {
				t.Errorf("journals left: %v", journals)
			}
			var want []string
			for _, n := range all {
				want = append(want, "b/"+n)
			}
			slices.Sort(want)
			if got := o.fake.Names(); !slices.Equal(got, want) {
				t.Errorf("objects %v, want %v", got, want)
			}
			for _, n := range all {
				if b, _ := o.fake.Data("b/" + n); string(b) != n {
					t.Errorf("b/%s holds %q", n, b)
				}
			}
		})
	}
}

// A journal cut short before its rename began (a temp file) is dropped.
func TestFinishRenamesDropsTempFiles(t *testing.T) {
	o := newOutageFS(t)
	if err := os.MkdirAll(o.renamesDir(), 0o700); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(o.renamesDir(), ".tmp-123")
	if err := os.WriteFile(tmp, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := o.FinishRenames(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(tmp); !os.IsNotExist(err) {
		t.Errorf("temp file left: %v", err)
	}
}
