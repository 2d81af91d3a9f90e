package importer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/swiftfs/swiftfs/cache"
	sfs "github.com/swiftfs/swiftfs/fs"
	"github.com/swiftfs/swiftfs/swiftclient"
	"github.com/swiftfs/swiftfs/swiftclient/swiftfake"
)

const segSize = 64 << 10

// tree makes a source with every kind of entry: modes with the special
// bits, a fixed mtime, an empty directory, a symlink, a file of three
// segments, and an SQLite side file.
func tree(t *testing.T) string {
	t.Helper()
	src := t.TempDir()
	mtime := time.Unix(981173106, 123456789)
	big := make([]byte, 2*segSize+100)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range big {
		big[i] = byte(r.Uint32())
	}
	files := []struct {
		rel  string
		data []byte
		mode os.FileMode
	}{
		{"a.txt", []byte("hello\n"), 0o640},
		{"d/b.fits", []byte("not really FITS"), 0o444},
		{"d/big.bin", big, 0o600},
		{"d/run.sh", []byte("#!/bin/sh\n"), 0o755 | os.ModeSetuid},
		{"reg.sqlite3-wal", []byte("wal"), 0o644},
	}
	for _, f := range files {
		p := filepath.Join(src, f.rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, f.data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, f.mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(src, "empty"), 0o700|os.ModeSticky); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(src, "empty"), 0o700|os.ModeSticky); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("d/../a.txt", filepath.Join(src, "link")); err != nil {
		t.Fatal(err)
	}
	return src
}

// hooks are the Validate and Prepare hooks of a test (nil: none).
var hooks struct {
	validate func(name string, r io.ReaderAt, size int64) error
	prepare  func(ctx context.Context, name string, src *os.File, size int64) (cache.Prepared, error)
}

func run(t *testing.T, c swiftclient.Client, src string) (Result, error) {
	t.Helper()
	im := New(c, Options{Source: src, Prefix: "p", SegmentSize: segSize, Workers: 3,
		LocalOnly: func(name string) bool { return strings.HasSuffix(name, "-wal") },
		Validate:  hooks.validate, Prepare: hooks.prepare})
	res, err := im.Run(context.Background())
	if p := im.Progress(); err == nil && (p.FilesDone != p.FilesTotal || p.BytesDone != p.BytesTotal || p.Scanning) {
		t.Errorf("progress at the end: %+v", p)
	}
	return res, err
}

// wantStored checks that every source entry is stored as fs decodes it.
func wantStored(t *testing.T, c *swiftfake.Fake, src string) {
	t.Helper()
	listed := map[string]swiftclient.ObjectInfo{}
	swiftclient.ListPages(context.Background(), c, swiftclient.ListOptions{Prefix: "p/"}, func(p []swiftclient.ObjectInfo) error {
		for _, o := range p {
			listed[o.Name] = o
		}
		return nil
	})
	filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		rel, _ := filepath.Rel(src, p)
		if strings.HasSuffix(rel, "-wal") {
			if _, ok := listed["p/"+rel]; ok {
				t.Errorf("side file %s was imported", rel)
			}
			return nil
		}
		info, _ := os.Lstat(p)
		st := info.Sys().(*syscall.Stat_t)
		name := "p/" + rel
		kind := sfs.ObjectFile
		switch {
		case rel == ".":
			name, kind = "p/", sfs.ObjectDir
		case d.IsDir():
			name, kind = name+"/", sfs.ObjectDir
		case d.Type()&os.ModeSymlink != 0:
			kind = sfs.ObjectSymlink
		}
		o, ok := listed[name]
		if !ok {
			t.Errorf("%s: no object %q", rel, name)
			return nil
		}
		a, explicit := sfs.DecodeObject(o.ContentType)
		want := sfs.ObjectAttrs{Kind: kind, Perm: uint32(st.Mode) & 0o7777, UID: st.Uid, GID: st.Gid, Mtime: time.Unix(st.Mtim.Sec, st.Mtim.Nsec)}
		if kind == sfs.ObjectSymlink {
			want.Perm = 0o777
		}
		if !explicit || a.Kind != want.Kind || a.Perm != want.Perm || a.UID != want.UID || a.GID != want.GID || !a.Mtime.Equal(want.Mtime) {
			t.Errorf("%s: stored attributes %+v (explicit %v), want %+v", rel, a, explicit, want)
		}
		var content []byte
		switch kind {
		case sfs.ObjectFile:
			content, _ = os.ReadFile(p)
			if large := info.Size() > segSize; o.LargeObject != large {
				t.Errorf("%s: large object %v, want %v", rel, o.LargeObject, large)
			}
		case sfs.ObjectSymlink:
			target, _ := os.Readlink(p)
			content = []byte(target)
		}
		r, _, err := c.Get(context.Background(), name, 0, -1)
		if err != nil {
			t.Errorf("%s: %v", rel, err)
			return nil
		}
		var got bytes.Buffer
		got.ReadFrom(r)
		r.Close()
		if !bytes.Equal(got.Bytes(), content) {
			t.Errorf("%s: stored %d bytes that differ from the source's %d", rel, got.Len(), len(content))
		}
		return nil
	})
}

