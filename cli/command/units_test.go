package command

import "testing"

func TestParseCPU(t *testing.T) {
	tests := []struct {
		in   string
		want uint32
		ok   bool
	}{
		{"500m", 500, true},
		{"0.5", 500, true},
		{"2", 2000, true},
		{"1.25", 1250, true},
		{"1m", 1, true},
		{"0.0005", 0, false},
		{"0", 0, false},
		{"-1", 0, false},
		{"1e3", 0, false},
		{"1/2", 0, false},
		{"half", 0, false},
		{"", 0, false},
		{"5000000", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseCPU(tt.in)
			if got != tt.want || (err == nil) != tt.ok {
				t.Errorf("parseCPU(%q) = %d, %v, want %d, ok %v", tt.in, got, err, tt.want, tt.ok)
			}
		})
	}
}

func TestParseMemory(t *testing.T) {
	tests := []struct {
		in   string
		want uint32
		ok   bool
	}{
		{"512Mi", 512, true},
		{"1Gi", 1024, true},
		{"512M", 512, true},
		{"2G", 2048, true},
		{"1.5Gi", 1536, true},
		{"0.5Mi", 0, false},
		{"512", 0, false},
		{"512Ki", 0, false},
		{"Mi", 0, false},
		{"-1Gi", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseMemory(tt.in)
			if got != tt.want || (err == nil) != tt.ok {
				t.Errorf("parseMemory(%q) = %d, %v, want %d, ok %v", tt.in, got, err, tt.want, tt.ok)
			}
		})
	}
}

func TestFormatUnits(t *testing.T) {
	if got := formatCPU(uint32(500)); got != "500m" {
		t.Errorf("formatCPU(500) = %q, want 500m", got)
	}
	if got := formatCPU(uint64(2000)); got != "2" {
		t.Errorf("formatCPU(2000) = %q, want 2", got)
	}
	if got := formatMemory(uint32(2048)); got != "2Gi" {
		t.Errorf("formatMemory(2048) = %q, want 2Gi", got)
	}
	if got := formatMemory(uint64(0)); got != "0Mi" {
		t.Errorf("formatMemory(0) = %q, want 0Mi", got)
	}
}
