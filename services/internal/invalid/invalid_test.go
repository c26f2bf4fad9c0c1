package invalid

import (
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestCheckerReportsEveryField(t *testing.T) {
	var c Checker
	if !c.OK() || c.Err() != nil {
		t.Fatalf("zero Checker: OK() = %v, Err() = %v, want true, nil", c.OK(), c.Err())
	}
	c.Addf("record.key", "is empty")
	c.Check("ttl", errors.New("must be positive"))
	c.Check("path", Field("path", "has %d segments", 40))
	c.Check("ignored", nil)
	err := c.Err()
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("Err() = %v, want it to match ErrInvalid", err)
	}
	want := "record.key: is empty; ttl: must be positive; path: has 40 segments"
	if err.Error() != want {
		t.Errorf("Err().Error() = %q, want %q", err.Error(), want)
	}
}

func TestStatusNamesEveryField(t *testing.T) {
	err := fmt.Errorf("write: %w", &Error{Violations: []Violation{{"a", "bad"}, {"b", "worse"}}})
	st, ok := Status(err)
	if !ok {
		t.Fatalf("Status(%v) ok = false, want true", err)
	}
	s := status.Convert(st)
	if s.Code() != codes.InvalidArgument || s.Message() != "a: bad; b: worse" {
		t.Errorf("Status() = %v %q, want InvalidArgument \"a: bad; b: worse\"", s.Code(), s.Message())
	}
	var got []string
	for _, d := range s.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				got = append(got, v.GetField()+"="+v.GetDescription())
			}
		}
	}
	if diff := cmp.Diff([]string{"a=bad", "b=worse"}, got); diff != "" {
		t.Errorf("BadRequest violations (-want +got):\n%s", diff)
	}
	if _, ok := Status(errors.New("other")); ok {
		t.Error("Status(plain error) ok = true, want false")
	}
}
