package tenaz_test

// A smoke test against a real Tenaz server, named by TENAZ_TEST_ADDRESS
// ("127.0.0.1:port") and TENAZ_TEST_API_KEY; skipped without them.
// tests/interop/test_go_client.py starts a server, runs this test, and delivers
// the submitted event when the test prints "submitted <id>".

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	tenazv1 "github.com/tenaz/tenaz/clients/go/gen/tenaz/v1"
	"github.com/tenaz/tenaz/clients/go/tenaz"
)

func server(t *testing.T) (string, string) {
	address, key := os.Getenv("TENAZ_TEST_ADDRESS"), os.Getenv("TENAZ_TEST_API_KEY")
	if address == "" {
		t.Skip("TENAZ_TEST_ADDRESS is not set")
	}
	return address, key
}

func dial(t *testing.T, address, key string) *tenaz.Client {
	client, err := tenaz.Dial(address, key, grpc.WithInsecure())
	if err != nil {
		t.Fatalf("dial %s: %v", address, err)
	}
	t.Cleanup(func() { client.Close() })
	return client
}

func purchase(eventID, email string) *tenazv1.Event {
	return &tenazv1.Event{
		EventId:    eventID,
		EventName:  "Purchase",
		EventTime:  timestamppb.Now(),
		UserData:   &tenazv1.UserData{Email: email},
		CustomData: &tenazv1.CustomData{Value: proto.Float64(42.5), Currency: "BRL"},
	}
}

func TestABadKeyIsUnauthenticated(t *testing.T) {
	address, _ := server(t)
	stranger := dial(t, address, "tz_not-a-real-key")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	_, err := stranger.Destinations.ListDestinations(ctx, &tenazv1.ListDestinationsRequest{})
	failure := tenaz.AsError(err)
	if failure == nil || failure.Code != codes.Unauthenticated {
		t.Fatalf("want UNAUTHENTICATED, got %v", err)
	}
	if status.Code(err) != codes.Unauthenticated || !strings.HasPrefix(err.Error(), "UNAUTHENTICATED: ") {
		t.Fatalf("the error hides its status: %v", err)
	}

	stream, err := stranger.Events.WatchStatus(ctx, &tenazv1.WatchStatusRequest{AfterSequence: proto.Int64(0)})
	if err == nil {
		_, err = stream.Recv()
	}
	if status.Code(err) != codes.Unauthenticated {
		t.Fatalf("a stream with a bad key: want UNAUTHENTICATED, got %v", err)
	}
	fmt.Println("unauthenticated:", err)
}

func TestSubmitGetAndWatchADelivery(t *testing.T) {
	address, key := server(t)
	client := dial(t, address, key)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	_, err := client.Destinations.CreateDestination(ctx, &tenazv1.CreateDestinationRequest{
		Destination: &tenazv1.Destination{
			Name:          "go-sandbox",
			Enabled:       true,
			Platform:      &tenazv1.Destination_Sandbox{Sandbox: &tenazv1.SandboxSettings{}},
			RetryInterval: durationpb.New(5 * time.Second),
		},
	})
	if err != nil {
		t.Fatalf("create destination: %v", err)
	}

	// Invalid input: INVALID_ARGUMENT naming the bad field.
	_, err = client.Events.SubmitEvent(ctx, &tenazv1.SubmitEventRequest{Event: purchase("go-bad", "not an email")})
	var failure *tenaz.Error
	if !errors.As(err, &failure) || failure.Code != codes.InvalidArgument {
		t.Fatalf("want INVALID_ARGUMENT, got %v", err)
	}
	if len(failure.Violations) != 1 || !strings.HasSuffix(failure.Violations[0].Field, "user_data.email") {
		t.Fatalf("want one violation of user_data.email, got %+v", failure.Violations)
	}

	eventID := fmt.Sprintf("go-order-%d", time.Now().UnixNano())
	submitted, err := client.Events.SubmitEvent(ctx, &tenazv1.SubmitEventRequest{Event: purchase(eventID, "maria@example.com")})
	if err != nil {
		t.Fatalf("submit: %v", err)
	}
	stored, err := client.Events.GetEvent(ctx, &tenazv1.GetEventRequest{Id: submitted.Event.Id})
	if err != nil {
		t.Fatalf("get event: %v", err)
	}
	got := stored.Event
	if got.Event.EventId != eventID || got.Event.CustomData.GetValue() != 42.5 || len(got.Deliveries) != 1 {
		t.Fatalf("the event came back different: %v", got)
	}
	if delivery := got.Deliveries[0]; delivery.Destination != "go-sandbox" || delivery.Status != tenazv1.DeliveryStatus_DELIVERY_STATUS_PENDING {
		t.Fatalf("unexpected delivery: %v", delivery)
	}

	listed := 0
	err = client.EachEvent(ctx, &tenazv1.ListEventsRequest{EventIds: []string{eventID, "go-bad"}, PageSize: 1}, func(event *tenazv1.StoredEvent) error {
		listed++
		return nil
	})
	if err != nil || listed != 1 {
		t.Fatalf("EachEvent: %d events, %v", listed, err)
	}

	// From sequence 0 the stream replays what already happened, then follows.
	stream, err := client.Events.WatchStatus(ctx, &tenazv1.WatchStatusRequest{
		AfterSequence: proto.Int64(0),
		EventIds:      []string{eventID},
	})
	if err != nil {
		t.Fatalf("watch: %v", err)
	}
	fmt.Println("submitted", submitted.Event.Id)
	var seen []string
	var last int64
	for {
		message, err := stream.Recv()
		if err != nil {
			t.Fatalf("watch ended after %v: %v", seen, err)
		}
		change := message.GetChange()
		if change == nil {
			continue
		}
		if tenaz.SequenceOf(message) <= last {
			t.Fatalf("sequence went back: %d after %d", change.Sequence, last)
		}
		last = tenaz.SequenceOf(message)
		step := strings.TrimPrefix(change.ToStatus.String(), "DELIVERY_STATUS_")
		seen = append(seen, step)
		fmt.Printf("change %d %s -> %s\n", change.Sequence, strings.TrimPrefix(change.FromStatus.String(), "DELIVERY_STATUS_"), step)
		if change.ToStatus == tenazv1.DeliveryStatus_DELIVERY_STATUS_SUCCEEDED {
			break
		}
	}
	if strings.Join(seen, ",") != "PENDING,SENDING,SUCCEEDED" {
		t.Fatalf("unexpected changes: %v", seen)
	}
}