func segments(c *swiftfake.Fake) []string {
	var s []string
	for _, n := range c.Names() {
		if strings.HasPrefix(n, ".swiftfs-segments/") {
			s = append(s, n)
		}
	}
	return s
}

func TestImportAndResume(t *testing.T) {
	src := tree(t)
	c := swiftfake.New()
	res, err := run(t, c, src)
	if err != nil {
		t.Fatalf("import: %v (%+v)", err, res.Failed)
	}
	if res.Files != 4 || res.Dirs != 3 || res.Symlinks != 1 || res.Skipped != 0 || !slices.Equal(res.NotImported, []string{"reg.sqlite3-wal"}) {
		t.Errorf("result %+v", res)
	}
	wantStored(t, c, src)
	if n := len(segments(c)); n != 3 {
		t.Errorf("%d segments, want 3", n)
	}

	// Again: nothing changed, nothing sent.
	c.ResetCounts()
	res, err = run(t, c, src)
	if err != nil || res.Skipped != 8 || res.Files+res.Dirs+res.Symlinks+res.Updated != 0 {
		t.Errorf("second import: %v, %+v", err, res)
	}
	for _, op := range []string{"put", "update", "copy", "delete"} {
		if n := c.Count(op); n != 0 {
			t.Errorf("second import sent %d %s requests", n, op)
		}
	}

	// Attributes only: one POST each, for a plain and a large object.
	os.Chmod(filepath.Join(src, "a.txt"), 0o600)
	os.Chmod(filepath.Join(src, "d/big.bin"), 0o640)
	c.ResetCounts()
	res, err = run(t, c, src)
	if err != nil || res.Updated != 2 || c.Count("put") != 0 || c.Count("update") != 2 {
		t.Errorf("after chmod: %v, %+v, %d PUT, %d POST", err, res, c.Count("put"), c.Count("update"))
	}
	wantStored(t, c, src)

	// New content of the large file: new segments, the old ones deleted.
	old := segments(c)
	big := bytes.Repeat([]byte("x"), segSize+1)
	os.WriteFile(filepath.Join(src, "d/big.bin"), big, 0o600)
	res, err = run(t, c, src)
	if err != nil || res.Files != 1 || res.Bytes != int64(len(big)) {
		t.Errorf("after a rewrite: %v, %+v", err, res)
	}
	wantStored(t, c, src)
	now := segments(c)
	if len(now) != 2 {
		t.Errorf("segments after the rewrite: %q", now)
	}
	for _, s := range old {
		if slices.Contains(now, s) {
			t.Errorf("old segment %s kept", s)
		}
	}
}

