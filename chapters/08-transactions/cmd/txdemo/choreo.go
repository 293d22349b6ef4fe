package main

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gomicrolab/microlab/chapters/08-transactions/choreo"
	"github.com/gomicrolab/microlab/chapters/08-transactions/internal/outbox"
)

// choreoDemo runs the choreographed saga: four services with a database each (txdemo_order, txdemo_inventory,
// txdemo_payment, txdemo_shipping), an in-process Kafka broker (kfake) on loopback, and three orders: one that
// goes through, one whose payment is declined, one whose address is not deliverable. It prints where each order
// ended and the events it left on the topic.
func choreoDemo(ctx context.Context, srv server) error {
	broker, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "checkout"), kfake.Ports(0))
	if err != nil {
		return fmt.Errorf("start kfake: %w", err)
	}
	defer broker.Close()
	brokers := broker.ListenAddrs()
	fmt.Printf("kafka broker (in-process kfake) at %s, topic checkout\n", strings.Join(brokers, ","))

	run := fmt.Sprint(time.Now().Unix())
	dbs := map[string]*sql.DB{}
	handlers := map[string]choreo.Handler{}
	for _, name := range []string{"order", "inventory", "payment", "shipping"} {
		db, err := srv.open(ctx, "txdemo_"+name)
		if err != nil {
			return err
		}
		defer db.Close()
		dbs[name] = db
		s := choreo.Service{Name: name, DB: db, Topic: "checkout"}
		var h interface {
			choreo.Handler
			Migrate(context.Context) error
		}
		switch name {
		case "order":
			h = &choreo.OrderService{Service: s}
		case "inventory":
			h = &choreo.Inventory{Service: s}
		case "payment":
			h = &choreo.Payment{Service: s}
		case "shipping":
			h = &choreo.Shipping{Service: s}
		}
		if err := h.Migrate(ctx); err != nil {
			return err
		}
		// Rows a previous run left unpublished would go to this run's fresh broker: mark them as old.
		if _, err := db.ExecContext(ctx, `UPDATE outbox SET published_at = CURRENT_TIMESTAMP(6) WHERE published_at IS NULL`); err != nil {
			return err
		}
		handlers[name] = h
	}

	// Each service: a relay for its outbox and a consumer (its own group) calling your Handle.
	sctx, stop := context.WithCancelCause(ctx)
	var wg sync.WaitGroup
	defer func() { stop(nil); wg.Wait() }()
	for name, h := range handlers {
		producer, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
		if err != nil {
			return err
		}
		defer producer.Close()
		relay := &outbox.Relay{DB: dbs[name], Producer: producer, Service: name + "-" + run, Batch: 100}
		wg.Add(2)
		go func() { defer wg.Done(); relay.Run(sctx, 20*time.Millisecond, nil) }()
		go func() {
			defer wg.Done()
			_ = outbox.Consume(sctx, outbox.ConsumerConfig{Brokers: brokers, Group: name, Topic: "checkout",
				Backoff: 100 * time.Millisecond, OnError: func(err error) {
					fmt.Printf("    %s: %v\n", name, err)
					if strings.Contains(err.Error(), "TODO(08-choreo)") {
						stop(fmt.Errorf("%s's Handle is not written yet (08-choreo)", name))
					}
				}},
				func(ctx context.Context, r *kgo.Record) error {
					ev, err := choreo.Decode(r.Value)
					if err != nil {
						return err
					}
					return h.Handle(ctx, string(r.Headers[0].Value), ev)
				})
		}()
	}

	inv := handlers["inventory"].(*choreo.Inventory)
	pay := handlers["payment"].(*choreo.Payment)
	ord := handlers["order"].(*choreo.OrderService)
	orders := []choreo.Order{
		{ID: "c-" + run + "-ok", UserID: 1, SKU: "book", Qty: 1, Amount: 100, Address: "1 Main St"},
		{ID: "c-" + run + "-declined", UserID: 2, SKU: "book", Qty: 1, Amount: 100_000, Address: "1 Main St"},
		{ID: "c-" + run + "-noroute", UserID: 1, SKU: "book", Qty: 1, Amount: 100, Address: "nowhere 7"},
	}
	// Every run starts from the same stock and wallets.
	if _, err := dbs["inventory"].ExecContext(ctx, `DELETE FROM stock WHERE sku = 'book'`); err != nil {
		return err
	}
	if _, err := dbs["payment"].ExecContext(ctx, `DELETE FROM wallets WHERE user_id IN (1, 2)`); err != nil {
		return err
	}
	if err := inv.AddStock(ctx, "book", 10); err != nil {
		return err
	}
	for _, u := range []int64{1, 2} {
		if err := pay.Deposit(ctx, u, 1000); err != nil {
			return err
		}
	}
	for _, o := range orders {
		if err := ord.PlaceOrder(ctx, o); err != nil {
			return err
		}
		fmt.Printf("placed %s (user %d pays %d, ships to %q)\n", o.ID, o.UserID, o.Amount, o.Address)
	}
	wctx, wcancel := context.WithTimeout(sctx, 20*time.Second)
	defer wcancel()
	for _, o := range orders {
		state, err := waitOrder(wctx, dbs["order"], o.ID)
		if err != nil {
			return err
		}
		var payment, reservation string
		dbs["payment"].QueryRowContext(ctx, `SELECT state FROM payments WHERE order_id = ?`, o.ID).Scan(&payment)
		dbs["inventory"].QueryRowContext(ctx, `SELECT state FROM reservations WHERE order_id = ?`, o.ID).Scan(&reservation)
		fmt.Printf("%s: order %s, payment %q, reservation %q\n", o.ID, state, payment, reservation)
	}
	// The order service cancels on the failure event while the others may still be undoing their steps: wait
	// until a cancelled order holds nothing.
	for _, o := range orders {
		if err := waitUndone(wctx, dbs, o.ID); err != nil {
			return err
		}
	}
	var balance1, balance2, stock int64
	dbs["payment"].QueryRowContext(ctx, `SELECT balance FROM wallets WHERE user_id = 1`).Scan(&balance1)
	dbs["payment"].QueryRowContext(ctx, `SELECT balance FROM wallets WHERE user_id = 2`).Scan(&balance2)
	dbs["inventory"].QueryRowContext(ctx, `SELECT qty FROM stock WHERE sku = 'book'`).Scan(&stock)
	fmt.Printf("wallets: user 1 %d, user 2 %d; stock of book %d (both started at 1000, the stock at 10)\n",
		balance1, balance2, stock)

	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics("checkout"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return err
	}
	defer cl.Close()
	rctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	fmt.Println("the topic, partition by partition:")
	for {
		fs := cl.PollFetches(rctx)
		if rctx.Err() != nil {
			return nil
		}
		fs.EachRecord(func(r *kgo.Record) {
			ev, _ := choreo.Decode(r.Value)
			fmt.Printf("    p%d@%d key=%s %s=%s %s\n", r.Partition, r.Offset, r.Key, r.Headers[0].Key, r.Headers[0].Value, ev.Type)
		})
	}
}

