package swiftclient

import (
	"context"
	"errors"
)

// IsVersion reports whether the object name in Swift is still the version
// with ETag etag (etag "": that there is no object), with what Swift has
// (the zero ObjectInfo when there is none). It is the compare half of a
// compare-and-swap that Swift does not offer: a HEAD, then the caller's
// write; another client may write in between.
func IsVersion(ctx context.Context, c Client, name, etag string) (bool, ObjectInfo, error) {
	st, err := c.Stat(ctx, name)
	switch {
	case errors.Is(err, ErrNotFound):
		return etag == "", ObjectInfo{}, nil
	case err != nil:
		return false, ObjectInfo{}, err
	}
	return etag != "" && st.ETag == etag, st, nil
}
