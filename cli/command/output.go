package command

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Output formats, the values of --output.
const (
	outputTable = "table"
	outputJSON  = "json"
)

// printer writes a command's result as a table for people or as JSON for
// programs.
type printer struct {
	w    io.Writer
	json bool
}

// print writes v as JSON in JSON mode and calls table otherwise. A proto
// message is encoded with protojson, anything else with encoding/json.
func (p printer) print(v any, table func(t *tabwriter.Writer)) error {
	if p.json {
		return p.encode(v)
	}
	// tabwriter writes each cell on its own; the buffer makes the table
	// one write instead of one system call a cell.
	buf := bufio.NewWriter(p.w)
	t := tabwriter.NewWriter(buf, 0, 8, 2, ' ', 0)
	table(t)
	if err := t.Flush(); err != nil {
		return err
	}
	return buf.Flush()
}

// encode writes v as indented JSON followed by a newline.
func (p printer) encode(v any) error {
	var data []byte
	var err error
	if m, ok := v.(proto.Message); ok {
		data, err = indentedProto(m)
	} else {
		data, err = json.MarshalIndent(v, "", "  ")
	}
	if err != nil {
		return fmt.Errorf("encode output: %w", err)
	}
	_, err = fmt.Fprintf(p.w, "%s\n", data)
	return err
}

// indentedProto renders m the way the HTTP gateway does, with every field
// present so that scripts need not know proto3 defaults, laid out as
// encoding/json lays out the rest: protojson varies its spacing on purpose
// from one build to another, and micro's output should not.
func indentedProto(m proto.Message) ([]byte, error) {
	compact, err := protojson.MarshalOptions{EmitUnpopulated: true}.Marshal(m)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	err = json.Indent(&out, compact, "", "  ")
	return out.Bytes(), err
}

// rawProto returns m as JSON to embed in a value that encoding/json encodes.
func rawProto(m proto.Message) json.RawMessage {
	data, err := protojson.MarshalOptions{EmitUnpopulated: true}.Marshal(m)
	if err != nil {
		return json.RawMessage("null")
	}
	return data
}

// row writes cells as one tab-separated table row. Tabs and newlines inside
// a cell would break the table, so they are shown escaped.
func row(t io.Writer, cells ...string) {
	for i, c := range cells {
		cells[i] = cellEscaper.Replace(c)
	}
	fmt.Fprintln(t, strings.Join(cells, "\t"))
}

// cellEscaper escapes the characters that would break a table row.
var cellEscaper = strings.NewReplacer("\t", `\t`, "\n", `\n`, "\r", `\r`)

// when formats a timestamp for a table: local time to the second, or "-"
// when unset.
func when(ts *timestamppb.Timestamp) string {
	if ts == nil {
		return "-"
	}
	return ts.AsTime().Local().Format(time.DateTime)
}

// orDash returns s, or "-" when it is empty, so table columns stay aligned.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
