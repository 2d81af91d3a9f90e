package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"sort"
	"strings"
)

// sample is one measurement, one line of the results JSONL written by
// bench/run.sh.
type sample struct {
	W     int     `json:"w"`     // workload number (1-8)
	Key   string  `json:"key"`   // measurement id, e.g. "cold_read"
	Label string  `json:"label"` // human description
	Tool  string  `json:"tool"`  // "swiftfs", "rclone", or the baseline's name
	Rep   int     `json:"rep"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit"` // MiB/s (higher is better), s, MB, count, ratio (lower is better)
	Load  float64 `json:"load"` // 1-minute load average when the sample was taken
}

type series struct {
	key, label, unit string
	w                int
	tools            []string
	vals             map[string][]float64
	load             []float64
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	n := len(s)
	if n == 0 {
		return math.NaN()
	}
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func fmtNum(x float64) string {
	a := math.Abs(x)
	switch {
	case math.IsNaN(x):
		return "–"
	case x == math.Trunc(x) && a < 1e6:
		return fmt.Sprintf("%.0f", x)
	case a >= 100:
		return fmt.Sprintf("%.0f", x)
	case a >= 10:
		return fmt.Sprintf("%.1f", x)
	case a >= 1:
		return fmt.Sprintf("%.2f", x)
	default:
		return fmt.Sprintf("%.3f", x)
	}
}

// cell is "median (min–max)" over the repetitions.
func cell(v []float64) string {
	if len(v) == 0 {
		return ""
	}
	m := median(v)
	if len(v) == 1 {
		return fmtNum(m)
	}
	lo, hi := v[0], v[0]
	for _, x := range v {
		lo, hi = math.Min(lo, x), math.Max(hi, x)
	}
	if lo == hi {
		return fmtNum(m)
	}
	return fmt.Sprintf("%s (%s–%s)", fmtNum(m), fmtNum(lo), fmtNum(hi))
}

// speedRatio is how many times better swiftfs is than other (> 1: swiftfs
// better), from the medians; NaN for units without a direction.
func speedRatio(unit string, swiftfs, other float64) float64 {
	switch unit {
	case "MiB/s", "files/s":
		return swiftfs / other
	case "s", "MB":
		return other / swiftfs
	}
	return math.NaN()
}

func readSamples(path string) ([]*series, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	byKey := map[string]*series{}
	var order []*series
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		var s sample
		if err := json.Unmarshal([]byte(line), &s); err != nil {
			return nil, fmt.Errorf("%s: %w", line, err)
		}
		se := byKey[s.Key]
		if se == nil {
			se = &series{key: s.Key, label: s.Label, unit: s.Unit, w: s.W, vals: map[string][]float64{}}
			byKey[s.Key] = se
			order = append(order, se)
		}
		if _, ok := se.vals[s.Tool]; !ok {
			se.tools = append(se.tools, s.Tool)
		}
		se.vals[s.Tool] = append(se.vals[s.Tool], s.Value)
		se.load = append(se.load, s.Load)
	}
	sort.SliceStable(order, func(i, j int) bool { return order[i].w < order[j].w })
	return order, sc.Err()
}

// target is one goal of the issue, checked on the medians of one run.
type target struct {
	desc  string
	key   string
	other string  // compared tool; "" for an absolute bound on swiftfs
	kind  string  // "speed": speed ratio ≥ bound; "time": time ratio ≤ bound; "max": value ≤ bound
	bound float64 //
}