func TestImportFailures(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(t *testing.T, src string, c *swiftfake.Fake)
		failed  string // the path that must fail
		wantErr error
	}{
		{"upload refused", func(t *testing.T, src string, c *swiftfake.Fake) {
			c.Fault = func(op, name string) error {
				if op == "put" && name == "p/d/run.sh" {
					return &swiftclient.Error{Kind: swiftclient.ErrForbidden, Op: op, Name: name, Err: errors.New("403")}
				}
				return nil
			}
		}, "d/run.sh", ErrFailed},
		{"segment refused", func(t *testing.T, src string, c *swiftfake.Fake) {
			c.Fault = func(op, name string) error {
				if op == "put" && strings.HasSuffix(name, "/00000001") {
					return &swiftclient.Error{Kind: swiftclient.ErrTooLarge, Op: op, Name: name, Err: errors.New("413")}
				}
				return nil
			}
		}, "d/big.bin", ErrFailed},
		{"FIFO", func(t *testing.T, src string, c *swiftfake.Fake) {
			if err := syscall.Mkfifo(filepath.Join(src, "d/fifo"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, "d/fifo", ErrFailed},
		{"a directory where a file goes", func(t *testing.T, src string, c *swiftfake.Fake) {
			c.PutRaw("p/a.txt/", nil, "application/directory", nil)
		}, "a.txt", ErrFailed},
		{"registry busy", func(t *testing.T, src string, c *swiftfake.Fake) {
			hooks.prepare = func(ctx context.Context, name string, f *os.File, size int64) (cache.Prepared, error) {
				if name == "p/d/run.sh" {
					return cache.Prepared{}, fmt.Errorf("a transaction is in progress: %w", cache.ErrNotReady)
				}
				return cache.Prepared{}, nil
			}
			t.Cleanup(func() { hooks.prepare = nil })
		}, "d/run.sh", ErrFailed},
		{"file check refuses", func(t *testing.T, src string, c *swiftfake.Fake) {
			hooks.validate = func(name string, r io.ReaderAt, size int64) error {
				if strings.HasSuffix(name, ".fits") {
					return errors.New("not FITS")
				}
				return nil
			}
			t.Cleanup(func() { hooks.validate = nil })
		}, "d/b.fits", ErrFailed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := tree(t)
			c := swiftfake.New()
			tc.setup(t, src, c)
			res, err := run(t, c, src)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err %v, want %v", err, tc.wantErr)
			}
			if len(res.Failed) != 1 || res.Failed[0].Path != tc.failed {
				t.Fatalf("failed %+v, want only %s", res.Failed, tc.failed)
			}
			// The rest is imported, and a failed large file leaves no
			// segments.
			if res.Files+res.Dirs+res.Symlinks < 7 {
				t.Errorf("result %+v", res)
			}
			if tc.failed == "d/big.bin" && len(segments(c)) != 0 {
				t.Errorf("segments left: %q", segments(c))
			}
			if tc.name == "FIFO" || strings.HasPrefix(tc.name, "a directory") {
				return
			}
			// Resumed without the fault: only the failed file is sent.
			c.Fault, hooks.prepare, hooks.validate = nil, nil, nil
			c.ResetCounts()
			res, err = run(t, c, src)
			if err != nil || res.Files != 1 || res.Skipped != 7 {
				t.Errorf("resume: %v, %+v", err, res)
			}
			wantStored(t, c, src)
		})
	}
}

func TestImportCancelled(t *testing.T) {
	src := tree(t)
	c := swiftfake.New()
	ctx, cancel := context.WithCancel(context.Background())
	c.Fault = func(op, name string) error {
		if op == "put" {
			cancel()
		}
		return nil
	}
	im := New(c, Options{Source: src, SegmentSize: segSize, Workers: 1})
	res, err := im.Run(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	// Entries cut off are neither done nor failures.
	if p := im.Progress(); p.FilesDone >= p.FilesTotal || len(res.Failed) != 0 || p.Failed != 0 {
		t.Errorf("after the cancellation: %+v, failed %v", p, res.Failed)
	}
}

// Prepare's metadata is stored with the object, and its replacement
// content is what is uploaded.
func TestImportPrepare(t *testing.T) {
	src := tree(t)
	c := swiftfake.New()
	snap := filepath.Join(t.TempDir(), "snapshot")
	os.WriteFile(snap, []byte("hello\n"), 0o600) // same bytes, another file
	hooks.prepare = func(ctx context.Context, name string, f *os.File, size int64) (cache.Prepared, error) {
		switch name {
		case "p/d/b.fits":
			return cache.Prepared{Meta: map[string]string{"fits-hdu-index": "0"}}, nil
		case "p/a.txt":
			s, err := os.Open(snap)
			return cache.Prepared{File: s, Size: 6, Cleanup: func() { s.Close() }}, err
		}
		return cache.Prepared{}, nil
	}
	defer func() { hooks.prepare = nil }()
	if res, err := run(t, c, src); err != nil {
		t.Fatalf("%v %+v", err, res.Failed)
	}
	info, err := c.Stat(context.Background(), "p/d/b.fits")
	if err != nil || info.Meta["fits-hdu-index"] != "0" || info.Meta["mode"] != "444" {
		t.Errorf("b.fits metadata %v, %v", info.Meta, err)
	}
	wantStored(t, c, src)
}
