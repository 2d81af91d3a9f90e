// Command benchtool is the helper of bench/run.sh: it makes test data,
// runs timed file-system workloads on a mount (many small files, the
// Butler's temp-write-rename-chmod pattern, parallel readers, stat by
// name), talks to Swift where the swift CLI is too slow or too coarse
// (waiting until objects are listed, bulk uploads and deletes), counts the
// requests in the proxy server's log, serves a fake Swift listing of
// millions of names, and turns the recorded samples into the report.
//
// It is a benchmark tool, not part of swiftfs: it imports nothing from it.
//
//	benchtool gen -size 1G FILE...            incompressible pseudo-random files
//	benchtool mkfiles -n 1000 -size 4K DIR    create N files (one open/write/close each)
//	benchtool readfiles [-p 4] PATH...        read files (or every file under a dir)
//	benchtool statnames -n 10000 DIR          lstat DIR/f00000 ... by name, no readdir
//	benchtool butler -n 200 -size 1M DIR      write temp, close, rename, chmod (×N)
//	benchtool dropcache PATH...               posix_fadvise(DONTNEED) files / dir trees
//	benchtool fiobw < fio.json                print fio's read bandwidth in MiB/s
//	benchtool tar -n 10000 -prefix d/         a tar of N small files on stdout
//	benchtool swift ARGS                      see swift.go (auth, wait, bulk, purge, count)
//	benchtool proxylog -log F -offset N -container C   count the container's requests
//	benchtool fakeswift -n 1000000            fake Swift (v1 auth + listings) for RSS runs
//	benchtool report -in R.jsonl -meta M.md   markdown tables, ratios, targets
package main

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: benchtool COMMAND [flags] (see the package comment)")
		os.Exit(2)
	}
	cmds := map[string]func([]string) error{
		"gen":       cmdGen,
		"mkfiles":   cmdMkfiles,
		"readfiles": cmdReadfiles,
		"statnames": cmdStatnames,
		"butler":    cmdButler,
		"dropcache": cmdDropcache,
		"fiobw":     cmdFiobw,
		"tar":       cmdTar,
		"swift":     cmdSwift,
		"proxylog":  cmdProxylog,
		"fakeswift": cmdFakeSwift,
		"report":    cmdReport,
	}
	f := cmds[os.Args[1]]
	if f == nil {
		fmt.Fprintf(os.Stderr, "benchtool: unknown command %q\n", os.Args[1])
		os.Exit(2)
	}
	if err := f(os.Args[2:]); err != nil {
		fmt.Fprintf(os.Stderr, "benchtool %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

// sizeFlag parses sizes such as 4096, 4K, 1M, 1G (powers of 1024).
type sizeFlag int64

func (s *sizeFlag) String() string { return strconv.FormatInt(int64(*s), 10) }

func (s *sizeFlag) Set(v string) error {
	n, err := parseSize(v)
	*s = sizeFlag(n)
	return err
}

func parseSize(v string) (int64, error) {
	mult := int64(1)
	switch {
	case strings.HasSuffix(v, "K"):
		mult, v = 1<<10, strings.TrimSuffix(v, "K")
	case strings.HasSuffix(v, "M"):
		mult, v = 1<<20, strings.TrimSuffix(v, "M")
	case strings.HasSuffix(v, "G"):
		mult, v = 1<<30, strings.TrimSuffix(v, "G")
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("bad size %q", v)
	}
	return n * mult, nil
}

// randSource returns a fast generator of incompressible bytes, different
// for every seed.
func randSource(seed uint64) *rand.ChaCha8 {
	var s [32]byte
	for i := range 8 {
		s[i] = byte(seed >> (8 * i))
	}
	s[8] = 0x5f
	return rand.NewChaCha8(s)
}

var seedCounter = uint64(time.Now().UnixNano())

func nextSeed() uint64 {
	seedCounter++
	return seedCounter
}

// writeFile creates name with size random bytes: one open, writes of at
// most 1 MiB, one close.
func writeFile(name string, size int64, buf []byte, src *rand.ChaCha8) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	for left := size; left > 0; {
		n := min(left, int64(len(buf)))
		src.Read(buf[:n])
		if _, err := f.Write(buf[:n]); err != nil {
			f.Close()
			return err
		}
		left -= n
	}
	return f.Close()
}

func cmdGen(args []string) error {
	fset := flag.NewFlagSet("gen", flag.ExitOnError)
	var size sizeFlag
	fset.Var(&size, "size", "bytes per file")
	fset.Parse(args)
	buf := make([]byte, 1<<20)
	for _, name := range fset.Args() {
		if err := writeFile(name, int64(size), buf, randSource(nextSeed())); err != nil {
			return err
		}
	}
	return nil
}

func cmdMkfiles(args []string) error {
	fset := flag.NewFlagSet("mkfiles", flag.ExitOnError)
	n := fset.Int("n", 1000, "number of files")
	format := fset.String("fmt", "f%05d", "file name format")
	size := sizeFlag(4096)
	fset.Var(&size, "size", "bytes per file")
	fset.Parse(args)
	if fset.NArg() != 1 {
		return errors.New("need DIR")
	}
	dir := fset.Arg(0)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	buf := make([]byte, min(int64(size), 1<<20))
	src := randSource(nextSeed())
	for i := range *n {
		if err := writeFile(filepath.Join(dir, fmt.Sprintf(*format, i)), int64(size), buf, src); err != nil {
			return err
		}
	}
	return nil
}

// cmdReadfiles reads every named file (directories: every regular file
// below, in name order) with P readers, and prints "BYTES SECONDS".
func cmdReadfiles(args []string) error {
	fset := flag.NewFlagSet("readfiles", flag.ExitOnError)
	par := fset.Int("p", 1, "parallel readers")
	bs := sizeFlag(1 << 20)
	fset.Var(&bs, "bs", "read size")
	fset.Parse(args)
	start := time.Now()
	var files []string
	for _, p := range fset.Args() {
		st, err := os.Stat(p)
		if err != nil {
			return err
		}
		if !st.IsDir() {
			files = append(files, p)
			continue
		}
		err = filepath.WalkDir(p, func(q string, d fs.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() {
				files = append(files, q)
			}
			return err
		})
		if err != nil {
			return err
		}
	}
	work := make(chan string)
	var mu sync.Mutex
	var total int64
	var first error
	var wg sync.WaitGroup
	for range max(*par, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, bs)
			for name := range work {
				n, err := readAll(name, buf)
				mu.Lock()
				total += n
				if err != nil && first == nil {
					first = err
				}
				mu.Unlock()
			}
		}()
	}
	for _, f := range files {
		work <- f
	}
	close(work)
	wg.Wait()
	if first != nil {
		return first
	}
	fmt.Printf("%d %.6f\n", total, time.Since(start).Seconds())
	return nil
}

