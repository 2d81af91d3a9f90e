package main

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// fakeSwift serves Swift's v1 auth and one container of N synthetic
// objects, PREFIX + fmt(i), listed with prefix/delimiter/marker/
// end_marker/limit like Swift does. Real Swift cannot create a million
// objects on this machine in reasonable time; the daemon's memory use
// only depends on what the listings say.
type fakeSwift struct {
	n         int
	prefix    string
	format    string
	size      int64
	container string
	mtime     string
	reqs      [8]atomic.Int64 // by method index
}

var fakeMethods = []string{"GET", "HEAD", "PUT", "POST", "DELETE", "COPY", "OTHER"}

func (s *fakeSwift) name(i int) string { return s.prefix + fmt.Sprintf(s.format, i) }

// first returns the index of the first name > after (or >= at when
// inclusive).
func (s *fakeSwift) first(at string, inclusive bool) int {
	return sort.Search(s.n, func(i int) bool {
		if inclusive {
			return s.name(i) >= at
		}
		return s.name(i) > at
	})
}

type fakeEntry struct {
	Name         string `json:"name,omitempty"`
	Hash         string `json:"hash,omitempty"`
	Bytes        *int64 `json:"bytes,omitempty"`
	ContentType  string `json:"content_type,omitempty"`
	LastModified string `json:"last_modified,omitempty"`
	Subdir       string `json:"subdir,omitempty"`
}

func (s *fakeSwift) listing(q map[string][]string) []fakeEntry {
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	prefix, delim, marker, end := get("prefix"), get("delimiter"), get("marker"), get("end_marker")
	limit := 10000
	if l, err := strconv.Atoi(get("limit")); err == nil && l > 0 && l < limit {
		limit = l
	}
	i := s.first(prefix, true)
	if marker != "" {
		i = max(i, s.first(marker, false))
	}
	var out []fakeEntry
	for i < s.n && len(out) < limit {
		name := s.name(i)
		if !strings.HasPrefix(name, prefix) || (end != "" && name >= end) {
			break
		}
		if delim != "" {
			if j := strings.Index(name[len(prefix):], delim); j >= 0 {
				sub := name[:len(prefix)+j+len(delim)]
				if sub > marker {
					out = append(out, fakeEntry{Subdir: sub})
				}
				i = sort.Search(s.n, func(k int) bool {
					nk := s.name(k)
					return nk > sub && !strings.HasPrefix(nk, sub)
				})
				continue
			}
		}
		sum := md5.Sum([]byte(name))
		size := s.size
		out = append(out, fakeEntry{Name: name, Hash: hex.EncodeToString(sum[:]), Bytes: &size,
			ContentType: "application/octet-stream", LastModified: s.mtime})
		i++
	}
	return out
}

