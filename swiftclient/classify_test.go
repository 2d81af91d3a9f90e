package swiftclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"net"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/ncw/swift/v2"
)

func TestKindForStatusEveryStatus(t *testing.T) {
	explicit := map[int]error{
		400: ErrInvalid, 401: ErrUnauthorized, 403: ErrForbidden, 404: ErrNotFound,
		408: ErrUnavailable, 409: ErrConflict, 411: ErrInvalid, 412: ErrPreconditionFailed,
		413: ErrTooLarge, 416: ErrInvalid, 422: ErrCorrupted, 429: ErrRateLimited, 498: ErrRateLimited,
	}
	for status := 100; status < 600; status++ {
		want, ok := explicit[status]
		switch {
		case ok:
		case status >= 500:
			want = ErrUnavailable
		default:
			want = ErrOther
		}
		if got := KindForStatus(status); got != want {
			t.Errorf("KindForStatus(%d) = %v, want %v", status, got, want)
		}
	}
}

func TestKindsMatchIOFS(t *testing.T) {
	twins := map[error]error{
		ErrNotFound: iofs.ErrNotExist, ErrPreconditionFailed: iofs.ErrExist,
		ErrUnauthorized: iofs.ErrPermission, ErrForbidden: iofs.ErrPermission, ErrInvalid: iofs.ErrInvalid,
	}
	for _, k := range allKinds {
		err := &Error{Kind: k, Op: "stat", Name: "x", Err: errors.New("cause")}
		if !errors.Is(err, k) {
			t.Errorf("errors.Is(%v, its kind) = false", err)
		}
		if KindOf(err) != k {
			t.Errorf("KindOf(%v) = %v, want %v", err, KindOf(err), k)
		}
		for _, other := range allKinds {
			if other != k && errors.Is(err, other) {
				t.Errorf("error of kind %v also matches %v", k, other)
			}
		}
		for _, fsErr := range []error{iofs.ErrNotExist, iofs.ErrExist, iofs.ErrPermission, iofs.ErrInvalid} {
			if got, want := errors.Is(err, fsErr), twins[k] == fsErr; got != want {
				t.Errorf("errors.Is(%v error, %v) = %v, want %v", k, fsErr, got, want)
			}
		}
	}
}

func TestClassify(t *testing.T) {
	refused := &url.Error{Op: "Get", URL: "http://127.0.0.1:1/v1",
		Err: &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}}
	canceled := &url.Error{Op: "Get", URL: "http://127.0.0.1:1/v1", Err: context.Canceled}
	tests := []struct {
		name   string
		err    error
		kind   error
		status int
		is     []error // further errors.Is targets
	}{
		{"object not found", swift.ObjectNotFound, ErrNotFound, 404, []error{iofs.ErrNotExist, swift.ObjectNotFound}},
		{"container not found", swift.ContainerNotFound, ErrNotFound, 404, []error{iofs.ErrNotExist}},
		{"not found with body", fmt.Errorf("%w: <html>Not Found</html>", swift.ObjectNotFound), ErrNotFound, 404, nil},
		{"auth failed", swift.AuthorizationFailed, ErrUnauthorized, 401, []error{iofs.ErrPermission}},
		{"forbidden", swift.Forbidden, ErrForbidden, 403, []error{iofs.ErrPermission}},
		{"corrupted", swift.ObjectCorrupted, ErrCorrupted, 422, nil},
		{"too large", swift.TooLargeObject, ErrTooLarge, 413, nil},
		{"too many requests", swift.TooManyRequests, ErrRateLimited, 429, nil},
		{"rate limit", swift.RateLimit, ErrRateLimited, 498, nil},
		{"ncw timeout", swift.TimeoutError, ErrUnavailable, 408, nil},
		{"precondition", &swift.Error{StatusCode: 412, Text: "HTTP Error: 412"}, ErrPreconditionFailed, 412, []error{iofs.ErrExist}},
		{"server error", &swift.Error{StatusCode: 503, Text: "HTTP Error: 503"}, ErrUnavailable, 503, nil},
		{"ncw complaint", &swift.Error{Text: "Response didn't have storage url and auth token"}, ErrOther, 0, nil},
		{"connection refused", refused, ErrUnavailable, 0, []error{syscall.ECONNREFUSED}},
		{"canceled", canceled, ErrUnavailable, 0, []error{context.Canceled}},
		{"EOF", io.ErrUnexpectedEOF, ErrUnavailable, 0, []error{io.ErrUnexpectedEOF}},
		{"short body", &url.Error{Op: "Put", URL: "u", Err: &bodyError{errShortBody}}, ErrInvalid, 0, []error{errShortBody}},
		{"body read failure", &url.Error{Op: "Put", URL: "u", Err: &bodyError{iofs.ErrClosed}}, ErrOther, 0, []error{iofs.ErrClosed}},
		{"something else", errors.New("odd"), ErrOther, 0, nil},
	}
	for _, tc := range tests {
		h := map[string]string{"X-Trans-Id": "tx123"}
		err := classify("get", "obj", tc.err, h, nil)
		var e *Error
		if !errors.As(err, &e) {
			t.Errorf("%s: classify returned %T, want *Error", tc.name, err)
			continue
		}
		if e.Kind != tc.kind || e.Status != tc.status || e.Op != "get" || e.Name != "obj" || e.TransID != "tx123" {
			t.Errorf("%s: got %+v, want kind %v status %d op get name obj trans-id tx123", tc.name, e, tc.kind, tc.status)
		}
		if !errors.Is(err, tc.kind) {
			t.Errorf("%s: errors.Is(err, %v) = false", tc.name, tc.kind)
		}
		for _, target := range tc.is {
			if !errors.Is(err, target) {
				t.Errorf("%s: errors.Is(err, %v) = false", tc.name, target)
			}
		}
		if again := classify("stat", "other", err, nil, nil); again != err {
			t.Errorf("%s: classifying a classified error changed it", tc.name)
		}
	}
	if classify("get", "x", nil, nil, nil) != nil {
		t.Errorf("classify(nil) != nil")
	}
	if !IsTransient(classify("get", "x", refused, nil, nil)) || IsTransient(classify("get", "x", swift.ObjectNotFound, nil, nil)) {
		t.Errorf("IsTransient: connection refused should be transient, not found should not")
	}
	if id := transID(map[string]string{"X-Openstack-Request-Id": "req-1"}); id != "req-1" {
		t.Errorf("transID falls back to X-Openstack-Request-Id: got %q", id)
	}
}

