package swiftclient

import (
	"errors"
	"fmt"
	iofs "io/fs"
)

// The error kinds a Client reports. Every error a Client returns matches
// exactly one of them with errors.Is; those that have an io/fs equivalent
// match it too (ErrNotFound matches fs.ErrNotExist).
var (
	ErrNotFound           = &kind{"not found", iofs.ErrNotExist}
	ErrPreconditionFailed = &kind{"precondition failed", iofs.ErrExist}
	ErrUnauthorized       = &kind{"unauthorized (wrong credentials or expired token)", iofs.ErrPermission}
	ErrForbidden          = &kind{"forbidden", iofs.ErrPermission}
	ErrRateLimited        = &kind{"rate limited", nil}
	ErrCorrupted          = &kind{"corrupted (checksum mismatch)", nil}
	ErrTooLarge           = &kind{"too large or over quota", nil}
	ErrConflict           = &kind{"conflict", nil}
	ErrUnavailable        = &kind{"service unavailable", nil}
	ErrInvalid            = &kind{"invalid request", iofs.ErrInvalid}
	ErrOther              = &kind{"unexpected failure", nil}
)

// kind is an error class. It is comparable and matches its io/fs twin.
type kind struct {
	msg  string
	twin error
}

func (k *kind) Error() string { return k.msg }

func (k *kind) Is(target error) bool { return k.twin != nil && target == k.twin }

// Error is what a Client returns: the kind, the operation and object, the
// HTTP status and Swift's transaction id, and the cause.
type Error struct {
	Kind    error  // one of the Err* sentinels
	Op      string // "stat", "get", "put", ...
	Name    string // object name ("" for container operations)
	Status  int    // HTTP status, 0 for transport errors
	TransID string // X-Trans-Id when known
	Err     error  // the cause
}

func (e *Error) Error() string {
	s := "swift " + e.Op
	if e.Name != "" {
		s += fmt.Sprintf(" %q", e.Name)
	}
	s += ": " + e.Kind.Error()
	if e.Status != 0 {
		s += fmt.Sprintf(" (HTTP %d)", e.Status)
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	if e.TransID != "" {
		s += " [trans-id " + e.TransID + "]"
	}
	return s
}

func (e *Error) Unwrap() []error { return []error{e.Kind, e.Err} }

// KindOf returns the Err* sentinel err belongs to, or nil for nil.
// Errors not produced by a Client are ErrOther.
func KindOf(err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	for _, k := range allKinds {
		if errors.Is(err, k) {
			return k
		}
	}
	return ErrOther
}

var allKinds = []error{ErrNotFound, ErrPreconditionFailed, ErrUnauthorized, ErrForbidden,
	ErrRateLimited, ErrCorrupted, ErrTooLarge, ErrConflict, ErrUnavailable, ErrInvalid, ErrOther}

// KindForStatus classifies an HTTP status code.
func KindForStatus(status int) error {
	switch {
	case status == 404:
		return ErrNotFound
	case status == 412:
		return ErrPreconditionFailed
	case status == 401:
		return ErrUnauthorized
	case status == 403:
		return ErrForbidden
	case status == 429 || status == 498:
		return ErrRateLimited
	case status == 422:
		return ErrCorrupted
	case status == 413:
		return ErrTooLarge
	case status == 409:
		return ErrConflict
	case status == 400 || status == 411 || status == 416:
		return ErrInvalid
	case status == 408 || status >= 500:
		return ErrUnavailable
	}
	return ErrOther
}

// IsTransient reports whether an operation that failed with err may succeed
// when retried unchanged.
func IsTransient(err error) bool {
	k := KindOf(err)
	return k == ErrUnavailable || k == ErrRateLimited
}
