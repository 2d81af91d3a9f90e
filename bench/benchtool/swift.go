package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// swiftConn is a minimal Swift v1 (tempauth) client from ST_AUTH, ST_USER
// and ST_KEY.
type swiftConn struct {
	storage, token string
	hc             *http.Client
}

func dialSwift() (*swiftConn, error) {
	auth, user, key := os.Getenv("ST_AUTH"), os.Getenv("ST_USER"), os.Getenv("ST_KEY")
	if auth == "" || user == "" {
		return nil, errors.New("ST_AUTH and ST_USER must be set")
	}
	req, _ := http.NewRequest(http.MethodGet, auth, nil)
	req.Header.Set("X-Auth-User", user)
	req.Header.Set("X-Auth-Key", key)
	hc := &http.Client{Timeout: 30 * time.Minute}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("auth: %s", resp.Status)
	}
	c := &swiftConn{storage: resp.Header.Get("X-Storage-Url"), token: resp.Header.Get("X-Auth-Token"), hc: hc}
	if c.storage == "" || c.token == "" {
		return nil, errors.New("auth: no storage URL or token")
	}
	return c, nil
}

func (c *swiftConn) do(method, path string, q url.Values, body io.Reader, hdr map[string]string) (*http.Response, []byte, error) {
	u := c.storage + "/" + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("X-Auth-Token", c.token)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return resp, data, err
}

type listEntry struct {
	Name  string `json:"name"`
	Bytes int64  `json:"bytes"`
	Hash  string `json:"hash"`
}

// list returns every object under prefix (no delimiter).
func (c *swiftConn) list(container, prefix string) ([]listEntry, error) {
	var all []listEntry
	marker := ""
	for {
		q := url.Values{"format": {"json"}, "prefix": {prefix}, "marker": {marker}}
		resp, data, err := c.do(http.MethodGet, url.PathEscape(container), q, nil, nil)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode == http.StatusNotFound {
			return nil, nil
		}
		if resp.StatusCode/100 != 2 {
			return nil, fmt.Errorf("list %s: %s", container, resp.Status)
		}
		var page []listEntry
		if len(data) > 0 {
			if err := json.Unmarshal(data, &page); err != nil {
				return nil, err
			}
		}
		if len(page) == 0 {
			return all, nil
		}
		all = append(all, page...)
		marker = page[len(page)-1].Name
	}
}

func cmdSwift(args []string) error {
	if len(args) == 0 {
		return errors.New("usage: benchtool swift auth|mkcontainer|count|wait|bulkput|purge ...")
	}
	sub, args := args[0], args[1:]
	fset := flag.NewFlagSet("swift "+sub, flag.ExitOnError)
	container := fset.String("c", "", "container")
	prefix := fset.String("prefix", "", "object name prefix")
	count := fset.Int("count", 1, "wait: number of objects expected under the prefix")
	size := fset.Int64("size", -1, "wait: size every object must have (-1: any)")
	timeout := fset.Duration("timeout", 10*time.Minute, "wait: give up after")
	interval := fset.Duration("interval", 200*time.Millisecond, "wait: time between listings")
	fset.Parse(args)
	c, err := dialSwift()
	if err != nil {
		return err
	}
	cpath := url.PathEscape(*container)
	switch sub {
	case "auth":
		fmt.Println(c.storage, c.token)
		return nil
	case "mkcontainer":
		resp, _, err := c.do(http.MethodPut, cpath, nil, nil, nil)
		if err == nil && resp.StatusCode/100 != 2 {
			err = fmt.Errorf("PUT %s: %s", *container, resp.Status)
		}
		return err
	case "count":
		resp, _, err := c.do(http.MethodHead, cpath, nil, nil, nil)
		if err != nil {
			return err
		}
		if resp.StatusCode == http.StatusNotFound {
			fmt.Println(-1)
			return nil
		}
		fmt.Println(resp.Header.Get("X-Container-Object-Count"))
		return nil
	case "wait":
		// Until the listing shows exactly COUNT objects under PREFIX, each
		// of SIZE bytes (directory markers, names ending in "/", aside):
		// what "durable" means for a mount that has no sync command.
		start := time.Now()
		for {
			ents, err := c.list(*container, *prefix)
			if err != nil {
				return err
			}
			n := 0
			ok := true
			for _, e := range ents {
				if strings.HasSuffix(e.Name, "/") {
					continue // a directory marker (swiftfs's mkdir)
				}
				n++
				if *size >= 0 && e.Bytes != *size {
					ok = false
				}
			}
			ok = ok && n == *count
			if ok {
				fmt.Printf("%.3f\n", time.Since(start).Seconds())
				return nil
			}
			if time.Since(start) > *timeout {
				return fmt.Errorf("timeout: %d objects under %q in %s, want %d", n, *prefix, *container, *count)
			}
			time.Sleep(*interval)
		}
	case "bulkput":
		// stdin is a tar; Swift's bulk middleware creates one object per
		// file, under the container.
		resp, data, err := c.do(http.MethodPut, cpath, url.Values{"extract-archive": {"tar"}}, os.Stdin,
			map[string]string{"Accept": "application/json"})
		if err != nil {
			return err
		}
		var res struct {
			Created int    `json:"Number Files Created"`
			Status  string `json:"Response Status"`
			Errors  [][]string
		}
		if err := json.Unmarshal(bytes.TrimSpace(data), &res); err != nil {
			return fmt.Errorf("bulk upload: %s: %q", resp.Status, data)
		}
		if !strings.HasPrefix(res.Status, "201") || len(res.Errors) > 0 {
			return fmt.Errorf("bulk upload: %s, %d created, errors %v", res.Status, res.Created, res.Errors)
		}
		fmt.Println(res.Created)
		return nil
	case "purge":
		// Every object under the prefix through bulk-delete, then the
		// container itself when no prefix was given.
		ents, err := c.list(*container, *prefix)
		if err != nil {
			return err
		}
		// Batches of 250 names, 4 bulk requests at a time (the middleware
		// deletes one batch's objects nearly one by one).
		var batches []string
		for len(ents) > 0 {
			n := min(len(ents), 250)
			var b strings.Builder
			for _, e := range ents[:n] {
				b.WriteString(url.PathEscape(*container) + "/" + escapeObject(e.Name) + "\n")
			}
			batches = append(batches, b.String())
			ents = ents[n:]
		}
		errs := make(chan error, len(batches))
		sem := make(chan struct{}, 4)
		for _, body := range batches {
			sem <- struct{}{}
			go func() {
				defer func() { <-sem }()
				resp, data, err := c.do(http.MethodPost, "", url.Values{"bulk-delete": {"1"}}, strings.NewReader(body),
					map[string]string{"Accept": "application/json", "Content-Type": "text/plain"})
				if err == nil && resp.StatusCode/100 != 2 {
					err = fmt.Errorf("bulk delete: %s: %s", resp.Status, data)
				}
				errs <- err
			}()
		}
		for range batches {
			if err := <-errs; err != nil {
				return err
			}
		}
		if *prefix == "" {
			for attempt := 0; ; attempt++ {
				resp, _, err := c.do(http.MethodDelete, cpath, nil, nil, nil)
				if err != nil {
					return err
				}
				// 409: listing not yet empty (async updates); retry.
				if resp.StatusCode == http.StatusConflict && attempt < 20 {
					time.Sleep(250 * time.Millisecond)
					continue
				}
				if resp.StatusCode/100 != 2 && resp.StatusCode != http.StatusNotFound {
					return fmt.Errorf("DELETE %s: %s", *container, resp.Status)
				}
				return nil
			}
		}
		return nil
	}
	return fmt.Errorf("unknown swift subcommand %q", sub)
}

