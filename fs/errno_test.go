package fs

import (
	"context"
	"fmt"
	"syscall"
	"testing"

	"github.com/swiftfs/swiftfs/cache"
	"github.com/swiftfs/swiftfs/swiftclient"
)

func TestErrnoFor(t *testing.T) {
	wrap := func(k error) error { return &swiftclient.Error{Kind: k, Op: "put", Name: "x", Status: 500} }
	cases := []struct {
		err  error
		want syscall.Errno
	}{
		{nil, 0},
		{wrap(swiftclient.ErrNotFound), syscall.ENOENT},
		{wrap(swiftclient.ErrPreconditionFailed), syscall.EEXIST},
		{wrap(swiftclient.ErrUnauthorized), syscall.EACCES},
		{wrap(swiftclient.ErrForbidden), syscall.EACCES},
		{wrap(swiftclient.ErrRateLimited), syscall.EIO},
		{wrap(swiftclient.ErrCorrupted), syscall.EIO},
		{wrap(swiftclient.ErrTooLarge), syscall.EDQUOT},
		{wrap(swiftclient.ErrConflict), syscall.EBUSY},
		{wrap(swiftclient.ErrUnavailable), syscall.EIO},
		{wrap(swiftclient.ErrInvalid), syscall.EINVAL},
		{wrap(swiftclient.ErrOther), syscall.EIO},
		{fmt.Errorf("ctx: %w", context.Canceled), syscall.EINTR},
		{cache.ErrNoSpace, syscall.ENOSPC},
		{syscall.ENOTEMPTY, syscall.ENOTEMPTY},
		{fmt.Errorf("unknown"), syscall.EIO},
	}
	for _, c := range cases {
		if got := errnoFor(c.err); got != c.want {
			t.Errorf("errnoFor(%v): got %v, want %v", c.err, got, c.want)
		}
	}
}