var targets = []target{
	{"cold read ≥ 1.5× rclone", "cold_read", "rclone", "speed", 1.5},
	{"cold read ≥ 1.0× `swift download`", "cold_read", "swift download", "speed", 1.0},
	{"warm re-read ≥ 0.8× local disk", "warm_read_disk", "local disk", "speed", 0.8},
	{"1 GiB write → durable ≥ 0.9× `swift upload`", "write_durable", "swift upload", "speed", 0.9},
	{"1000 × 4 KiB create → durable ≥ 3× rclone", "small_create", "rclone", "speed", 3},
	{"`ls -l` of 10k objects, cold ≤ 2× `swift list` (time)", "ls_cold", "swift list", "time", 2},
	{"import of a tree ≥ 1.0× `swift upload`", "import_time", "swift upload", "speed", 1.0},
	{"Butler run on the mount ≤ 1.5× local disk (time)", "scn_time", "local disk", "time", 1.5},
	{"Butler pattern: 1 PUT per dataset", "butler_put_per_dataset", "", "max", 1},
	{"Butler pattern: no COPY", "butler_copy", "", "max", 0},
	{"daemon RSS ≤ 200 MB after listing 1M objects (`ls -f`)", "rss_list_1M", "", "max", 200},
	{"daemon RSS ≤ 200 MB after `ls -l` of 1M objects", "rss_ls_l_1M", "", "max", 200},
}

func cmdReport(args []string) error {
	fset := flag.NewFlagSet("report", flag.ExitOnError)
	in := fset.String("in", "", "samples (JSONL)")
	meta := fset.String("meta", "", "markdown to put first (machine, versions, flags)")
	fset.Parse(args)
	if *in == "" {
		return errors.New("need -in")
	}
	all, err := readSamples(*in)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	if *meta != "" {
		data, err := os.ReadFile(*meta)
		if err != nil {
			return err
		}
		w.Write(data)
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w, "### Results")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Median (min–max) over the repetitions. Ratio columns: how many times better swiftfs is,")
	fmt.Fprintln(w, "from the medians (> 1: swiftfs faster / smaller; for MiB/s swiftfs ÷ other, for s and MB other ÷ swiftfs).")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| # | measurement | unit | swiftfs | rclone mount | reference | vs rclone | vs reference | load |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|")
	for _, se := range all {
		sw := se.vals["swiftfs"]
		var refs, refRatios []string
		for _, t := range se.tools {
			if t == "swiftfs" || t == "rclone" {
				continue
			}
			refs = append(refs, t+": "+cell(se.vals[t]))
			if len(sw) > 0 {
				if r := speedRatio(se.unit, median(sw), median(se.vals[t])); !math.IsNaN(r) {
					refRatios = append(refRatios, fmt.Sprintf("%s× %s", fmtNum(r), t))
				}
			}
		}
		rcl := ""
		if v := se.vals["rclone"]; len(v) > 0 && len(sw) > 0 {
			if r := speedRatio(se.unit, median(sw), median(v)); !math.IsNaN(r) {
				rcl = fmtNum(r) + "×"
			}
		}
		fmt.Fprintf(w, "| %d | %s | %s | %s | %s | %s | %s | %s | %s |\n", se.w, se.label, se.unit,
			cell(sw), cell(se.vals["rclone"]), strings.Join(refs, "<br>"), rcl, strings.Join(refRatios, "<br>"),
			fmtNum(median(se.load)))
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "### Targets")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| target | measured | met |")
	fmt.Fprintln(w, "|---|---|---|")
	byKey := map[string]*series{}
	for _, se := range all {
		byKey[se.key] = se
	}
	for _, t := range targets {
		se := byKey[t.key]
		if se == nil || len(se.vals["swiftfs"]) == 0 || (t.other != "" && len(se.vals[t.other]) == 0) {
			fmt.Fprintf(w, "| %s | not measured | – |\n", t.desc)
			continue
		}
		sw := median(se.vals["swiftfs"])
		var got float64
		var ok bool
		var text string
		switch t.kind {
		case "speed":
			got = speedRatio(se.unit, sw, median(se.vals[t.other]))
			ok = got >= t.bound
			text = fmt.Sprintf("%s×", fmtNum(got))
		case "time":
			got = 1 / speedRatio(se.unit, sw, median(se.vals[t.other]))
			ok = got <= t.bound
			text = fmt.Sprintf("%s× the time", fmtNum(got))
		case "max":
			got = sw
			ok = got <= t.bound
			text = fmt.Sprintf("%s %s", fmtNum(got), se.unit)
		}
		verdict := "**missed**"
		if ok {
			verdict = "yes"
		}
		fmt.Fprintf(w, "| %s | %s | %s |\n", t.desc, text, verdict)
	}
	return nil
}
