package registrysync

import (
	"fmt"
	"strings"
	"testing"
)

func TestParseTemplateKeys(t *testing.T) {
	cases := []struct {
		tmpl    string
		keys    string // "name:TYPE ..."
		wantErr string
	}{
		{"raw/raw_v%(visit)d_f%(filter)s.fits.gz", "visit:INTEGER filter:TEXT", ""},
		{"%(field)s/%(dateObs)s/%(pointing)05d/%(filter)s/HSC-%(visit)07d-%(ccd)03d.fits",
			"field:TEXT dateObs:TEXT pointing:INTEGER filter:TEXT visit:INTEGER ccd:INTEGER", ""},
		{"calib/%(expTime).1f/%(id)x.fits", "expTime:REAL id:INTEGER", ""},
		{"v%(visit)d/raw_%(visit)ld.fits", "visit:INTEGER", ""}, // a key twice; length modifier ignored
		{"100%%/%(visit)d", "visit:INTEGER", ""},
		{"", "", "empty"},
		{"raw/raw.fits", "", "no %(key) conversion"},
		{"raw_v%d.fits", "", "has no key: write %(name)d"},
		{"raw_v%(visit.fits", "", "unterminated key"},
		{"raw_v%()d.fits", "", `key "" is not an identifier`},
		{"raw_v%(1visit)d.fits", "", "not an identifier"},
		{"raw_v%(visit)", "", "has no type"},
		{"raw_v%(visit)r.fits", "", "not supported"},
		{"raw_v%(visit)d_%(visit)s.fits", "", `key "visit" is used as INTEGER and as TEXT`},
		{"raw_%", "", "at the end of the template"},
	}
	for _, c := range cases {
		tm, err := ParseTemplate(c.tmpl)
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("ParseTemplate(%q): got error %v, want one containing %q", c.tmpl, err, c.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseTemplate(%q): %v", c.tmpl, err)
			continue
		}
		var got []string
		for _, k := range tm.Keys() {
			got = append(got, k.Key+":"+string(k.Type))
		}
		if strings.Join(got, " ") != c.keys {
			t.Errorf("ParseTemplate(%q) keys: got %q, want %q", c.tmpl, strings.Join(got, " "), c.keys)
		}
	}
}

func TestTemplateMatch(t *testing.T) {
	cases := []struct {
		tmpl string
		name string
		want string // fmt of the values with their Go types; "" for no match
	}{
		{"raw/raw_v%(visit)d_f%(filter)s.fits.gz", "raw/raw_v1_fg.fits.gz", "int64(1) string(g)"},
		{"raw/raw_v%(visit)d_f%(filter)s.fits.gz", "raw/raw_v12_fHSC-I.fits.gz", "int64(12) string(HSC-I)"},
		// Literal dots are literal: no match where a dot stands for any character.
		{"raw/raw_v%(visit)d_f%(filter)s.fits.gz", "raw/raw_v1_fgXfitsXgz", ""},
		{"raw/raw_v%(visit)d_f%(filter)s.fits.gz", "raw/raw_v1_fg.fits", ""},
		{"raw/raw_v%(visit)d_f%(filter)s.fits.gz", "raw/raw_vX_fg.fits.gz", ""},
		{"raw/raw_v%(visit)d_f%(filter)s.fits.gz", "other/raw/raw_v1_fg.fits.gz", ""}, // anchored
		{"raw/raw_v%(visit)d_f%(filter)s.fits.gz", "raw/raw_v1_fa/b.fits.gz", ""},     // %s stays in one path segment
		{"raw/raw_v%(visit)d_f%(filter)s.fits.gz", "raw/raw_v-3_fg.fits.gz", "int64(-3) string(g)"},
		// Zero padding: adjacent numbers split where Python joined them.
		{"raw_%(visit)d%(ccd)02d.fits", "raw_12305.fits", "int64(123) int64(5)"},
		{"HSC-%(visit)07d-%(ccd)03d.fits", "HSC-0001234-042.fits", "int64(1234) int64(42)"},
		{"HSC-%(visit)07d-%(ccd)03d.fits", "HSC-1234-042.fits", ""}, // fewer digits than the padding
		{"HSC-%(visit)07d-%(ccd)03d.fits", "HSC-12345678-042.fits", "int64(12345678) int64(42)"},
		// Space padding and left alignment.
		{"v%(visit)5d.fits", "v   42.fits", "int64(42)"},
		{"f%(filter)-3s.fits", "fg  .fits", "string(g)"},
		// %s is as short as possible.
		{"%(filter)s%(visit)d.fits", "g12.fits", "string(g) int64(12)"},
		{"%(a)s_%(b)s", "x_y_z", "string(x) string(y_z)"},
		// Other conversions.
		{"%(id)x.dat", "ff.dat", "int64(255)"},
		{"%(id)#x.dat", "0x1F.dat", "int64(31)"},
		{"%(id)o.dat", "17.dat", "int64(15)"},
		{"t%(expTime).1f.fits", "t15.0.fits", "float64(15)"},
		{"t%(expTime)e.fits", "t1.500000e+01.fits", "float64(15)"},
		{"c%(amp)c.fits", "cA.fits", "string(A)"},
		{"100%%/%(visit)d", "100%/7", "int64(7)"},
		// A repeated key must have one value.
		{"v%(visit)d/raw_%(visit)d.fits", "v3/raw_3.fits", "int64(3)"},
		{"v%(visit)d/raw_%(visit)d.fits", "v3/raw_4.fits", ""},
		{"v%(visit)d/raw_%(visit)03d.fits", "v3/raw_003.fits", "int64(3)"},
	}
	for _, c := range cases {
		tm, err := ParseTemplate(c.tmpl)
		if err != nil {
			t.Errorf("ParseTemplate(%q): %v", c.tmpl, err)
			continue
		}
		vals, ok := tm.Match(c.name)
		got := ""
		if ok {
			var parts []string
			for _, v := range vals {
				parts = append(parts, fmt.Sprintf("%T(%v)", v, v))
			}
			got = strings.Join(parts, " ")
		}
		if got != c.want {
			t.Errorf("%q.Match(%q): got %q, want %q", c.tmpl, c.name, got, c.want)
		}
	}
}
