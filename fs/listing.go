package fs

import (
	"cmp"
	"encoding/hex"
	"slices"
	"strings"
	"time"
	"unsafe"
)

// listing is one directory's last listing as the namespace keeps it: the
// names in byte order (Go's string order, so lookups are a binary search),
// each with a compact record. It is immutable once built: a readdir streams
// over it without copying, while local changes go to dirState.delta.
//
// A name costs its bytes plus 40 bytes (end offset, class index, size,
// mtime, MD5; 16 more in a chunk where an entry keeps an atime or ctime
// apart from mtime), instead of a map slot, a pointer and a 120-byte nsEntry with
// a 32-byte ETag string: a directory of a million objects is ~50 MB. What
// most entries share (kind, mode, owner, flags) is interned in classes;
// the rare entry the compact form cannot hold exactly (an ETag that is not
// an MD5 in lower-case hex, no or an unusual mtime) is kept whole in odd.
type listing struct {
	n       int
	chunks  []*listChunk // chunkLen entries each, the last one shorter
	classes []recClass
	odd     map[int]*nsEntry // by index
	// prefix is the directory's listing prefix: a marker object without
	// the slash is named prefix+name.
	prefix    string
	mountTime time.Time // the mtime of implicit directories
}

const (
	chunkBits = 12
	chunkLen  = 1 << chunkBits
)

// listChunk holds chunkLen entries (no slice in it grows past that, so a
// large listing is never copied to grow). Name i is names[ends[i-1]:ends[i]].
type listChunk struct {
	names string
	ends  []uint32
	cls   []uint32
	recs  []listRec
	// times holds atime and ctime, made only for a chunk with an entry
	// that keeps one (most files have neither: both equal mtime).
	times []listTimes
}

type listTimes struct{ atime, ctime int64 }

type listRec struct {
	size  int64
	mtime int64 // Unix nanoseconds (the class says which location)
	etag  [16]byte
}

// recClass is what many entries of a listing share.
type recClass struct {
	perm, uid, gid uint32
	rdev           uint32
	kind           kind
	explicit       bool
	remote         bool // false: an implicit directory (a common prefix)
	large          bool
	marker         bool // a directory marker object without the slash
	etag           uint8
	mt             uint8
}

const (
	etagNone = iota
	etagHex
)

const (
	mtUTC = iota
	mtLocal
	mtMount // FS.mountTime
)

func (l *listing) len() int {
	if l == nil {
		return 0
	}
	return l.n
}

func (l *listing) at(i int) (*listChunk, int) { return l.chunks[i>>chunkBits], i & (chunkLen - 1) }

func (c *listChunk) name(j int) string {
	start := uint32(0)
	if j > 0 {
		start = c.ends[j-1]
	}
	return c.names[start:c.ends[j]]
}

// name returns name i: a substring of the chunk's names (no allocation).
func (l *listing) name(i int) string {
	c, j := l.at(i)
	return c.name(j)
}

