package build

import (
	"fmt"
	"strings"
	"testing"
)

// TestHeadLinesSkipsDownloads writes a failed first build's output in
// uneven pieces: the modules it fetched come first, and the compiler's
// error must still be among the lines kept.
func TestHeadLinesSkipsDownloads(t *testing.T) {
	var out strings.Builder
	for i := range 12 {
		fmt.Fprintf(&out, "go: downloading example.com/m%d v1.0.%d\n", i, i)
	}
	out.WriteString("# ret\n./main.go:12:2: declared and not used: svc\n")
	for i := range 20 {
		fmt.Fprintf(&out, "./main.go:%d:2: undefined: x%d\n", 20+i, i)
	}
	out.WriteString("no newline at the end")
	h := &headLines{max: OutputLines}
	text := out.String()
	for len(text) > 0 {
		n := min(7, len(text))
		h.Write([]byte(text[:n]))
		text = text[n:]
	}
	got := strings.Split(h.String(), "\n")
	want := []string{"# ret", "./main.go:12:2: declared and not used: svc", "./main.go:20:2: undefined: x0"}
	if len(got) != OutputLines || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Errorf("kept %q, want %d lines starting %q", got, OutputLines, want)
	}
}

// TestHeadLinesKeepsAnUnfinishedLine keeps output that ends without a
// newline, and says so when there was none.
func TestHeadLinesKeepsAnUnfinishedLine(t *testing.T) {
	h := &headLines{max: OutputLines}
	h.Write([]byte("go: downloading example.com/m v1.0.0\ngo: example.com/m@v1.0.0: reading: 404"))
	if got := h.String(); got != "go: example.com/m@v1.0.0: reading: 404" {
		t.Errorf("String() = %q, want the unfinished line alone", got)
	}
	empty := &headLines{max: OutputLines}
	empty.Write([]byte("go: downloading example.com/m v1.0.0\n"))
	if got := empty.String(); got != "the go command failed without output" {
		t.Errorf("String() after progress only = %q", got)
	}
}

// TestHeadLinesCutsALongLine keeps the start of a line longer than
// maxLine, written in pieces, and the next line whole.
func TestHeadLinesCutsALongLine(t *testing.T) {
	h := &headLines{max: OutputLines}
	long := strings.Repeat("x", 3*maxLine)
	for i := 0; i < len(long); i += 1000 {
		h.Write([]byte(long[i:min(i+1000, len(long))]))
	}
	h.Write([]byte("\nnext\n"))
	got := strings.Split(h.String(), "\n")
	if len(got) != 2 || got[0] != long[:maxLine] || got[1] != "next" {
		t.Errorf("kept %d lines of lengths %d, want the long line cut to %d and then \"next\"", len(got), len(got[0]), maxLine)
	}
}
