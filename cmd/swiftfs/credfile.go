package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"syscall"
)

// A credentials file (--credentials-file, fstab credentials_file=) holds
// OS_*/ST_* assignments as an OpenStack rc file does, for mounts whose
// environment is empty (mount(8) from /etc/fstab):
//
//	# comment
//	export OS_AUTH_URL=https://keystone.example.org:5000/v3
//	OS_USERNAME='jdoe'
//
// Values are literal (no shell expansion); nothing but assignments of
// OS_* and ST_* variables is accepted. The file must be owned by the user
// running swiftfs and not accessible by group or others, as the password
// file: it may hold a password.

var credKey = regexp.MustCompile(`^(OS|ST)_[A-Z0-9_]+$`)

// maxCredFile bounds what readCredentialsFile reads.
const maxCredFile = 64 << 10

// readCredentialsFile parses a credentials file. Error messages name the
// file, the line and the variable, never a value.
func readCredentialsFile(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("credentials file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("credentials file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("credentials file %s is not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("credentials file %s has mode %04o: it must not be accessible by group or others (chmod 600 %s)", path, perm, path)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
		return nil, fmt.Errorf("credentials file %s is owned by uid %d, not by the user running swiftfs (uid %d)", path, st.Uid, os.Geteuid())
	}
	vars := map[string]string{}
	sc := bufio.NewScanner(io.LimitReader(f, maxCredFile))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimSpace(strings.TrimPrefix(line, "export "))
		key, val, ok := strings.Cut(line, "=")
		if !ok || !credKey.MatchString(key) {
			return nil, fmt.Errorf("credentials file %s, line %d: not an assignment of an OS_* or ST_* variable (VAR=value)", path, n)
		}
		v, err := unquoteCred(val)
		if err != nil {
			return nil, fmt.Errorf("credentials file %s, line %d (%s): %v", path, n, key, err)
		}
		vars[key] = v
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("credentials file %s: %w", path, err)
	}
	if len(vars) == 0 {
		return nil, fmt.Errorf("credentials file %s sets no OS_* or ST_* variable", path)
	}
	return vars, nil
}

// unquoteCred takes a value as written: bare, '...' or "..." (literal, no
// escapes or expansion).
func unquoteCred(v string) (string, error) {
	if len(v) >= 2 && (v[0] == '\'' || v[0] == '"') && v[len(v)-1] == v[0] {
		inner := v[1 : len(v)-1]
		if v[0] == '"' && strings.ContainsAny(inner, "$`\\") {
			return "", fmt.Errorf("shell expansion and escapes are not supported: write the value literally, in single quotes")
		}
		return inner, nil
	}
	if strings.ContainsAny(v, "'\"$`\\ \t;") {
		return "", fmt.Errorf("quotes, spaces or shell syntax in an unquoted value: write the value literally, in single quotes")
	}
	return v, nil
}

// useCredentialsFile replaces every OS_* and ST_* variable of the
// environment with the file's, so that the file alone says how to
// authenticate (and which auth URL the cache directory belongs to).
func useCredentialsFile(path string) error {
	vars, err := readCredentialsFile(path)
	if err != nil {
		return err
	}
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "OS_") || strings.HasPrefix(k, "ST_") {
			os.Unsetenv(k)
		}
	}
	for k, v := range vars {
		os.Setenv(k, v)
	}
	return nil
}
