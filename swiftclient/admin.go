package swiftclient

import (
	"context"
	"net/http"
)

// CreateContainer creates opts.Container (PUT; a no-op when it exists).
// It is not part of Client: the daemon never creates containers; tests,
// `swiftfs registry build` and the demo do. Errors are classified like a
// Client's, with New's messages for authentication failures.
func CreateContainer(ctx context.Context, opts Options) error {
	r := opts.withDefaults()
	if err := r.check(); err != nil {
		return err
	}
	c := newClient(r)
	ctx, cancel := context.WithTimeout(ctx, r.newTimeout)
	defer cancel()
	if !c.conn.Authenticated() {
		if err := c.authError(c.conn.Authenticate(ctx)); err != nil {
			return err
		}
	}
	return c.retry.run(ctx, "create container", r.Container, true, func(ctx context.Context) (map[string]string, error) {
		_, h, err := c.call(ctx, http.MethodPut, "", nil, nil, nil, true)
		return h, c.classify("create container", r.Container, err, h)
	})
}