func TestErrorMessage(t *testing.T) {
	err := classify("stat", "dir/file", &swift.Error{StatusCode: 404, Text: "Object Not Found"}, map[string]string{"X-Trans-Id": "tx9"}, nil)
	want := `swift stat "dir/file": not found (HTTP 404): Object Not Found [trans-id tx9]`
	if err.Error() != want {
		t.Errorf("got %q, want %q", err.Error(), want)
	}
}

func TestClassifyScrubsSecrets(t *testing.T) {
	cause := fmt.Errorf("keystone said: bad password hunter2-secret for user: %w", swift.AuthorizationFailed)
	err := classify("auth", "", cause, nil, []string{"hunter2-secret", "ab"})
	if strings.Contains(err.Error(), "hunter2-secret") || !strings.Contains(err.Error(), redacted) {
		t.Errorf("secret not scrubbed: %q", err)
	}
	if !errors.Is(err, swift.AuthorizationFailed) || KindOf(err) != ErrUnauthorized {
		t.Errorf("scrubbing lost the chain: %v", err)
	}
}

func TestValidateMeta(t *testing.T) {
	good := []map[string]string{
		nil,
		{"mtime": "1700000000.5"},
		{"a-b.c~d": "x", "n1": "", "uni": "héllo ✓", "inner": "a  b\tc"},
	}
	for _, m := range good {
		if err := ValidateMeta(m); err != nil {
			t.Errorf("ValidateMeta(%q) = %v, want nil", m, err)
		}
	}
	bad := []map[string]string{
		{"": "x"}, {"Mtime": "x"}, {"a_b": "x"}, {"a b": "x"}, {"a:b": "x"}, {"é": "x"},
		{"k": " x"}, {"k": "x "}, {"k": "a\nb"}, {"k": "a\x00b"}, {"k": "\xff"}, {"k": "a\x7f"},
	}
	for _, m := range bad {
		if err := ValidateMeta(m); err == nil {
			t.Errorf("ValidateMeta(%q) = nil, want an error", m)
		}
	}
}

func TestCheckName(t *testing.T) {
	for _, n := range []string{"a", "a//b", "..", "ü", strings.Repeat("x", 1024)} {
		if err := checkName("put", n, 1024); err != nil {
			t.Errorf("checkName(%q) = %v", n, err)
		}
	}
	for _, n := range []string{"", strings.Repeat("x", 1025), "\xff", "a\x00b"} {
		if err := checkName("put", n, 1024); !errors.Is(err, ErrInvalid) {
			t.Errorf("checkName(%q) = %v, want ErrInvalid", n, err)
		}
	}
}
