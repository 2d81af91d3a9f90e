package fs

import (
	"strings"
	"unicode/utf8"
)

// names maps mount paths to object names. A path is relative to the mount
// root, "/"-separated, without leading or trailing "/" ("" is the root).
type names struct {
	prefix string // object name prefix of the mount root: "" or "a/b/"
}

// object returns the object name of the file at path.
func (n names) object(path string) string { return n.prefix + path }

// dirPrefix returns the listing prefix of the directory at path.
func (n names) dirPrefix(path string) string {
	if path == "" {
		return n.prefix
	}
	return n.prefix + path + "/"
}

// marker returns the name of the directory marker object of path.
func (n names) marker(path string) string { return n.prefix + path + "/" }

// path returns the mount path of object name, or false when the object is
// outside the mount.
func (n names) path(object string) (string, bool) {
	if !strings.HasPrefix(object, n.prefix) {
		return "", false
	}
	return strings.TrimSuffix(object[len(n.prefix):], "/"), true
}

func joinPath(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}

func splitPath(p string) (dir, base string) {
	i := strings.LastIndexByte(p, '/')
	if i < 0 {
		return "", p
	}
	return p[:i], p[i+1:]
}

// nameProblem says why a listing name segment cannot be a POSIX file name
// ("" when it can). Such objects are skipped with a warning; see
// docs/SEMANTICS.md "Object names".
func nameProblem(seg string) string {
	switch {
	case seg == "":
		return "empty path segment (\"//\" in the object name)"
	case seg == "." || seg == "..":
		return "path segment \".\" or \"..\""
	case len(seg) > 255:
		return "path segment longer than 255 bytes"
	case strings.IndexByte(seg, 0) >= 0:
		return "NUL byte in the name"
	case !utf8.ValidString(seg):
		return "" // allowed: POSIX names are bytes
	}
	return ""
}

// hiddenAtRoot are names at the container root that swiftfs keeps for itself.
var hiddenAtRoot = map[string]bool{".swiftfs-segments": true}

// localOnly reports names whose content never leaves this host: SQLite's
// journal, WAL and shared-memory side files (see docs/SEMANTICS.md).
func localOnly(name string) bool {
	for _, s := range []string{"-journal", "-wal", "-shm"} {
		if strings.HasSuffix(name, s) {
			base := strings.TrimSuffix(name, s)
			for _, ext := range []string{".sqlite3", ".sqlite", ".db"} {
				if strings.HasSuffix(base, ext) {
					return true
				}
			}
		}
	}
	return false
}
