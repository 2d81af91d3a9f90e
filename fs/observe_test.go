package fs

import (
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"
)

type opRecord struct {
	op    string
	errno syscall.Errno
}

type opRecorder struct{ ops []opRecord }

func (r *opRecorder) FUSEOp(op string, latency time.Duration, errno syscall.Errno) {
	if latency < 0 {
		panic("negative latency")
	}
	r.ops = append(r.ops, opRecord{op, errno})
}

// TestObservedFSReportsEveryOp calls every method of fuse.RawFileSystem
// through observedFS: each request is passed on with its results unchanged
// and reported once, under its name and with the status it got; the
// methods that are not requests are not reported.
func TestObservedFSReportsEveryOp(t *testing.T) {
	next := fuse.NewDefaultRawFileSystem()
	rec := &opRecorder{}
	wrapped := reflect.ValueOf(&observedFS{next: next, obs: rec})
	direct := reflect.ValueOf(next)
	notRequests := map[string]bool{"String": true, "SetDebug": true, "Init": true, "OnUnmount": true}
	names := map[string]string{"Writev": "write", "CopyFileRange": "copy_file_range"}
	iface := reflect.TypeFor[fuse.RawFileSystem]()
	for i := range iface.NumMethod() {
		m := iface.Method(i)
		args := make([]reflect.Value, m.Type.NumIn())
		for j := range args {
			args[j] = reflect.Zero(m.Type.In(j))
		}
		rec.ops = nil
		got := wrapped.MethodByName(m.Name).Call(args)
		want := direct.MethodByName(m.Name).Call(args)
		for j := range got {
			if !reflect.DeepEqual(got[j].Interface(), want[j].Interface()) {
				t.Errorf("%s: result %d is %v, want %v", m.Name, j, got[j], want[j])
			}
		}
		if notRequests[m.Name] {
			if len(rec.ops) != 0 {
				t.Errorf("%s reported as %v", m.Name, rec.ops)
			}
			continue
		}
		op := names[m.Name]
		if op == "" {
			op = strings.ToLower(m.Name)
		}
		var errno syscall.Errno
		for _, r := range want {
			if st, ok := r.Interface().(fuse.Status); ok {
				errno = syscall.Errno(st)
			}
		}
		if len(rec.ops) != 1 || rec.ops[0] != (opRecord{op, errno}) {
			t.Errorf("%s reported as %v, want [{%s %v}]", m.Name, rec.ops, op, errno)
		}
	}
}
