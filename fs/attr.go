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
	// Special files are zero-byte objects with the media types of the
	// shared MIME database (freedesktop.org) for them.
	ctFIFO   = "inode/fifo"
	ctSocket = "inode/socket"
	ctChar   = "inode/chardevice"
	ctBlock  = "inode/blockdevice"
)

// kind is the file type of a namespace entry.
type kind uint8

const (
	kindFile kind = iota
	kindDir
	kindSymlink
	kindFIFO
	kindSocket
	kindChar  // character device node
	kindBlock // block device node
)

// special reports whether k is a FIFO, a socket or a device node: a
// zero-byte object whose content swiftfs never reads or writes (the
// kernel serves FIFOs and sockets itself).
func (k kind) special() bool { return k >= kindFIFO }

// kindOfMode is the kind of a file type (S_IFMT bits); false for types
// swiftfs cannot store.
func kindOfMode(mode uint32) (kind, bool) {
	switch mode & syscall.S_IFMT {
	case syscall.S_IFREG, 0:
		return kindFile, true
	case syscall.S_IFDIR:
		return kindDir, true
	case syscall.S_IFLNK:
		return kindSymlink, true
	case syscall.S_IFIFO:
		return kindFIFO, true
	case syscall.S_IFSOCK:
		return kindSocket, true
	case syscall.S_IFCHR:
		return kindChar, true
	case syscall.S_IFBLK:
		return kindBlock, true
	}
	return 0, false
}

// attrs are the POSIX attributes swiftfs keeps per object: in the content
// type's parameters (so that a listing carries them and `ls -l` costs no
// HEAD per file) and in X-Object-Meta-* (mtime also as X-Object-Meta-Mtime,
// the convention of rclone and ncw/swift).
//
// atime and ctime are kept only when they differ from mtime (0 = "the same
// as mtime"): a file written and never chmod'ed, renamed or utimes'd has
// all three equal and costs nothing more in a listing (listing.go).
//
// The fields are ordered so that the struct has the least padding (72
// bytes): one is kept per namespace entry and per inode.
type attrs struct {
	perm uint32 // permission bits incl. setuid/setgid/sticky
	uid  uint32
	gid  uint32
	rdev uint32 // device number (Linux encoding) of a device node
	kind kind
	// explicit is true when perm/uid/gid came from the object (else defaults).
	explicit bool
	mtime    time.Time
	atime    int64 // Unix nanoseconds; 0: the same as mtime (never set)
	ctime    int64 // Unix nanoseconds; 0: the same as mtime
	size     int64
}

// atimeOr returns the access time (mtime when none is kept).
func (a attrs) atimeOr() time.Time {
	if a.atime != 0 {
		return time.Unix(0, a.atime)
	}
	return a.mtime
}

// ctimeOr returns the status change time (mtime when none is kept).
func (a attrs) ctimeOr() time.Time {
	if a.ctime != 0 {
		return time.Unix(0, a.ctime)
	}
	return a.mtime
}

// changed records a status change (chmod, chown, rename, utimes) at t.
func (a *attrs) changed(t time.Time) {
	a.ctime = t.UnixNano()
	if a.ctime == a.mtime.UnixNano() {
		a.ctime = 0
	}
}

// setOwnAttrs takes the attributes chmod, chown and utimes change (and
// the ctime they set) from b.
func (a *attrs) setOwnAttrs(b attrs) {
	a.perm, a.uid, a.gid, a.mtime, a.atime, a.ctime = b.perm, b.uid, b.gid, b.mtime, b.atime, b.ctime
}

// setAtime keeps t as the access time. From then on it stays apart from
// mtime (a write does not change it, as with noatime); the epoch itself
// cannot be told from "none kept".
func (a *attrs) setAtime(t time.Time) { a.atime = t.UnixNano() }

func (a attrs) mode() uint32 {
	switch a.kind {
	case kindDir:
		return syscall.S_IFDIR | a.perm
	case kindSymlink:
		return syscall.S_IFLNK | 0o777
	case kindFIFO:
		return syscall.S_IFIFO | a.perm
	case kindSocket:
		return syscall.S_IFSOCK | a.perm
	case kindChar:
		return syscall.S_IFCHR | a.perm
	case kindBlock:
		return syscall.S_IFBLK | a.perm
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
	case kindFIFO:
		return ctFIFO
	case kindSocket:
		return ctSocket
	case kindChar:
		return ctChar
	case kindBlock:
		return ctBlock
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
	if a.kind.special() {
		base = baseType("", a.kind) // the media type is the file type
	}
	ct := fmt.Sprintf("%s;swiftfs_mode=%o;swiftfs_uid=%d;swiftfs_gid=%d;swiftfs_mtime=%s",
		base, a.perm, a.uid, a.gid, formatTime(a.mtime))
	meta := map[string]string{
		"mtime": formatTime(a.mtime),
		"mode":  strconv.FormatUint(uint64(a.perm), 8),
		"uid":   strconv.FormatUint(uint64(a.uid), 10),
		"gid":   strconv.FormatUint(uint64(a.gid), 10),
	}
	if a.atime != 0 {
		v := formatTime(time.Unix(0, a.atime))
		ct += ";swiftfs_atime=" + v
		meta["atime"] = v
	}
	if a.ctime != 0 {
		v := formatTime(time.Unix(0, a.ctime))
		ct += ";swiftfs_ctime=" + v
		meta["ctime"] = v
	}
	if a.kind == kindChar || a.kind == kindBlock {
		v := strconv.FormatUint(uint64(a.rdev), 10)
		ct += ";swiftfs_rdev=" + v
		meta["rdev"] = v
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
	case ctFIFO:
		a.kind = kindFIFO
	case ctSocket:
		a.kind = kindSocket
	case ctChar:
		a.kind = kindChar
	case ctBlock:
		a.kind = kindBlock
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
		case "swiftfs_atime":
			if t, ok := parseTime(v); ok {
				a.atime = t.UnixNano()
			}
		case "swiftfs_ctime":
			if t, ok := parseTime(v); ok {
				a.ctime = t.UnixNano()
			}
		case "swiftfs_rdev":
			if n, err := strconv.ParseUint(v, 10, 32); err == nil {
				a.rdev = uint32(n)
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
	for k, dst := range map[string]*int64{"atime": &a.atime, "ctime": &a.ctime} {
		if v, ok := get(k); ok && !strings.Contains(params, "swiftfs_"+k+"=") {
			if t, ok := parseTime(v); ok {
				*dst = t.UnixNano()
			}
		}
	}
	if v, ok := get("rdev"); ok && !strings.Contains(params, "swiftfs_rdev=") {
		if n, err := strconv.ParseUint(v, 10, 32); err == nil {
			a.rdev = uint32(n)
		}
	}
	if a.ctime == a.mtime.UnixNano() {
		a.ctime = 0
	}
	return a
}
