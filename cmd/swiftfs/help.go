package main

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// groupTitles orders and names the groups of the option table in
// `swiftfs mount --help`; a group not listed here follows, under its own
// name.
var groupTitles = []struct{ group, title string }{
	{"mount", "Mount"},
	{"auth", "Credentials"},
	{"cache", "Cache"},
	{"write", "Writing and uploads"},
	{"logging", "Logging"},
}

// placeholder names the kind of value a flag takes, from its name and
// default.
func placeholder(o *option) string {
	switch {
	case o.def == "true" || o.def == "false":
		return ""
	case strings.HasSuffix(o.name, "-file") || strings.HasSuffix(o.name, "-dir"):
		return strings.ToUpper(o.name[strings.LastIndex(o.name, "-")+1:])
	case strings.HasSuffix(o.name, "-mode"):
		return "MODE"
	}
	if _, err := time.ParseDuration(o.def); err == nil && o.def != "0" {
		return "DURATION"
	}
	if _, err := strconv.Atoi(o.def); err == nil {
		return "N"
	}
	if _, err := parseSize(o.def); err == nil {
		return "SIZE"
	}
	return "VALUE"
}

// printMountUsage writes `swiftfs mount --help`: the flags of the option
// table by group, as --name VALUE, each with its default (boolean flags
// that are off by default without one).
func printMountUsage(w io.Writer) {
	fmt.Fprint(w, "Usage: swiftfs mount [flags] CONTAINER[:PREFIX] MOUNTPOINT\n")
	var groups []string
	for _, g := range groupTitles {
		groups = append(groups, g.group)
	}
	var extra []string
	for _, o := range options {
		if !slices.Contains(groups, o.group) && !slices.Contains(extra, o.group) {
			extra = append(extra, o.group)
		}
	}
	slices.Sort(extra)
	for _, g := range append(groups, extra...) {
		title := g
		for _, t := range groupTitles {
			if t.group == g {
				title = t.title
			}
		}
		first := true
		for i := range options {
			o := &options[i]
			if o.group != g {
				continue
			}
			if first {
				fmt.Fprintf(w, "\n%s:\n", title)
				first = false
			}
			name := "--" + o.name
			if p := placeholder(o); p != "" {
				name += " " + p
			}
			switch o.def {
			case "false": // a boolean flag that is off unless given
				fmt.Fprintf(w, "  %s\n      %s\n", name, o.help)
			case "":
				fmt.Fprintf(w, "  %s\n      %s (default: none)\n", name, o.help)
			default:
				fmt.Fprintf(w, "  %s\n      %s (default %s)\n", name, o.help, o.def)
			}
		}
	}
	fmt.Fprint(w, "\nFlags go before or after the arguments, as --name value or --name=value.\n"+
		"As mount(8) helper (mount -t fuse.swiftfs, /etc/fstab): mount.fuse.swiftfs --help.\n")
}
