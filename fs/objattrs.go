package fs

import "time"

// The exported face of attr.go, for writers of objects that are not a
// mount (swiftfs import): they store files, directories and symlinks
// exactly as the file system does, through the same encode and decode.

// ObjectKind is the file type an object stands for.
type ObjectKind uint8

const (
	ObjectFile    = ObjectKind(kindFile)
	ObjectDir     = ObjectKind(kindDir)
	ObjectSymlink = ObjectKind(kindSymlink)
)

// ObjectAttrs are the POSIX attributes swiftfs keeps with an object.
type ObjectAttrs struct {
	Kind     ObjectKind
	Perm     uint32 // permission bits incl. setuid, setgid, sticky (0o7777)
	UID, GID uint32
	Mtime    time.Time
}

// EncodeObject returns the content type and X-Object-Meta-* values of the
// object that stores an entry at path (relative or not: only its base
// name's extension matters, for a file's media type) with attributes a.
// A directory is stored as an empty marker object named "path/", a
// symlink as an object holding the target.
func EncodeObject(path string, a ObjectAttrs) (contentType string, meta map[string]string) {
	k := kind(a.Kind)
	return encode(baseType(path, k), attrs{kind: k, perm: a.Perm & 0o7777, uid: a.UID, gid: a.GID, mtime: a.Mtime, explicit: true})
}

// DecodeObject reads the attributes from an object's content type (as a
// listing shows it). explicit is false when the content type carries no
// swiftfs mode (the object was not written by swiftfs); Mtime is then
// zero unless the type names one.
func DecodeObject(contentType string) (a ObjectAttrs, explicit bool) {
	d := decode(contentType, nil, 0, time.Time{}, attrs{})
	return ObjectAttrs{Kind: ObjectKind(d.kind), Perm: d.perm, UID: d.uid, GID: d.gid, Mtime: d.mtime}, d.explicit
}

// LocalOnly reports names the file system keeps on the host and never
// uploads (SQLite's journal, WAL and shared-memory files).
func LocalOnly(name string) bool { return localOnly(name) }

// HiddenAtRoot reports names at the container root that swiftfs keeps for
// itself (the segment prefix's first part).
func HiddenAtRoot(name string) bool { return hiddenAtRoot[name] }
