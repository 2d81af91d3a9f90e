package swiftclient

import (
	"crypto/md5"
	"encoding/hex"
	"strings"
	"testing"
)

func hexMD5(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

func TestParseManifest(t *testing.T) {
	h1, h2 := hexMD5("one"), hexMD5("two")
	tests := []struct {
		name     string
		json     string
		wantSegs []ManifestSegment
		wantETag string
		wantErr  string
	}{
		{
			name:     "whole segments",
			json:     `[{"name":"/c/s1","bytes":3,"hash":"` + h1 + `"},{"name":"/c/s2","bytes":3,"hash":"` + h2 + `"}]`,
			wantSegs: []ManifestSegment{{Name: "/c/s1", Size: 3, MD5: h1}, {Name: "/c/s2", Size: 3, MD5: h2}},
			wantETag: hexMD5(h1 + h2),
		},
		{
			name:     "ranges have no checksum of their bytes",
			json:     `[{"name":"/c/s1","bytes":10,"hash":"` + h1 + `","range":"2-5"},{"name":"/c/s2","bytes":10,"hash":"` + h2 + `","range":"-4"},{"name":"/c/s2","bytes":10,"hash":"` + h2 + `","range":"7-"}]`,
			wantSegs: []ManifestSegment{{Name: "/c/s1", Size: 4}, {Name: "/c/s2", Size: 4}, {Name: "/c/s2", Size: 3}},
			wantETag: hexMD5(h1 + ":2-5;" + h2 + ":-4;" + h2 + ":7-;"),
		},
		{
			name:     "nested SLO",
			json:     `[{"name":"/c/sub","bytes":100,"hash":"` + h1 + `","sub_slo":true,"content_type":"x/y;swift_bytes=5000"}]`,
			wantSegs: []ManifestSegment{{Name: "/c/sub", Size: 5000}},
			wantETag: hexMD5(h1),
		},
		{
			name:     "inline data",
			json:     `[{"data":"b25l"}]`, // "one"
			wantSegs: []ManifestSegment{{Size: 3, MD5: h1}},
			wantETag: hexMD5(h1),
		},
		{name: "not JSON", json: `{"x":`, wantErr: "reading the SLO manifest"},
		{name: "bad range", json: `[{"name":"/c/s1","bytes":10,"hash":"` + h1 + `","range":"5-2"}]`, wantErr: "bad range"},
		{name: "bad data", json: `[{"data":"%%%"}]`, wantErr: "inline data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := ParseManifest([]byte(tt.json))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var size int64
			for _, s := range tt.wantSegs {
				size += s.Size
			}
			if len(m.Segments) != len(tt.wantSegs) || m.ETag != tt.wantETag || m.Size != size {
				t.Fatalf("got %+v, want segments %+v, ETag %s, size %d", m, tt.wantSegs, tt.wantETag, size)
			}
			for i := range m.Segments {
				if m.Segments[i] != tt.wantSegs[i] {
					t.Errorf("segment %d: %+v, want %+v", i, m.Segments[i], tt.wantSegs[i])
				}
			}
		})
	}
}
