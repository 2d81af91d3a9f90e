package fitsstage

import (
	"fmt"
	"strings"
)

// Mode selects what the daemon does with a staged FITS file that fails
// Validate. It implements flag.Value.
type Mode int

const (
	// ModeOff disables the check: files are uploaded unexamined.
	ModeOff Mode = iota
	// ModeWarn runs the check and logs failures, but uploads anyway.
	ModeWarn
	// ModeRefuse runs the check and does not upload a file that fails.
	ModeRefuse
)

var modeNames = [...]string{ModeOff: "off", ModeWarn: "warn", ModeRefuse: "refuse"}

// String returns "off", "warn" or "refuse".
func (m Mode) String() string {
	if m >= 0 && int(m) < len(modeNames) {
		return modeNames[m]
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// ParseMode parses "off", "warn" or "refuse" (case-insensitive).
func ParseMode(s string) (Mode, error) {
	for i, n := range modeNames {
		if strings.EqualFold(strings.TrimSpace(s), n) {
			return Mode(i), nil
		}
	}
	return ModeOff, fmt.Errorf("fitsstage: unknown mode %q, want off, warn or refuse", s)
}

// Set implements flag.Value.
func (m *Mode) Set(s string) error {
	v, err := ParseMode(s)
	if err != nil {
		return err
	}
	*m = v
	return nil
}