// find returns the index of name, or -1.
func (l *listing) find(name string) int {
	if l.len() == 0 {
		return -1
	}
	i, ok := slices.BinarySearchFunc(l.chunks, name, func(c *listChunk, name string) int {
		return strings.Compare(c.name(len(c.ends)-1), name)
	})
	if i == len(l.chunks) {
		return -1
	}
	c := l.chunks[i]
	if ok {
		return i<<chunkBits + len(c.ends) - 1
	}
	lo, hi := 0, len(c.ends)-1 // c.name(hi) > name
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if c.name(m) < name {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if c.name(lo) == name {
		return i<<chunkBits + lo
	}
	return -1
}

func (l *listing) kindAt(i int) kind {
	if e := l.odd[i]; e != nil {
		return e.kind
	}
	c, j := l.at(i)
	return l.classes[c.cls[j]].kind
}

// entryRemote reports whether entry i is an object (not a common prefix).
func (l *listing) entryRemote(i int) bool {
	if e := l.odd[i]; e != nil {
		return e.remote
	}
	c, j := l.at(i)
	return l.classes[c.cls[j]].remote
}

// mode returns the st_mode of entry i (what readdir needs).
func (l *listing) mode(i int) uint32 {
	if e := l.odd[i]; e != nil {
		return e.mode()
	}
	c, j := l.at(i)
	k := &l.classes[c.cls[j]]
	return attrs{kind: k.kind, perm: k.perm}.mode()
}

// entry returns a new copy of entry i.
func (l *listing) entry(i int) *nsEntry {
	if e := l.odd[i]; e != nil {
		c := *e
		return &c
	}
	c, j := l.at(i)
	k := &l.classes[c.cls[j]]
	r := &c.recs[j]
	e := &nsEntry{attrs: attrs{kind: k.kind, perm: k.perm, uid: k.uid, gid: k.gid, rdev: k.rdev, explicit: k.explicit, size: r.size},
		remote: k.remote, large: k.large}
	if c.times != nil {
		e.atime, e.ctime = c.times[j].atime, c.times[j].ctime
	}
	switch k.mt {
	case mtMount:
		e.mtime = l.mountTime
	case mtUTC:
		e.mtime = time.Unix(0, r.mtime).UTC()
	default:
		e.mtime = time.Unix(0, r.mtime)
	}
	if k.etag == etagHex {
		e.etag = hex.EncodeToString(r.etag[:])
	}
	if k.marker {
		e.markerName = l.prefix + c.name(j)
	}
	return e
}

// listBuilder builds a listing from entries in listing order.
type listBuilder struct {
	l       *listing
	classes map[recClass]uint32
	cur     *listChunk
	buf     []byte // names of cur (its names string is made when it is full)
	// sorted stays true while every name is greater than the one before;
	// otherwise finish sorts and resolves names that came twice.
	sorted bool
	last   string // the previous name, when it is in an earlier chunk
	subdir []bool // once not sorted: entry i stood for a common prefix
	warn   func(msg, object string)
}

func newListBuilder(prefix string, mountTime time.Time, warn func(msg, object string)) *listBuilder {
	return &listBuilder{l: &listing{prefix: prefix, mountTime: mountTime}, classes: map[recClass]uint32{}, sorted: true, warn: warn}
}

// add appends an entry. subdir says that it stands for a common prefix
// ("name/"), which wins over an object of the same name.
func (b *listBuilder) add(name string, e nsEntry, subdir bool) {
	if b.sorted && b.l.n > 0 && name <= b.prev() {
		b.sorted = false
		b.subdir = make([]bool, b.l.n, b.l.n+1)
		for i := range b.subdir {
			b.subdir[i] = b.l.kindAt(i) == kindDir && !b.l.entryRemote(i)
		}
	}
	if !b.sorted {
		b.subdir = append(b.subdir, subdir)
	}
	cl, rec, ok := b.pack(name, &e)
	if !ok {
		if b.l.odd == nil {
			b.l.odd = map[int]*nsEntry{}
		}
		b.l.odd[b.l.n] = &e
	}
	id, seen := b.classes[cl]
	if !seen {
		id = uint32(len(b.l.classes))
		b.l.classes = append(b.l.classes, cl)
		b.classes[cl] = id
	}
	b.appendRaw(name, id, rec, listTimes{e.atime, e.ctime})
}

// prev returns the last name added (valid while b.buf is not changed).
func (b *listBuilder) prev() string {
	if c := b.cur; c != nil && c.names == "" && len(c.ends) > 0 {
		start := uint32(0)
		if len(c.ends) > 1 {
			start = c.ends[len(c.ends)-2]
		}
		return unsafeString(b.buf[start:])
	}
	return b.last
}

func (b *listBuilder) appendRaw(name string, cls uint32, rec listRec, tm listTimes) {
	if b.cur == nil || len(b.cur.ends) == chunkLen {
		b.flush()
		b.cur = &listChunk{}
		if len(b.l.chunks) > 0 {
			// A large listing: no regrowing (flush trims the last chunk).
			b.cur.ends, b.cur.cls, b.cur.recs = make([]uint32, 0, chunkLen), make([]uint32, 0, chunkLen), make([]listRec, 0, chunkLen)
		}
		b.l.chunks = append(b.l.chunks, b.cur)
	}
	b.buf = append(b.buf, name...)
	c := b.cur
	c.ends = append(c.ends, uint32(len(b.buf)))
	c.cls = append(c.cls, cls)
	c.recs = append(c.recs, rec)
	if tm != (listTimes{}) && c.times == nil {
		c.times = make([]listTimes, len(c.recs)-1, cap(c.recs))
	}
	if c.times != nil {
		c.times = append(c.times, tm)
	}
	b.l.n++
}

// flush fixes the names of the current chunk, trimmed to its length (the
// builder's buffer is reused for the next chunk).
func (b *listBuilder) flush() {
	c := b.cur
	if c == nil || c.names != "" || len(c.ends) == 0 {
		return
	}
	c.names = string(b.buf)
	b.buf = b.buf[:0]
	if cap(c.ends) > len(c.ends) {
		c.ends = slices.Clone(c.ends)
		c.cls = slices.Clone(c.cls)
		c.recs = slices.Clone(c.recs)
		if c.times != nil {
			c.times = slices.Clone(c.times)
		}
	}
	b.last = c.name(len(c.ends) - 1)
}

// pack returns the compact form of e, and false when it would not give e
// back exactly (the entry is then kept whole).
func (b *listBuilder) pack(name string, e *nsEntry) (recClass, listRec, bool) {
	cl := recClass{kind: e.kind, perm: e.perm, uid: e.uid, gid: e.gid, rdev: e.rdev, explicit: e.explicit, remote: e.remote, large: e.large}
	rec := listRec{size: e.size}
	ok := e.localAt.IsZero() && !e.localOnly
	switch {
	case e.markerName == "":
	case len(e.markerName) == len(b.l.prefix)+len(name) && strings.HasPrefix(e.markerName, b.l.prefix) && strings.HasSuffix(e.markerName, name):
		cl.marker = true
	default:
		ok = false
	}
	switch {
	case e.etag == "":
	case parseMD5(e.etag, &rec.etag):
		cl.etag = etagHex
	default:
		ok = false
	}
	switch {
	case e.mtime == b.l.mountTime:
		cl.mt = mtMount
	case e.mtime.IsZero():
		ok = false
	default:
		rec.mtime = e.mtime.UnixNano()
		if u := time.Unix(0, rec.mtime).UTC(); u == e.mtime {
			cl.mt = mtUTC
		} else if t := time.Unix(0, rec.mtime); t == e.mtime {
			cl.mt = mtLocal
		} else {
			ok = false
		}
	}
	if !ok {
		return recClass{}, listRec{}, false
	}
	return cl, rec, true
}

// parseMD5 decodes a 32-digit lower-case hex string.
func parseMD5(s string, out *[16]byte) bool {
	if len(s) != 32 {
		return false
	}
	for i := 0; i < 32; i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	_, err := hex.Decode(out[:], []byte(s))
	return err == nil
}

// finish returns the listing. Listings come in byte order, but a common
// prefix "a/" is listed after "a-b" and "a.txt" while it is kept as "a",
// and an object "a" may be listed with a common prefix "a/": then the
// names are sorted, and of entries of one name the last one listed stays,
// except that a directory is never replaced by a file (the file is hidden,
// with a warning) nor a directory by a common prefix.
func (b *listBuilder) finish() *listing {
	b.flush()
	l := b.l
	if b.sorted {
		return l
	}
	perm := make([]int32, l.n)
	for i := range perm {
		perm[i] = int32(i)
	}
	slices.SortFunc(perm, func(x, y int32) int {
		if c := strings.Compare(l.name(int(x)), l.name(int(y))); c != 0 {
			return c
		}
		return cmp.Compare(x, y)
	})
	nb := newListBuilder(l.prefix, l.mountTime, b.warn)
	nb.l.classes = l.classes
	for g := 0; g < len(perm); {
		name := l.name(int(perm[g]))
		win := int(perm[g])
		h := g + 1
		for ; h < len(perm) && l.name(int(perm[h])) == name; h++ {
			i := int(perm[h])
			winDir := l.kindAt(win) == kindDir
			switch {
			case b.subdir[i] && winDir:
				// a no-slash marker came first
			case b.subdir[i] || (winDir && l.kindAt(i) != kindDir):
				b.warn("object "+l.prefix+name+" is hidden by the directory "+l.prefix+name+"/", l.prefix+name)
				if b.subdir[i] {
					win = i
				}
			default:
				win = i
			}
		}
		c, j := l.at(win)
		if e := l.odd[win]; e != nil {
			if nb.l.odd == nil {
				nb.l.odd = map[int]*nsEntry{}
			}
			nb.l.odd[nb.l.n] = e
		}
		var tm listTimes
		if c.times != nil {
			tm = c.times[j]
		}
		nb.appendRaw(name, c.cls[j], c.recs[j], tm)
		g = h
	}
	return nb.finish()
}

// unsafeString is b as a string without a copy, for comparisons while b
// is not changed.
func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
