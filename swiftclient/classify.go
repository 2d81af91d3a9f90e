package swiftclient

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/ncw/swift/v2"
)

// classify turns an error from ncw/swift or net/http into an *Error. It is
// the only place that looks inside ncw/swift errors (style rule 6): HTTP
// failures are *swift.Error with a StatusCode, classified by KindForStatus;
// transport failures (*url.Error, net.Error, EOF) are ErrUnavailable with
// Status 0. h are the response headers, when there was a response; they give
// the transaction id. secrets are removed from the cause's text.
func classify(op, name string, err error, h map[string]string, secrets []string) error {
	if err == nil {
		return nil
	}
	var done *Error
	if errors.As(err, &done) {
		return err
	}
	e := &Error{Op: op, Name: name, TransID: transID(h), Err: scrub(err, secrets)}
	var (
		se   *swift.Error
		be   *bodyError
		ue   *url.Error
		ne   net.Error
		kind error
	)
	switch {
	case errors.As(err, &be):
		// The caller's body failed or was shorter than the size given.
		kind = ErrOther
		if errors.Is(be.err, errShortBody) {
			kind = ErrInvalid
		}
	case errors.As(err, &se):
		e.Status = se.StatusCode
		if se.StatusCode == 0 {
			// ncw/swift's own complaints (a malformed response).
			kind = ErrOther
		} else {
			kind = KindForStatus(se.StatusCode)
		}
	case errors.As(err, &ue), errors.As(err, &ne),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		// Includes context cancellation, which net/http reports as a
		// *url.Error wrapping ctx.Err().
		kind = ErrUnavailable
	default:
		kind = ErrOther
	}
	e.Kind = kind
	return e
}

// transID picks Swift's transaction id out of response headers.
func transID(h map[string]string) string {
	if id := h["X-Trans-Id"]; id != "" {
		return id
	}
	return h["X-Openstack-Request-Id"]
}

// scrub hides secrets that an error text may contain (defence in depth:
// ncw/swift and net/http do not put credentials in errors, but an auth
// server's response body might echo them).
func scrub(err error, secrets []string) error {
	msg := err.Error()
	changed := false
	for _, s := range secrets {
		if len(s) >= 4 && strings.Contains(msg, s) {
			msg = strings.ReplaceAll(msg, s, redacted)
			changed = true
		}
	}
	if !changed {
		return err
	}
	return &scrubbedError{msg: msg, err: err}
}

// scrubbedError keeps the chain for errors.Is/As but prints without secrets.
type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }

// invalid makes an ErrInvalid error for a request refused before sending.
func invalid(op, name, format string, args ...any) error {
	return &Error{Kind: ErrInvalid, Op: op, Name: name, Err: fmt.Errorf(format, args...)}
}

// checkName refuses names Swift would reject or mangle.
func checkName(op, name string, maxLen int) error {
	switch {
	case name == "":
		return invalid(op, name, "empty object name")
	case len(name) > maxLen:
		return invalid(op, name, "object name is %d bytes long; Swift allows %d", len(name), maxLen)
	case !utf8.ValidString(name):
		return invalid(op, name, "object name is not valid UTF-8")
	case strings.ContainsRune(name, 0):
		return invalid(op, name, "object name contains a NUL byte")
	}
	return nil
}

// ValidateMeta checks user metadata (the X-Object-Meta-* suffixes and
// values) before it is sent, and describes the first problem. Client methods
// report it as ErrInvalid. The rules make metadata round-trip unchanged
// through Swift:
//
//   - keys are non-empty and made of lower-case letters, digits and the
//     HTTP token characters !#$%&'*+-.^`|~ — Swift returns keys with
//     changed case (we report them lower-cased) and turns "_" into "-";
//   - values are valid UTF-8 without control characters (tab excepted)
//     and without leading or trailing blanks, which HTTP drops.
//
// Swift's size limits (by default 90 keys, 128-byte keys, 256-byte values,
// 4096 bytes in all) are left to the server, which may be configured
// otherwise; it answers 400 (ErrInvalid).
func ValidateMeta(meta map[string]string) error {
	for k, v := range meta {
		if k == "" {
			return errors.New("empty metadata key")
		}
		for i := 0; i < len(k); i++ {
			c := k[i]
			switch {
			case c >= 'a' && c <= 'z', c >= '0' && c <= '9', strings.IndexByte("!#$%&'*+-.^`|~", c) >= 0:
			case c >= 'A' && c <= 'Z':
				return fmt.Errorf("metadata key %q has upper-case letters; Swift does not keep their case", k)
			case c == '_':
				return fmt.Errorf("metadata key %q has '_', which Swift turns into '-'", k)
			default:
				return fmt.Errorf("metadata key %q has a character not allowed in an HTTP header name", k)
			}
		}
		if !utf8.ValidString(v) {
			return fmt.Errorf("metadata %q: value is not valid UTF-8", k)
		}
		for _, r := range v {
			if (r < 0x20 && r != '\t') || r == 0x7f {
				return fmt.Errorf("metadata %q: value has a control character", k)
			}
		}
		if strings.Trim(v, " \t") != v {
			return fmt.Errorf("metadata %q: value has leading or trailing blanks, which HTTP drops", k)
		}
	}
	return nil
}
