package swiftclient_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/swiftfs/swiftfs/swiftclient"
	"github.com/swiftfs/swiftfs/swiftclient/swiftfake"
)

func TestListPages(t *testing.T) {
	f := swiftfake.New()
	f.ListMaxPage = 3
	var want []string
	for i := 0; i < 10; i++ {
		n := fmt.Sprintf("d/%02d", i)
		f.PutRaw(n, nil, "", nil)
		want = append(want, n)
	}
	f.PutRaw("other", nil, "", nil)
	var got []string
	pages := 0
	err := swiftclient.ListPages(context.Background(), f, swiftclient.ListOptions{Prefix: "d/"}, func(es []swiftclient.ObjectInfo) error {
		pages++
		for _, e := range es {
			got = append(got, e.Name)
		}
		return nil
	})
	if err != nil || strings.Join(got, ",") != strings.Join(want, ",") || pages != 4 {
		t.Errorf("got %v in %d pages (err %v), want %v in 4", got, pages, err, want)
	}
	stop := errors.New("stop")
	calls := 0
	err = swiftclient.ListPages(context.Background(), f, swiftclient.ListOptions{Prefix: "d/"}, func([]swiftclient.ObjectInfo) error {
		calls++
		return stop
	})
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("an error from fn: got %v after %d calls, want stop after 1", err, calls)
	}
}
