package fs

import (
	"fmt"
	"math"
	"mime"
	"path"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Content types swiftfs gives special meaning.
const (
	ctDirectory = "application/directory"
	ctSymlink   = "application/link"
	ctDefault   = "application/octet-stream"
)

// kind is the file type of a namespace entry.
type kind uint8

const (
	kindFile kind = iota
	kindDir
	kindSymlink
)

// attrs are the POSIX attributes swiftfs keeps per object: in the content
// type's parameters (so that a listing carries them and `ls -l` costs no
// HEAD per file) and in X-Object-Meta-* (mtime also as X-Object-Meta-Mtime,
// the convention of rclone and ncw/swift).
//
// The fields are ordered so that the struct has no padding (48 bytes): one
// is kept per namespace entry and per inode.
type attrs struct {
	perm uint32 // permission bits incl. setuid/setgid/sticky
	uid  uint32
	gid  uint32
	kind kind
	// explicit is true when perm/uid/gid came from the object (else defaults).
	explicit bool
	mtime    time.Time
	size     int64
}

func (a attrs) mode() uint32 {
	switch a.kind {
	case kindDir:
		return syscall.S_IFDIR | a.perm
	case kindSymlink:
		return syscall.S_IFLNK | 0o777
	}
	return syscall.S_IFREG | a.perm
}

// formatTime renders t as seconds with nanoseconds ("1700000000.123456789").
func formatTime(t time.Time) string {
	return fmt.Sprintf("%d.%09d", t.Unix(), t.Nanosecond())
}

func parseTime(s string) (time.Time, bool) {
	sec, frac, _ := strings.Cut(s, ".")
	n, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return time.Time{}, false
		}
		return time.Unix(0, int64(f*1e9)), true
	}
	var ns int64
	if frac != "" {
		if len(frac) > 9 {
			frac = frac[:9]
		}
		frac += strings.Repeat("0", 9-len(frac))
		ns, err = strconv.ParseInt(frac, 10, 64)
		if err != nil {
			return time.Time{}, false
		}
	}
	return time.Unix(n, ns), true
}

// baseType guesses a content type for a new file from its name.
func baseType(name string, k kind) string {
	switch k {
	case kindDir:
		return ctDirectory
	case kindSymlink:
		return ctSymlink
	}
	ext := strings.ToLower(path.Ext(name))
	switch ext {
	case ".fits", ".fit", ".fts", ".fz":
		return "application/fits"
	case ".sqlite3", ".sqlite", ".db":
		return "application/vnd.sqlite3"
	}
	if t := mime.TypeByExtension(ext); t != "" {
		return t
	}
	return ctDefault
}

// encode returns the content type and metadata for an object with attrs a.
// base is the media type to keep (the object's current one, or a guess).
func encode(base string, a attrs) (string, map[string]string) {
	base, _, _ = strings.Cut(base, ";")
	base = strings.TrimSpace(base)
	if base == "" {
		base = ctDefault
	}
	ct := fmt.Sprintf("%s;swiftfs_mode=%o;swiftfs_uid=%d;swiftfs_gid=%d;swiftfs_mtime=%s",
		base, a.perm, a.uid, a.gid, formatTime(a.mtime))
	meta := map[string]string{
		"mtime": formatTime(a.mtime),
		"mode":  strconv.FormatUint(uint64(a.perm), 8),
		"uid":   strconv.FormatUint(uint64(a.uid), 10),
		"gid":   strconv.FormatUint(uint64(a.gid), 10),
	}
	return ct, meta
}

// decode reads attrs from a content type (and metadata, when known),
// falling back to defaults and the server's last-modified time.
func decode(ct string, meta map[string]string, size int64, lastModified time.Time, def attrs) attrs {
	a := def
	a.size = size
	a.mtime = lastModified
	base, params, _ := strings.Cut(ct, ";")
	base = strings.ToLower(strings.TrimSpace(base))
	switch base {
	case ctDirectory, "text/directory":
		a.kind = kindDir
	case ctSymlink:
		a.kind = kindSymlink
	}
	get := func(k string) (string, bool) {
		if v, ok := meta[k]; ok {
			return v, true
		}
		return "", false
	}
	for rest := params; rest != ""; {
		var p string
		p, rest, _ = strings.Cut(rest, ";")
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok {
			continue
		}
		switch k {
		case "swiftfs_mode":
			if m, err := strconv.ParseUint(v, 8, 32); err == nil {
				a.perm = uint32(m) & 0o7777
				a.explicit = true
			}
		case "swiftfs_uid":
			if n, err := strconv.ParseUint(v, 10, 32); err == nil {
				a.uid = uint32(n)
			}
		case "swiftfs_gid":
			if n, err := strconv.ParseUint(v, 10, 32); err == nil {
				a.gid = uint32(n)
			}
		case "swiftfs_mtime":
			if t, ok := parseTime(v); ok {
				a.mtime = t
			}
		}
	}
	if !a.explicit {
		if v, ok := get("mode"); ok {
			if m, err := strconv.ParseUint(v, 8, 32); err == nil {
				a.perm = uint32(m) & 0o7777
				a.explicit = true
			}
		}
		if v, ok := get("uid"); ok {
			if n, err := strconv.ParseUint(v, 10, 32); err == nil {
				a.uid = uint32(n)
			}
		}
		if v, ok := get("gid"); ok {
			if n, err := strconv.ParseUint(v, 10, 32); err == nil {
				a.gid = uint32(n)
			}
		}
	}
	if v, ok := get("mtime"); ok && !strings.Contains(params, "swiftfs_mtime=") {
		if t, ok := parseTime(v); ok {
			a.mtime = t
		}
	}
	return a
}
