package swiftclient

import "context"

// ListPages lists everything opts selects, one page at a time, calling fn
// with each page's entries in name order; it follows NextMarker (or the
// last name, for servers that do not give one) past Swift's 10,000-entry
// pages. opts.Marker is where it starts. An error from c or fn stops it.
func ListPages(ctx context.Context, c Client, opts ListOptions, fn func([]ObjectInfo) error) error {
	for {
		page, err := c.List(ctx, opts)
		if err != nil {
			return err
		}
		if err := fn(page.Entries); err != nil {
			return err
		}
		if !page.More || len(page.Entries) == 0 {
			return nil
		}
		opts.Marker = page.NextMarker
		if opts.Marker == "" {
			opts.Marker = page.Entries[len(page.Entries)-1].Name
		}
	}
}
