package fs

import (
	"context"
	"errors"
	"log/slog"
	"syscall"

	"github.com/swiftfs/swiftfs/cache"
	"github.com/swiftfs/swiftfs/swiftclient"
)

// errnoFor maps an error to the errno the application sees. It is the only
// place that does: every swiftclient kind is listed (errno_test.go checks).
func errnoFor(err error) syscall.Errno {
	if err == nil {
		return 0
	}
	var errno syscall.Errno
	if errors.As(err, &errno) && !isClientError(err) {
		return errno
	}
	switch {
	case errors.Is(err, context.Canceled):
		return syscall.EINTR
	case errors.Is(err, cache.ErrNoSpace):
		return syscall.ENOSPC
	}
	switch swiftclient.KindOf(err) {
	case swiftclient.ErrNotFound:
		return syscall.ENOENT
	case swiftclient.ErrPreconditionFailed:
		// Only create-if-absent uploads (symlink) send preconditions.
		return syscall.EEXIST
	case swiftclient.ErrForbidden, swiftclient.ErrUnauthorized:
		// The credentials are not allowed to do this; a retry will not help.
		return syscall.EACCES
	case swiftclient.ErrTooLarge:
		// 413: over the container's quota or Swift's object size limit.
		return syscall.EDQUOT
	case swiftclient.ErrInvalid:
		return syscall.EINVAL
	case swiftclient.ErrConflict:
		return syscall.EBUSY
	case swiftclient.ErrRateLimited, swiftclient.ErrUnavailable, swiftclient.ErrCorrupted, swiftclient.ErrOther:
		return syscall.EIO
	}
	return syscall.EIO
}

func isClientError(err error) bool {
	var e *swiftclient.Error
	return errors.As(err, &e)
}

// fail maps err to an errno and logs it once: ENOENT and EEXIST at debug
// (they are answers, not failures), EIO and the rest at error level with
// Swift's transaction id.
func (f *FS) fail(op, path string, err error) syscall.Errno {
	errno := errnoFor(err)
	level := slog.LevelError
	switch errno {
	case syscall.ENOENT, syscall.EEXIST, syscall.ENOTEMPTY, syscall.EINTR:
		level = slog.LevelDebug
	case syscall.ENOSPC, syscall.EDQUOT, syscall.EACCES:
		level = slog.LevelWarn
	}
	attrs := []any{"op", op, "path", path, "errno", errno.Error(), "err", err}
	var se *swiftclient.Error
	if errors.As(err, &se) && se.TransID != "" {
		attrs = append(attrs, "trans_id", se.TransID)
	}
	f.log.Log(context.Background(), level, "operation failed", attrs...)
	return errno
}

// uninterrupted detaches a request's context from the kernel's interrupt
// (a signal to the caller, e.g. Go's preemption signal), for operations
// that change Swift: half a rename (copied, not yet deleted) or an upload
// cut off would be worse than a late answer. Reads and lookups stay
// interruptible (EINTR).
func uninterrupted(ctx context.Context) context.Context { return context.WithoutCancel(ctx) }