// waitOrder polls the order until it is completed or cancelled.
func waitOrder(ctx context.Context, db *sql.DB, id string) (string, error) {
	for {
		var state string
		if err := db.QueryRowContext(ctx, `SELECT state FROM orders WHERE id = ?`, id).Scan(&state); err != nil {
			return "", fmt.Errorf("order %s: %w", id, err)
		}
		if state != choreo.OrderPending {
			return state, nil
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("order %s still %s: %w", id, state, context.Cause(ctx))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// waitUndone polls until a cancelled order has no stock reserved and no money charged.
func waitUndone(ctx context.Context, dbs map[string]*sql.DB, id string) error {
	for {
		var state string
		var held int
		err := dbs["order"].QueryRowContext(ctx, `SELECT state FROM orders WHERE id = ?`, id).Scan(&state)
		if err == nil && state == choreo.OrderCompleted {
			return nil
		}
		if err == nil {
			err = dbs["inventory"].QueryRowContext(ctx, `SELECT COUNT(*) FROM reservations WHERE order_id = ? AND state = ?`, id, choreo.Reserved).Scan(&held)
		}
		if err == nil && held == 0 {
			err = dbs["payment"].QueryRowContext(ctx, `SELECT COUNT(*) FROM payments WHERE order_id = ? AND state = ?`, id, choreo.Charged).Scan(&held)
			if err == nil && held == 0 {
				return nil
			}
		}
		if err != nil {
			return fmt.Errorf("order %s: %w", id, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cancelled order %s still holds stock or money: %w", id, context.Cause(ctx))
		case <-time.After(50 * time.Millisecond):
		}
	}
}
