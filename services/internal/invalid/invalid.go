// Package invalid is the one model of bad input for every core service. A
// validator collects every violated field of a request with a Checker and
// returns the result as an *Error; the service's status mapping turns it
// into InvalidArgument with an errdetails.BadRequest naming each field, in
// Status, the one place that does so. Domain packages never build proto
// details themselves.
package invalid

import (
	"errors"
	"fmt"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ErrInvalid matches every *Error with errors.Is.
var ErrInvalid = errors.New("invalid argument")

// Violation is one bad field of a request.
type Violation struct {
	// Field is the path of the field in the request, as in "record.key".
	Field string
	// Description says what is wrong with it, in words the caller can act
	// on.
	Description string
}

// Error is a request with bad fields.
type Error struct {
	// Violations are the bad fields, in the order they were checked.
	Violations []Violation
}

// Error implements error: every violation, "field: description", joined
// with "; ".
func (e *Error) Error() string {
	parts := make([]string, len(e.Violations))
	for i, v := range e.Violations {
		parts[i] = v.Field + ": " + v.Description
	}
	return strings.Join(parts, "; ")
}

// Is makes errors.Is(err, ErrInvalid) hold.
func (e *Error) Is(target error) bool { return target == ErrInvalid }

// Field returns an *Error with one violation.
func Field(field, format string, args ...any) error {
	return &Error{Violations: []Violation{{Field: field, Description: fmt.Sprintf(format, args...)}}}
}

// Checker collects the violations of one request. Its zero value is ready.
type Checker struct {
	violations []Violation
}

// Addf records a violation of field.
func (c *Checker) Addf(field, format string, args ...any) {
	c.violations = append(c.violations, Violation{Field: field, Description: fmt.Sprintf(format, args...)})
}

// Check records err as a violation of field when it is not nil. An *Error
// inside err contributes its own violations, so that checks compose.
func (c *Checker) Check(field string, err error) {
	if err == nil {
		return
	}
	var inner *Error
	if errors.As(err, &inner) {
		c.violations = append(c.violations, inner.Violations...)
		return
	}
	c.violations = append(c.violations, Violation{Field: field, Description: err.Error()})
}

// OK reports whether no violation has been recorded.
func (c *Checker) OK() bool { return len(c.violations) == 0 }

// Err returns the violations as an *Error, or nil when there are none.
func (c *Checker) Err() error {
	if len(c.violations) == 0 {
		return nil
	}
	return &Error{Violations: c.violations}
}

// Status returns InvalidArgument with a BadRequest naming every field when
// err holds an *Error, and false otherwise.
func Status(err error) (error, bool) {
	var e *Error
	if !errors.As(err, &e) {
		return nil, false
	}
	br := &errdetails.BadRequest{}
	for _, v := range e.Violations {
		br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{Field: v.Field, Description: v.Description})
	}
	st := status.New(codes.InvalidArgument, e.Error())
	if detailed, derr := st.WithDetails(br); derr == nil {
		st = detailed
	}
	return st.Err(), true
}
