package importer

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	sfs "github.com/swiftfs/swiftfs/fs"
)

// entry is one file, directory or symlink of the source, as lstat saw it
// during the walk.
type entry struct {
	rel  string // "/"-separated, relative to the source; "" for its root
	kind sfs.ObjectKind
	size int64 // files only
}

// walk calls fn for every entry of the source in lexical order (a
// directory before its contents). What cannot be imported is recorded as a
// failure (or, for SQLite side files, as not imported) and not passed on.
func (im *Importer) walk(ctx context.Context, fn func(*entry)) {
	root := im.opts.Source
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		rel, rerr := filepath.Rel(root, p)
		if rerr != nil {
			rel = p
		}
		rel = filepath.ToSlash(rel)
		if rel == "." {
			rel = ""
		}
		if err != nil {
			// An unreadable directory: its contents are unknown. Its
			// entry was already passed on (WalkDir calls again with the
			// ReadDir error).
			im.fail(display(rel), err)
			return nil
		}
		e := &entry{rel: rel}
		if im.opts.Prefix == "" && sfs.HiddenAtRoot(rel) {
			im.fail(rel, fmt.Errorf("the name is swiftfs's own at the container root (large object segments); import into CONTAINER:PREFIX instead"))
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		switch t := d.Type(); {
		case t.IsDir():
			e.kind = sfs.ObjectDir
			if rel == "" && im.opts.Prefix == "" {
				return nil // the container root has no marker
			}
		case t&fs.ModeSymlink != 0:
			e.kind = sfs.ObjectSymlink
		case t.IsRegular():
			e.kind = sfs.ObjectFile
			if im.opts.LocalOnly(im.opts.Prefix + rel) {
				im.mu.Lock()
				im.res.NotImported = append(im.res.NotImported, rel)
				im.mu.Unlock()
				return nil
			}
			info, err := d.Info()
			if err != nil {
				im.fail(rel, err)
				return nil
			}
			e.size = info.Size()
		default:
			im.fail(rel, fmt.Errorf("%s: swiftfs stores regular files, directories and symlinks only", typeName(t)))
			return nil
		}
		fn(e)
		return nil
	})
}

func display(rel string) string {
	if rel == "" {
		return "."
	}
	return rel
}

func typeName(t fs.FileMode) string {
	switch {
	case t&fs.ModeNamedPipe != 0:
		return "FIFO"
	case t&fs.ModeSocket != 0:
		return "socket"
	case t&fs.ModeCharDevice != 0:
		return "character device"
	case t&fs.ModeDevice != 0:
		return "block device"
	}
	return "special file"
}

// attrsOf returns the attributes swiftfs stores for a file with this
// lstat/fstat result.
func attrsOf(k sfs.ObjectKind, info os.FileInfo) sfs.ObjectAttrs {
	a := sfs.ObjectAttrs{Kind: k, Perm: uint32(info.Mode().Perm()), Mtime: info.ModTime()}
	if info.Mode()&os.ModeSetuid != 0 {
		a.Perm |= syscall.S_ISUID
	}
	if info.Mode()&os.ModeSetgid != 0 {
		a.Perm |= syscall.S_ISGID
	}
	if info.Mode()&os.ModeSticky != 0 {
		a.Perm |= syscall.S_ISVTX
	}
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		a.UID, a.GID = st.Uid, st.Gid
		a.Mtime = time.Unix(st.Mtim.Sec, st.Mtim.Nsec)
	}
	if k == sfs.ObjectSymlink {
		a.Perm = 0o777
	}
	return a
}