func readAll(name string, buf []byte) (int64, error) {
	f, err := os.Open(name)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var n int64
	for {
		m, err := f.Read(buf)
		n += int64(m)
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

func cmdStatnames(args []string) error {
	fset := flag.NewFlagSet("statnames", flag.ExitOnError)
	n := fset.Int("n", 10000, "number of names")
	format := fset.String("fmt", "f%05d", "file name format")
	fset.Parse(args)
	if fset.NArg() != 1 {
		return errors.New("need DIR")
	}
	for i := range *n {
		var st syscall.Stat_t
		p := filepath.Join(fset.Arg(0), fmt.Sprintf(*format, i))
		if err := syscall.Lstat(p, &st); err != nil {
			return fmt.Errorf("lstat %s: %w", p, err)
		}
	}
	return nil
}

// cmdButler runs the legacy Butler's way of writing a dataset N times:
// write the whole file under a temporary name in the target directory,
// close it, rename it to its final name, then chmod it.
func cmdButler(args []string) error {
	fset := flag.NewFlagSet("butler", flag.ExitOnError)
	n := fset.Int("n", 200, "datasets")
	size := sizeFlag(1 << 20)
	fset.Var(&size, "size", "bytes per dataset")
	fset.Parse(args)
	if fset.NArg() != 1 {
		return errors.New("need DIR")
	}
	dir := fset.Arg(0)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	buf := make([]byte, min(int64(size), 1<<20))
	src := randSource(nextSeed())
	for i := range *n {
		final := filepath.Join(dir, fmt.Sprintf("dataset_%04d.dat", i))
		tmp := filepath.Join(dir, fmt.Sprintf(".dataset_%04d.dat.tmp%06d", i, src.Uint64()%1000000))
		if err := writeFile(tmp, int64(size), buf, src); err != nil {
			return err
		}
		if err := os.Rename(tmp, final); err != nil {
			return err
		}
		if err := os.Chmod(final, 0o444); err != nil {
			return err
		}
	}
	return nil
}

// cmdDropcache evicts files (and every file under directories) from the
// page cache. Dirty pages are written first (fdatasync).
func cmdDropcache(args []string) error {
	drop := func(p string) error {
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		syscall.Fdatasync(int(f.Fd()))
		const fadvDontneed = 4
		_, _, e := syscall.Syscall6(syscall.SYS_FADVISE64, f.Fd(), 0, 0, fadvDontneed, 0, 0)
		if e != 0 {
			return fmt.Errorf("fadvise %s: %w", p, e)
		}
		return nil
	}
	for _, p := range args {
		err := filepath.WalkDir(p, func(q string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.Type().IsRegular() {
				return drop(q)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// cmdFiobw prints the read bandwidth (MiB/s) of fio's JSON output.
func cmdFiobw(args []string) error {
	var out struct {
		Jobs []struct {
			Read struct {
				BwBytes float64 `json:"bw_bytes"`
			} `json:"read"`
		} `json:"jobs"`
	}
	data, err := io.ReadAll(os.Stdin)
	if err != nil {
		return err
	}
	// fio may print notes before the JSON.
	if i := strings.IndexByte(string(data), '{'); i > 0 {
		data = data[i:]
	}
	if err := json.Unmarshal(data, &out); err != nil {
		return err
	}
	if len(out.Jobs) == 0 {
		return errors.New("no job in fio output")
	}
	var bw float64
	for _, j := range out.Jobs {
		bw += j.Read.BwBytes
	}
	fmt.Printf("%.1f\n", bw/(1<<20))
	return nil
}

// cmdTar writes a tar of N files of SIZE bytes named PREFIX+fmt(i) to
// stdout, for Swift's bulk extract-archive.
func cmdTar(args []string) error {
	fset := flag.NewFlagSet("tar", flag.ExitOnError)
	n := fset.Int("n", 10000, "number of files")
	prefix := fset.String("prefix", "d/", "name prefix")
	format := fset.String("fmt", "f%05d", "file name format")
	size := sizeFlag(256)
	fset.Var(&size, "size", "bytes per file")
	fset.Parse(args)
	tw := tar.NewWriter(os.Stdout)
	buf := make([]byte, size)
	src := randSource(nextSeed())
	mtime := time.Now()
	for i := range *n {
		src.Read(buf)
		hdr := &tar.Header{Name: *prefix + fmt.Sprintf(*format, i), Mode: 0o644, Size: int64(size),
			ModTime: mtime, Typeflag: tar.TypeReg, Format: tar.FormatUSTAR}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := tw.Write(buf); err != nil {
			return err
		}
	}
	return tw.Close()
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
