package fs

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/swiftfs/swiftfs/cache"
)

// Local-only files (SQLite -journal, -wal, -shm and Options.LocalOnly
// names) live in the cache directory's local/ as <id> (the content) and
// <id>.name (a record of the path, written durably before the file is
// handed out). They survive a restart of the daemon, also kill -9: a hot
// journal left by a crash in the middle of a transaction is still there
// when the mount comes back, so that SQLite rolls the database back on its
// next open; until then registrysync sees the journal and does not upload
// the database. They are removed by unlink, as on a local disk.

// localRecord is the content of <id>.name.
type localRecord struct {
	Path string `json:"path"`
	Perm uint32 `json:"perm"`
	UID  uint32 `json:"uid"`
	GID  uint32 `json:"gid"`
}

// localFile is the content of a local-only file: a plain file in the
// cache's local/ directory, never uploaded.
type localFile struct {
	f  *os.File
	id string // base name in local/
}

func (l *localFile) size() int64 {
	st, err := l.f.Stat()
	if err != nil {
		return 0
	}
	return st.Size()
}

// newLocal creates the content file and the record of a new local-only
// file at p.
func (f *FS) newLocal(p string, a attrs) (*localFile, error) {
	id := strconv.FormatInt(time.Now().UnixNano(), 36) + "-" + strconv.FormatUint(f.newIno(), 10)
	file, err := os.OpenFile(filepath.Join(f.localDir, id), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	lf := &localFile{f: file, id: id}
	if err := f.writeLocalRecord(lf, localRecord{Path: p, Perm: a.perm, UID: a.uid, GID: a.gid}); err != nil {
		file.Close()
		os.Remove(file.Name())
		return nil, err
	}
	return lf, nil
}

// writeLocalRecord stores r as lf's record, durably.
func (f *FS) writeLocalRecord(lf *localFile, r localRecord) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return cache.WriteFileDurable(filepath.Join(f.localDir, lf.id+".name"), b)
}

// removeLocal forgets a local-only file: its record first (a crash then
// leaves at most an orphaned content file, removed at the next start),
// then its content's name. Open descriptors keep the content.
func (f *FS) removeLocal(lf *localFile) {
	os.Remove(filepath.Join(f.localDir, lf.id+".name"))
	os.Remove(lf.f.Name())
}

// renameLocal records that lf moved to p.
func (f *FS) renameLocal(lf *localFile, p string, a attrs) error {
	return f.writeLocalRecord(lf, localRecord{Path: p, Perm: a.perm, UID: a.uid, GID: a.gid})
}

// restoreLocals takes up the local-only files of the previous run and
// removes leftovers (content without a record, temp records).
func (f *FS) restoreLocals() error {
	ents, err := os.ReadDir(f.localDir)
	if err != nil {
		return err
	}
	records := map[string]bool{}
	for _, de := range ents {
		if id, ok := strings.CutSuffix(de.Name(), ".name"); ok {
			records[id] = true
		}
	}
	restored := 0
	for _, de := range ents {
		name := de.Name()
		switch {
		case strings.HasSuffix(name, ".name"):
			continue
		case strings.Contains(name, ".tmp") || !records[name]:
			os.Remove(filepath.Join(f.localDir, name))
			continue
		}
		b, err := os.ReadFile(filepath.Join(f.localDir, name+".name"))
		var r localRecord
		if err == nil {
			err = json.Unmarshal(b, &r)
		}
		if err == nil && (r.Path == "" || f.locals[r.Path] != nil) {
			err = fmt.Errorf("bad or duplicate path %q", r.Path)
		}
		var file *os.File
		if err == nil {
			file, err = os.OpenFile(filepath.Join(f.localDir, name), os.O_RDWR, 0)
		}
		if err != nil {
			f.log.Warn("local-only file from the previous run dropped", "file", filepath.Join(f.localDir, name), "err", err)
			os.Remove(filepath.Join(f.localDir, name+".name"))
			os.Remove(filepath.Join(f.localDir, name))
			continue
		}
		lf := &localFile{f: file, id: name}
		st, _ := file.Stat()
		a := attrs{kind: kindFile, perm: r.Perm, uid: r.UID, gid: r.GID, explicit: true, size: st.Size(), mtime: st.ModTime()}
		f.locals[r.Path] = lf
		f.setEntry(r.Path, &nsEntry{attrs: a, localOnly: true})
		restored++
	}
	if restored > 0 {
		f.log.Info("local-only files (SQLite journals) kept from the previous run", "count", restored, "dir", f.localDir)
	}
	return nil
}
