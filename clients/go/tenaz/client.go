// Package tenaz is a thin Go client for Tenaz, the service that delivers
// conversion events to ad platforms without losing any.
//
// The generated stubs (package tenazv1) do the calls; this package adds what
// every caller would otherwise write again: the API key on every call, errors
// that carry the server's field violations, and paging.
//
//	client, err := tenaz.Dial("127.0.0.1:50051", apiKey, grpc.WithInsecure())
//	if err != nil { ... }
//	defer client.Close()
//	response, err := client.Events.SubmitEvent(ctx, &tenazv1.SubmitEventRequest{Event: event})
//	var failure *tenaz.Error
//	if errors.As(err, &failure) { ... failure.Code, failure.Violations ... }
package tenaz

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	tenazv1 "github.com/tenaz/tenaz/clients/go/gen/tenaz/v1"
)

// Client talks to one Tenaz server on behalf of one workspace (its API key).
// Events and Destinations are the generated clients; every call made through
// them carries the key, and their errors are *Error.
type Client struct {
	conn         *grpc.ClientConn
	Events       tenazv1.EventServiceClient
	Destinations tenazv1.DestinationServiceClient
}

// Dial connects to target ("host:port"). Pass grpc.WithInsecure() for a
// plaintext server or grpc.WithTransportCredentials(...) for TLS; any other
// dial options are passed on to grpc.Dial.
func Dial(target, apiKey string, opts ...grpc.DialOption) (*Client, error) {
	bearer := "Bearer " + apiKey
	options := append([]grpc.DialOption{
		grpc.WithChainUnaryInterceptor(func(ctx context.Context, method string, req, reply interface{}, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, callOpts ...grpc.CallOption) error {
			ctx = metadata.AppendToOutgoingContext(ctx, "authorization", bearer)
			return toError(invoker(ctx, method, req, reply, cc, callOpts...))
		}),
		grpc.WithChainStreamInterceptor(func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, callOpts ...grpc.CallOption) (grpc.ClientStream, error) {
			ctx = metadata.AppendToOutgoingContext(ctx, "authorization", bearer)
			stream, err := streamer(ctx, desc, cc, method, callOpts...)
			if err != nil {
				return nil, toError(err)
			}
			return convertingStream{stream}, nil
		}),
	}, opts...)
	conn, err := grpc.Dial(target, options...)
	if err != nil {
		return nil, err
	}
	return &Client{
		conn:         conn,
		Events:       tenazv1.NewEventServiceClient(conn),
		Destinations: tenazv1.NewDestinationServiceClient(conn),
	}, nil
}

// Close closes the connection.
func (c *Client) Close() error {
	return c.conn.Close()
}

// EachEvent calls fn with every event that matches request, newest first,
// fetching pages as needed; request.PageToken is where it starts. It stops at
// the first error, from the server or from fn.
func (c *Client) EachEvent(ctx context.Context, request *tenazv1.ListEventsRequest, fn func(*tenazv1.StoredEvent) error) error {
	page := proto.Clone(request).(*tenazv1.ListEventsRequest)
	for {
		response, err := c.Events.ListEvents(ctx, page)
		if err != nil {
			return err
		}
		for _, event := range response.Events {
			if err := fn(event); err != nil {
				return err
			}
		}
		if response.NextPageToken == "" {
			return nil
		}
		page.PageToken = response.NextPageToken
	}
}

// SequenceOf is the sequence to resume a status stream after: pass it as
// WatchStatusRequest.AfterSequence to get every later change, with no gap and
// no repeat.
func SequenceOf(message *tenazv1.WatchStatusResponse) int64 {
	if change := message.GetChange(); change != nil {
		return change.Sequence
	}
	return message.GetHeartbeat().GetLastSequence()
}

// FieldViolation names one invalid field of a request, e.g. "events[3].user_data.email".
type FieldViolation struct {
	Field       string
	Description string
}

// Error is a failed call: its gRPC code, the server's message, and one
// violation per bad field when the input was invalid. status.Code(err) and
// status.FromError(err) keep working on it.
type Error struct {
	Code       codes.Code
	Message    string
	Violations []FieldViolation
	status     *status.Status
}

func (e *Error) Error() string {
	var text strings.Builder
	fmt.Fprintf(&text, "%s: %s", CodeName(e.Code), e.Message)
	for _, v := range e.Violations {
		fmt.Fprintf(&text, "\n  %s: %s", v.Field, v.Description)
	}
	return text.String()
}

// GRPCStatus lets the grpc status package see the original status.
func (e *Error) GRPCStatus() *status.Status {
	return e.status
}

// AsError returns err as an *Error, decoding google.rpc.BadRequest details;
// nil when err is nil or is not a gRPC status error.
func AsError(err error) *Error {
	var failure *Error
	if errors.As(err, &failure) {
		return failure
	}
	if converted, ok := toError(err).(*Error); ok {
		return converted
	}
	return nil
}

func toError(err error) error {
	if err == nil || err == io.EOF {
		return err
	}
	var failure *Error
	if errors.As(err, &failure) {
		return err
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	converted := &Error{Code: st.Code(), Message: st.Message(), status: st}
	for _, detail := range st.Details() {
		if badRequest, ok := detail.(*errdetails.BadRequest); ok {
			for _, v := range badRequest.GetFieldViolations() {
				converted.Violations = append(converted.Violations, FieldViolation{Field: v.GetField(), Description: v.GetDescription()})
			}
		}
	}
	return converted
}

// CodeName spells a code as gRPC's documentation does: codes.InvalidArgument
// is "INVALID_ARGUMENT".
func CodeName(code codes.Code) string {
	var out strings.Builder
	previous := ' '
	for _, r := range code.String() {
		if unicode.IsUpper(r) && unicode.IsLower(previous) {
			out.WriteByte('_')
		}
		out.WriteRune(r)
		previous = r
	}
	return strings.ToUpper(out.String())
}

// convertingStream turns the errors of a stream's messages into *Error; io.EOF
// (the normal end of a stream) passes through.
type convertingStream struct {
	grpc.ClientStream
}

func (s convertingStream) RecvMsg(m interface{}) error {
	return toError(s.ClientStream.RecvMsg(m))
}
