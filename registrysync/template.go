package registrysync

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// ColumnType is the SQLite type of a registry column.
type ColumnType string

// The column types a template or a FITS keyword produces.
const (
	Integer ColumnType = "INTEGER"
	Real    ColumnType = "REAL"
	Text    ColumnType = "TEXT"
)

// Field is one conversion of a template, e.g. %(visit)07d.
type Field struct {
	Key   string     // "visit"
	Type  ColumnType // from the conversion: d i u x X o → Integer, e E f F g G → Real, s c → Text
	Verb  byte       // the conversion character
	Flags string     // Python's conversion flags ("0", "-", "#", " ", "+")
	Width int        // minimum width, 0 when absent
}

// Template is a Butler path template (Python %-style with named keys, e.g.
// "raw/raw_v%(visit)d_f%(filter)s.fits.gz") turned into a regular
// expression that recovers the keys from an object name.
type Template struct {
	src    string
	re     *regexp.Regexp
	fields []Field // in order of appearance (a key may appear twice)
	keys   []Field // distinct keys, first appearance
}

var keyRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// ParseTemplate parses a template. Every conversion must name its key
// ("%(visit)d", not "%d"); "%%" is a literal "%". A key used twice must
// have the same type each time, and a matching name must give it the same
// value each time. String values never contain "/" and are matched as
// short as possible, so "%(filter)s%(visit)d" splits "g12" into "g" and 12.
func ParseTemplate(s string) (*Template, error) {
	if s == "" {
		return nil, fmt.Errorf("template: empty")
	}
	t := &Template{src: s}
	var re strings.Builder
	re.WriteString("^")
	seen := map[string]ColumnType{}
	for i := 0; i < len(s); {
		j := strings.IndexByte(s[i:], '%')
		if j < 0 {
			re.WriteString(regexp.QuoteMeta(s[i:]))
			break
		}
		re.WriteString(regexp.QuoteMeta(s[i : i+j]))
		i += j
		f, n, err := parseConversion(s[i:])
		if err != nil {
			return nil, fmt.Errorf("template %q at byte %d: %w", s, i, err)
		}
		i += n
		if f == nil { // "%%"
			re.WriteString("%")
			continue
		}
		if prev, ok := seen[f.Key]; ok && prev != f.Type {
			return nil, fmt.Errorf("template %q: key %q is used as %s and as %s", s, f.Key, prev, f.Type)
		}
		if _, ok := seen[f.Key]; !ok {
			seen[f.Key] = f.Type
			t.keys = append(t.keys, *f)
		}
		t.fields = append(t.fields, *f)
		re.WriteString("(" + f.pattern() + ")")
	}
	re.WriteString("$")
	if len(t.fields) == 0 {
		return nil, fmt.Errorf("template %q has no %%(key) conversion", s)
	}
	var err error
	if t.re, err = regexp.Compile(re.String()); err != nil {
		return nil, fmt.Errorf("template %q: %w", s, err)
	}
	return t, nil
}

// parseConversion parses the conversion at the start of s (which begins
// with "%"). It returns nil for "%%", and the number of bytes used.
func parseConversion(s string) (*Field, int, error) {
	if len(s) < 2 {
		return nil, 0, fmt.Errorf("%q at the end of the template", s)
	}
	if s[1] == '%' {
		return nil, 2, nil
	}
	if s[1] != '(' {
		end := min(len(s), 4)
		return nil, 0, fmt.Errorf("conversion %q has no key: write %%(name)%c", s[:end], s[1])
	}
	rparen := strings.IndexByte(s, ')')
	if rparen < 0 {
		return nil, 0, fmt.Errorf("unterminated key in %q", s)
	}
	f := &Field{Key: s[2:rparen]}
	if !keyRE.MatchString(f.Key) {
		return nil, 0, fmt.Errorf("key %q is not an identifier", f.Key)
	}
	i := rparen + 1
	for i < len(s) && strings.IndexByte("-#0 +", s[i]) >= 0 {
		f.Flags += s[i : i+1]
		i++
	}
	w := i
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i > w {
		f.Width, _ = strconv.Atoi(s[w:i])
	}
	if i < len(s) && s[i] == '.' { // precision: accepted, does not change the pattern
		i++
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	}
	if i < len(s) && strings.IndexByte("hlL", s[i]) >= 0 { // length modifier: ignored, as Python does
		i++
	}
	if i >= len(s) {
		return nil, 0, fmt.Errorf("conversion of %q has no type (d, s, f, ...)", f.Key)
	}
	f.Verb = s[i]
	switch f.Verb {
	case 'd', 'i', 'u', 'x', 'X', 'o':
		f.Type = Integer
	case 'e', 'E', 'f', 'F', 'g', 'G':
		f.Type = Real
	case 's', 'c':
		f.Type = Text
	default:
		return nil, 0, fmt.Errorf("conversion %%(%s)%c is not supported (use d, i, x, o, f, e, g, s or c)", f.Key, f.Verb)
	}
	return f, i + 1, nil
}

