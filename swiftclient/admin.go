package swiftclient

import (
	"context"

	"github.com/ncw/swift/v2"
)

// CreateContainer creates opts.Container (PUT; a no-op when it exists).
// It is not part of Client: the daemon never creates containers; tests,
// `swiftfs registry build` and the demo do.
func CreateContainer(ctx context.Context, opts Options) error {
	r := opts.withDefaults()
	if err := r.check(); err != nil {
		return err
	}
	c := newClient(r)
	ctx, cancel := context.WithTimeout(ctx, r.newTimeout)
	defer cancel()
	if err := c.conn.Authenticate(ctx); err != nil {
		return &Error{Kind: kindOfNcw(err), Op: "auth", Err: err}
	}
	if err := c.conn.ContainerCreate(ctx, r.Container, swift.Headers{}); err != nil {
		return &Error{Kind: kindOfNcw(err), Op: "create container", Name: r.Container, Err: err}
	}
	return nil
}

func kindOfNcw(err error) error {
	if se, ok := err.(*swift.Error); ok {
		return KindForStatus(se.StatusCode)
	}
	return ErrUnavailable
}
