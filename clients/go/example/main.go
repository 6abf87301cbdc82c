// Command example submits a purchase to Tenaz, reads it back, and prints its
// first status changes.
//
//	TENAZ_SERVER=127.0.0.1:50051 TENAZ_API_KEY=tz_... go run ./example
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	tenazv1 "github.com/tenaz/tenaz/clients/go/gen/tenaz/v1"
	"github.com/tenaz/tenaz/clients/go/tenaz"
)

func main() {
	address := os.Getenv("TENAZ_SERVER")
	if address == "" {
		address = "127.0.0.1:50051"
	}
	client, err := tenaz.Dial(address, os.Getenv("TENAZ_API_KEY"), grpc.WithInsecure())
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// A sandbox destination: Tenaz's built-in fake ad platform.
	_, err = client.Destinations.CreateDestination(ctx, &tenazv1.CreateDestinationRequest{
		Destination: &tenazv1.Destination{
			Name:     "sandbox",
			Enabled:  true,
			Platform: &tenazv1.Destination_Sandbox{Sandbox: &tenazv1.SandboxSettings{}},
		},
	})
	var failure *tenaz.Error
	if err != nil && !(errors.As(err, &failure) && failure.Code == codes.AlreadyExists) {
		log.Fatal(err)
	}

	submitted, err := client.Events.SubmitEvent(ctx, &tenazv1.SubmitEventRequest{Event: &tenazv1.Event{
		EventId:    fmt.Sprintf("pedido-%d", time.Now().Unix()),
		EventName:  "Purchase",
		EventTime:  timestamppb.Now(),
		UserData:   &tenazv1.UserData{Email: "cliente@example.com", Phone: "(11) 98765-4321"},
		CustomData: &tenazv1.CustomData{Value: proto.Float64(197), Currency: "BRL"},
	}})
	if errors.As(err, &failure) {
		// INVALID_ARGUMENT names each bad field.
		for _, v := range failure.Violations {
			log.Printf("%s: %s", v.Field, v.Description)
		}
	}
	if err != nil {
		log.Fatal(err)
	}
	event, err := client.Events.GetEvent(ctx, &tenazv1.GetEventRequest{Id: submitted.Event.Id})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("event %s (%s)\n", event.Event.Id, event.Event.Event.EventId)
	for _, delivery := range event.Event.Deliveries {
		fmt.Printf("  %s: %s\n", delivery.Destination, delivery.Status)
	}

	// Status changes from the first one kept (sequence 0); resume with
	// tenaz.SequenceOf(message) after a disconnect.
	watch, cancelWatch := context.WithTimeout(ctx, 2*time.Second)
	defer cancelWatch()
	stream, err := client.Events.WatchStatus(watch, &tenazv1.WatchStatusRequest{
		AfterSequence: proto.Int64(0),
		EventIds:      []string{event.Event.Event.EventId},
	})
	if err != nil {
		log.Fatal(err)
	}
	for {
		message, err := stream.Recv()
		if status := tenaz.AsError(err); status != nil && status.Code == codes.DeadlineExceeded {
			return // nothing more for now
		} else if err != nil {
			log.Fatal(err)
		}
		if change := message.GetChange(); change != nil {
			fmt.Printf("  #%d %s -> %s\n", change.Sequence, change.FromStatus, change.ToStatus)
		}
	}
}