func escapeObject(name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return strings.Join(parts, "/")
}

// cmdProxylog counts the requests on one container in a Swift proxy log
// from byte offset on: client requests by method, and server-side copies
// (the copy middleware's internal GETs, swift_source SSC), whichever verb
// (COPY or PUT with X-Copy-From) the client used.
func cmdProxylog(args []string) error {
	fset := flag.NewFlagSet("proxylog", flag.ExitOnError)
	logf := fset.String("log", "", "proxy-server log")
	offset := fset.Int64("offset", 0, "start at this byte offset")
	container := fset.String("container", "", "container")
	fset.Parse(args)
	f, err := os.Open(*logf)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.Seek(*offset, io.SeekStart); err != nil {
		return err
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return err
	}
	counts := countProxyLog(string(data), *container)
	out, _ := json.Marshal(counts)
	fmt.Println(string(out))
	return nil
}

// countProxyLog parses proxy-logging lines:
//
//	proxy-server: CLIENT REMOTE DATE METHOD PATH PROTO STATUS REFERER UA TOKEN
//	  RECVD SENT ETAG TXID HEADERS TIME SOURCE INFO START END POLICY
//
// (fields are URL-quoted, so splitting on spaces is safe). PUTs of names
// ending in "/" (directory markers) are counted apart, as PUT_dir.
func countProxyLog(data, container string) map[string]int {
	counts := map[string]int{"PUT": 0, "PUT_dir": 0, "COPY": 0, "DELETE": 0, "POST": 0, "HEAD": 0, "GET": 0, "SSC": 0}
	for _, line := range strings.Split(data, "\n") {
		i := strings.Index(line, "proxy-server: ")
		if i < 0 {
			continue
		}
		f := strings.Fields(line[i+len("proxy-server: "):])
		if len(f) < 17 {
			continue
		}
		client, method, path, source := f[0], f[3], f[4], f[16]
		p, err := url.PathUnescape(path)
		if err != nil {
			p = path
		}
		p, _, _ = strings.Cut(p, "?")
		parts := strings.SplitN(p, "/", 5) // "", v1, AUTH_x, container, object
		if len(parts) < 4 || parts[1] != "v1" || parts[3] != container {
			continue
		}
		if client == "-" {
			// An internal subrequest of a middleware.
			if source == "SSC" {
				counts["SSC"]++
			}
			continue
		}
		if method == "PUT" && strings.HasSuffix(p, "/") && len(parts) == 5 {
			counts["PUT_dir"]++ // a directory marker object
		} else {
			counts[method]++
		}
		counts["total"]++
	}
	return counts
}

// parseInt64 is strconv.ParseInt with a default.
func parseInt64(s string, def int64) int64 {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return def
	}
	return n
}
