package outbox_test

// The file name sorts last on purpose: go runs test files in name order, and the focused tests should name a
// mistake before this minute-long test does.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gomicrolab/microlab/chapters/07-messaging/consumer"
	"github.com/gomicrolab/microlab/chapters/07-messaging/idem"
	"github.com/gomicrolab/microlab/chapters/07-messaging/internal/kafkatest"
	"github.com/gomicrolab/microlab/chapters/07-messaging/outbox"
	"github.com/gomicrolab/microlab/infra"
)

// TestOutboxChaos places N orders while two relays keep dying right after publishing (before marking) and the
// consumer is restarted every few dozen effects. At the end every order has exactly one effect in the database,
// and every duplicate that reached the consumer was absorbed by the idempotent Handle.
func TestOutboxChaos(t *testing.T) {
	const (
		n            = 150
		placers      = 3
		crashEvery   = 4  // every 4th publish of a relay is followed by its death before marking
		restartEvery = 40 // the consumer is restarted after this many effects
	)
	db := newDB(t)
	ep := infra.Kafka(t)
	topic := kafkatest.Topic(t, ep, "orders", 3)
	group := ep.TopicPrefix + "shipping"
	cl := kafkatest.Client(t, ep.Brokers)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	report := func(err error) {
		select {
		case errs <- err:
		default:
		}
	}

	// Orders arrive from several clients at once.
	for p := range placers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := p; i < n; i += placers {
				if err := outbox.PlaceOrder(ctx, db, topic, outbox.Order{ID: fmt.Sprintf("o-%03d", i), UserID: int64(i), Total: 100}); err != nil {
					report(fmt.Errorf("PlaceOrder(o-%03d): %w", i, err))
					return
				}
			}
		}()
	}

	// Two relays; each dies after every crashEvery-th publish and is started again.
	var relayRestarts atomic.Int32
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				rctx, crash := context.WithCancel(ctx)
				relay := &outbox.Relay{DB: db, Batch: 10, Producer: &producer{real: cl, after: func(call int) {
					if call%crashEvery == 0 {
						crash()
					}
				}}}
				_ = relay.Run(rctx, 10*time.Millisecond, nil)
				crash()
				relayRestarts.Add(1)
			}
		}()
	}

	// The consumer applies each order through the idempotent Handle, and is restarted now and then.
	var effects, absorbed, consumerRestarts atomic.Int32
	shipping := &idem.Consumer{DB: db, Name: "shipping"}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			cctx, restart := context.WithCancel(ctx)
			err := consumer.Run(cctx, consumer.Config{Brokers: ep.Brokers, Group: group, Topic: topic}, func(ctx context.Context, r *kgo.Record) error {
				applied, err := shipping.Handle(ctx, kafkatest.Header(r, outbox.MessageIDHeader), func(ctx context.Context, tx *sql.Tx) error {
					_, err := tx.ExecContext(ctx, "INSERT INTO effects (order_id, n) VALUES (?, 1) ON DUPLICATE KEY UPDATE n = n + 1", string(r.Key))
					return err
				})
				if err != nil {
					return err
				}
				if !applied {
					absorbed.Add(1)
				} else if effects.Add(1)%restartEvery == 0 {
					restart()
				}
				return nil
			})
			restart()
			if err != nil && ctx.Err() == nil && !errors.Is(err, context.Canceled) {
				report(fmt.Errorf("consumer.Run: %w", err))
			}
			consumerRestarts.Add(1)
		}
	}()

	// Done when every order has its effect and the group has read everything that was published. The bound is on
	// progress, not on the whole run: the test fails only when neither an effect nor a published row was added
	// for stall (lost events, a relay or consumer that stopped), so a slow, loaded machine cannot fail it.
	const stall = 60 * time.Second
	deadline := time.Now().Add(stall)
	lastEffects, lastUnpublished := -1, -1
	adm := kafkatest.Admin(t, ep.Brokers)
	for {
		select {
		case err := <-errs:
			stop()
			wg.Wait()
			t.Fatalf("chaos: %v", err)
		default:
		}
		done, left := count(t, db, "SELECT COUNT(*) FROM effects"), unpublished(t, db)
		if done == n && left == 0 && kafkatest.CaughtUp(ctx, adm, group, topic) {
			break
		}
		if done != lastEffects || left != lastUnpublished {
			lastEffects, lastUnpublished = done, left
			deadline = time.Now().Add(stall)
		}
		if time.Now().After(deadline) {
			stop()
			wg.Wait()
			t.Fatalf("chaos: no progress for %v: %d of %d orders have an effect, %d outbox rows unpublished (relay restarts %d, consumer restarts %d)",
				stall, done, n, left, relayRestarts.Load(), consumerRestarts.Load())
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	wg.Wait()

	published := kafkatest.Count(t, ep.Brokers, topic)
	t.Logf("chaos: %d orders placed, %d records published (%d duplicates from relays that died before marking), "+
		"%d effects, %d duplicates absorbed; relay restarts %d, consumer restarts %d",
		n, published, published-n, effects.Load(), absorbed.Load(), relayRestarts.Load(), consumerRestarts.Load())
	require.Equal(t, n, count(t, db, "SELECT COUNT(*) FROM effects WHERE n = 1"),
		"orders whose effect was applied exactly once: duplicates must be absorbed, and nothing may be lost")
	require.Equal(t, n, count(t, db, "SELECT COUNT(*) FROM effects"), "orders with an effect")
	require.Equal(t, n, count(t, db, "SELECT COUNT(*) FROM processed_messages"), "messages recorded as processed")
	require.Greater(t, published, int64(n), "records published: relays that die after publishing must publish those rows again")
	require.EqualValues(t, published-n, absorbed.Load(),
		"duplicates the consumer absorbed = %d, want every duplicate record (%d): each one reaches the consumer once the group has read everything", absorbed.Load(), published-n)
}