// pattern is the regular expression of the field's text.
func (f Field) pattern() string {
	var core string
	switch f.Verb {
	case 'd', 'i', 'u':
		core = `[-+]?[0-9]+`
	case 'x', 'X':
		core = `[-+]?(?:0[xX])?[0-9a-fA-F]+`
	case 'o':
		core = `[-+]?(?:0o)?[0-7]+`
	case 'e', 'E', 'f', 'F', 'g', 'G':
		core = `[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?|[-+]?(?:inf|nan|INF|NAN)`
	case 'c':
		core = `[^/]`
	default: // 's'
		core = `[^/]+?`
	}
	if f.Type == Integer && strings.Contains(f.Flags, "0") && !strings.Contains(f.Flags, "-") && f.Width > 1 {
		// Zero-padded: at least Width characters, so that adjacent numbers
		// ("%(visit)d%(ccd)02d") split where Python joined them.
		core = fmt.Sprintf(`[0-9]{%d,}|[-+][0-9]{%d,}`, f.Width, f.Width-1)
	}
	switch {
	case f.Width > 0 && strings.Contains(f.Flags, "-"):
		return "(?:" + core + ") *"
	case f.Width > 0:
		return " *(?:" + core + ")"
	}
	return core
}

// String returns the template's source text.
func (t *Template) String() string { return t.src }

// Keys returns the template's keys, each once, in order of first
// appearance, with their types.
func (t *Template) Keys() []Field { return append([]Field(nil), t.keys...) }

// Match recovers the keys from an object name (relative to the registry's
// prefix). It returns the values in the order of Keys: int64 for Integer,
// float64 for Real, string for Text; ok is false when name does not match
// the template or a repeated key has two different values.
func (t *Template) Match(name string) (values []any, ok bool) {
	m := t.re.FindStringSubmatch(name)
	if m == nil {
		return nil, false
	}
	values = make([]any, len(t.keys))
	set := make([]bool, len(t.keys))
	for i, f := range t.fields {
		v, err := f.parse(m[i+1])
		if err != nil {
			return nil, false
		}
		k := t.keyIndex(f.Key)
		if set[k] && values[k] != v {
			return nil, false
		}
		values[k], set[k] = v, true
	}
	return values, true
}

func (t *Template) keyIndex(key string) int {
	for i, f := range t.keys {
		if f.Key == key {
			return i
		}
	}
	panic("registrysync: unknown template key " + key)
}

// parse converts the matched text of the field to its value.
func (f Field) parse(s string) (any, error) {
	switch f.Verb {
	case 's', 'c':
		if f.Width > 0 {
			s = strings.Trim(s, " ")
		}
		return s, nil
	case 'e', 'E', 'f', 'F', 'g', 'G':
		return strconv.ParseFloat(strings.TrimSpace(s), 64)
	}
	s = strings.TrimSpace(s)
	neg := false
	switch {
	case strings.HasPrefix(s, "-"):
		neg, s = true, s[1:]
	case strings.HasPrefix(s, "+"):
		s = s[1:]
	}
	base := 10
	switch f.Verb {
	case 'x', 'X':
		base = 16
		if len(s) > 2 && (s[:2] == "0x" || s[:2] == "0X") {
			s = s[2:]
		}
	case 'o':
		base = 8
		s = strings.TrimPrefix(s, "0o")
	}
	n, err := strconv.ParseInt(s, base, 64)
	if neg {
		n = -n
	}
	return n, err
}