func (s *fakeSwift) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	mi := len(fakeMethods) - 1
	for k, m := range fakeMethods {
		if m == r.Method {
			mi = k
		}
	}
	s.reqs[mi].Add(1)
	path := r.URL.Path
	switch {
	case strings.HasPrefix(path, "/auth/"):
		host := r.Host
		w.Header().Set("X-Storage-Url", "http://"+host+"/v1/AUTH_fake")
		w.Header().Set("X-Auth-Token", "AUTH_tkfake")
		w.Header().Set("X-Storage-Token", "AUTH_tkfake")
		w.WriteHeader(http.StatusOK)
		return
	case path == "/info":
		json.NewEncoder(w).Encode(map[string]any{"swift": map[string]any{
			"container_listing_limit": 10000, "max_object_name_length": 1024}})
		return
	}
	if r.Header.Get("X-Auth-Token") != "AUTH_tkfake" {
		http.Error(w, "no token", http.StatusUnauthorized)
		return
	}
	rest, ok := strings.CutPrefix(path, "/v1/AUTH_fake")
	if !ok {
		http.NotFound(w, r)
		return
	}
	rest = strings.TrimPrefix(rest, "/")
	container, object, _ := strings.Cut(rest, "/")
	h := w.Header()
	h.Set("X-Trans-Id", "txfake")
	h.Set("X-Timestamp", "1700000000.00000")
	switch {
	case container == "":
		h.Set("X-Account-Container-Count", "1")
		h.Set("X-Account-Object-Count", strconv.Itoa(s.n))
		h.Set("X-Account-Bytes-Used", strconv.FormatInt(int64(s.n)*s.size, 10))
		if r.Method == http.MethodHead {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		h.Set("Content-Type", "application/json; charset=utf-8")
		json.NewEncoder(w).Encode([]map[string]any{{"name": s.container, "count": s.n, "bytes": int64(s.n) * s.size}})
	case container != s.container:
		http.NotFound(w, r)
	case object == "":
		h.Set("X-Container-Object-Count", strconv.Itoa(s.n))
		h.Set("X-Container-Bytes-Used", strconv.FormatInt(int64(s.n)*s.size, 10))
		if r.Method == http.MethodHead {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if r.Method != http.MethodGet {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		ents := s.listing(r.URL.Query())
		if r.URL.Query().Get("format") == "json" {
			h.Set("Content-Type", "application/json; charset=utf-8")
			if ents == nil {
				ents = []fakeEntry{}
			}
			json.NewEncoder(w).Encode(ents)
			return
		}
		if len(ents) == 0 {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		h.Set("Content-Type", "text/plain; charset=utf-8")
		for _, e := range ents {
			fmt.Fprintln(w, e.Name+e.Subdir)
		}
	default:
		i := s.first(object, true)
		if i >= s.n || s.name(i) != object {
			http.NotFound(w, r)
			return
		}
		switch r.Method {
		case http.MethodHead, http.MethodGet:
			sum := md5.Sum([]byte(object))
			h.Set("Etag", hex.EncodeToString(sum[:]))
			h.Set("Content-Type", "application/octet-stream")
			h.Set("Last-Modified", "Tue, 14 Nov 2023 22:13:20 GMT")
			h.Set("Content-Length", strconv.FormatInt(s.size, 10))
			w.WriteHeader(http.StatusOK)
			if r.Method == http.MethodGet {
				io.CopyN(w, zeroReader{}, s.size)
			}
		default:
			http.Error(w, "read-only fake", http.StatusForbidden)
		}
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func cmdFakeSwift(args []string) error {
	fset := flag.NewFlagSet("fakeswift", flag.ExitOnError)
	s := &fakeSwift{mtime: "2023-11-14T22:13:20.000000"}
	fset.IntVar(&s.n, "n", 1000000, "number of objects")
	fset.StringVar(&s.prefix, "prefix", "big/", "object name prefix")
	fset.StringVar(&s.format, "fmt", "f%07d", "object name format (must sort like the numbers)")
	fset.Int64Var(&s.size, "size", 1024, "size reported for each object")
	fset.StringVar(&s.container, "container", "fake", "container name")
	addr := fset.String("addr", "127.0.0.1:0", "listen address")
	addrFile := fset.String("addr-file", "", "write the listen address here once listening")
	fset.Parse(args)
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	if *addrFile != "" {
		if err := os.WriteFile(*addrFile+".tmp", []byte(ln.Addr().String()), 0o644); err != nil {
			return err
		}
		if err := os.Rename(*addrFile+".tmp", *addrFile); err != nil {
			return err
		}
	}
	fmt.Fprintf(os.Stderr, "fakeswift: %d objects on http://%s/auth/v1.0\n", s.n, ln.Addr())
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-sig
		srv.Close()
	}()
	err = srv.Serve(ln)
	var b strings.Builder
	for k, m := range fakeMethods {
		if n := s.reqs[k].Load(); n > 0 {
			fmt.Fprintf(&b, " %s=%d", m, n)
		}
	}
	fmt.Fprintf(os.Stderr, "fakeswift: requests:%s\n", b.String())
	if err == http.ErrServerClosed {
		return nil
	}
	return err
}
