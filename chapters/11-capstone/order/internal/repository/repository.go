// Package repository keeps the order service's data in its own MySQL database: products, orders, their
// items, and the outbox of events (chapter 07). Changes that must happen together run in one Tx.
package repository

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/gomicrolab/microlab/chapters/11-capstone/internal/mysqldb"
	"github.com/gomicrolab/microlab/chapters/11-capstone/internal/outbox"
	"github.com/gomicrolab/microlab/chapters/11-capstone/order/internal/domain"
)

// Schema creates the order service's tables, the outbox's included.
var Schema = append([]string{`CREATE TABLE IF NOT EXISTS products (
	id          BIGINT AUTO_INCREMENT PRIMARY KEY,
	name        VARCHAR(255) NOT NULL,
	price_cents BIGINT NOT NULL,
	stock       INT NOT NULL
) ENGINE=InnoDB`, `CREATE TABLE IF NOT EXISTS orders (
	id              BIGINT AUTO_INCREMENT PRIMARY KEY,
	user_id         BIGINT NOT NULL,
	status          VARCHAR(16) NOT NULL,
	total_cents     BIGINT NOT NULL,
	idempotency_key VARCHAR(255) NULL,
	created_at      TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
	UNIQUE KEY idempotency_key (idempotency_key),
	KEY due (status, created_at)
) ENGINE=InnoDB`, `CREATE TABLE IF NOT EXISTS order_items (
	order_id    BIGINT NOT NULL,
	product_id  BIGINT NOT NULL,
	quantity    INT NOT NULL,
	price_cents BIGINT NOT NULL,
	PRIMARY KEY (order_id, product_id)
) ENGINE=InnoDB`}, outbox.Schema...)

// Migrate brings tables made by an older version of the course up to Schema: orders gained created_at
// (when an unpaid order expires) and its index.
func Migrate(ctx context.Context, db *sql.DB) error {
	if err := outbox.Migrate(ctx, db); err != nil {
		return err
	}
	if err := mysqldb.AddColumn(ctx, db, "orders", "created_at", "TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)"); err != nil {
		return err
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM information_schema.STATISTICS
		WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'orders' AND INDEX_NAME = 'due'`).Scan(&n); err != nil {
		return fmt.Errorf("indexes of orders: %w", err)
	}
	if n == 0 {
		if _, err := db.ExecContext(ctx, "ALTER TABLE orders ADD KEY due (status, created_at)"); err != nil {
			return fmt.Errorf("add index orders.due: %w", err)
		}
	}
	return nil
}

// Repository is the order service's database.
type Repository struct {
	DB    *sql.DB
	Topic string // the Kafka topic of order events
}

// InTx runs fn in one transaction: it commits if fn returns nil and rolls back otherwise.
func (r *Repository) InTx(ctx context.Context, fn func(tx *Tx) error) error {
	sqlTx, err := r.DB.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer sqlTx.Rollback()
	if err := fn(&Tx{tx: sqlTx, topic: r.Topic}); err != nil {
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// CreateProduct adds a product.
func (r *Repository) CreateProduct(ctx context.Context, p domain.Product) (domain.Product, error) {
	res, err := r.DB.ExecContext(ctx, "INSERT INTO products (name, price_cents, stock) VALUES (?, ?, ?)", p.Name, p.PriceCents, p.Stock)
	if err != nil {
		return domain.Product{}, fmt.Errorf("insert product: %w", err)
	}
	p.ID, err = res.LastInsertId()
	if err != nil {
		return domain.Product{}, fmt.Errorf("insert product: %w", err)
	}
	return p, nil
}

// Product returns one product, or domain.ErrProductNotFound.
func (r *Repository) Product(ctx context.Context, id int64) (domain.Product, error) {
	var p domain.Product
	err := r.DB.QueryRowContext(ctx, "SELECT id, name, price_cents, stock FROM products WHERE id = ?", id).
		Scan(&p.ID, &p.Name, &p.PriceCents, &p.Stock)
	if errors.Is(err, sql.ErrNoRows) {
		return domain.Product{}, fmt.Errorf("product %d: %w", id, domain.ErrProductNotFound)
	}
	if err != nil {
		return domain.Product{}, fmt.Errorf("get product %d: %w", id, err)
	}
	return p, nil
}

// Order returns one order with its items, or domain.ErrOrderNotFound.
func (r *Repository) Order(ctx context.Context, id int64) (domain.Order, error) {
	return readOrder(ctx, r.DB, "id = ?", id)
}

// OrdersOfUser returns up to limit orders of a user with their items, oldest first. Two queries, whatever
// the number of orders: the items of all of them are read at once, not one query per order.
func (r *Repository) OrdersOfUser(ctx context.Context, userID int64, limit int) ([]domain.Order, error) {
	rows, err := r.DB.QueryContext(ctx, "SELECT id, user_id, status, total_cents, idempotency_key FROM orders WHERE user_id = ? ORDER BY id LIMIT ?",
		userID, limit)
	if err != nil {
		return nil, fmt.Errorf("orders of user %d: %w", userID, err)
	}
	defer rows.Close()
	var out []domain.Order
	at := map[int64]int{} // order id -> index in out
	for rows.Next() {
		var o domain.Order
		var key sql.NullString
		if err := rows.Scan(&o.ID, &o.UserID, &o.Status, &o.TotalCents, &key); err != nil {
			return nil, fmt.Errorf("orders of user %d: %w", userID, err)
		}
		o.IdempotencyKey = key.String
		at[o.ID] = len(out)
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("orders of user %d: %w", userID, err)
	}
	if len(out) == 0 {
		return nil, nil
	}
	items, err := r.DB.QueryContext(ctx, `SELECT i.order_id, i.product_id, i.quantity, i.price_cents FROM order_items i JOIN orders o ON o.id = i.order_id
		WHERE o.user_id = ? AND o.id <= ? ORDER BY i.order_id, i.product_id`, userID, out[len(out)-1].ID)
	if err != nil {
		return nil, fmt.Errorf("items of user %d's orders: %w", userID, err)
	}
	defer items.Close()
	for items.Next() {
		var orderID int64
		var it domain.Item
		if err := items.Scan(&orderID, &it.ProductID, &it.Quantity, &it.PriceCents); err != nil {
			return nil, fmt.Errorf("items of user %d's orders: %w", userID, err)
		}
		if i, ok := at[orderID]; ok {
			out[i].Items = append(out[i].Items, it)
		}
	}
	if err := items.Err(); err != nil {
		return nil, fmt.Errorf("items of user %d's orders: %w", userID, err)
	}
	return out, nil
}

// PendingSince returns the ids of up to limit orders that have been pending for longer than age, oldest
// first. The database's clock decides, so instances whose clocks differ agree on which orders are due.
func (r *Repository) PendingSince(ctx context.Context, age time.Duration, limit int) ([]int64, error) {
	rows, err := r.DB.QueryContext(ctx, `SELECT id FROM orders WHERE status = ? AND created_at < NOW(6) - INTERVAL ? MICROSECOND
		ORDER BY created_at, id LIMIT ?`, domain.StatusPending, age.Microseconds(), limit)
	if err != nil {
		return nil, fmt.Errorf("due orders: %w", err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("due orders: %w", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("due orders: %w", err)
	}
	return ids, nil
}

// Tx is one transaction of the order service's database.
type Tx struct {
	tx    *sql.Tx
	topic string
}

// OrderByKey returns the order placed with idempotency key, and false if there is none.
func (t *Tx) OrderByKey(ctx context.Context, key string) (domain.Order, bool, error) {
	o, err := readOrder(ctx, t.tx, "idempotency_key = ?", key)
	if errors.Is(err, domain.ErrOrderNotFound) {
		return domain.Order{}, false, nil
	}
	if err != nil {
		return domain.Order{}, false, err
	}
	return o, true, nil
}

// Reserve takes the items' quantities from stock and returns the items with their prices. It locks the products
// in id order (two orders never wait for each other in a cycle) and fails with domain.ErrProductNotFound or
// domain.ErrOutOfStock, changing nothing that survives the rollback.
func (t *Tx) Reserve(ctx context.Context, items []domain.Item) ([]domain.Item, error) {
	sorted := slices.Clone(items)
	slices.SortFunc(sorted, func(a, b domain.Item) int { return cmp.Compare(a.ProductID, b.ProductID) })
	out := make([]domain.Item, 0, len(sorted))
	for _, it := range sorted {
		var price int64
		var stock int
		err := t.tx.QueryRowContext(ctx, "SELECT price_cents, stock FROM products WHERE id = ? FOR UPDATE", it.ProductID).Scan(&price, &stock)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("product %d: %w", it.ProductID, domain.ErrProductNotFound)
		}
		if err != nil {
			return nil, fmt.Errorf("lock product %d: %w", it.ProductID, err)
		}
		if stock < it.Quantity {
			return nil, fmt.Errorf("product %d has %d, want %d: %w", it.ProductID, stock, it.Quantity, domain.ErrOutOfStock)
		}
		if _, err := t.tx.ExecContext(ctx, "UPDATE products SET stock = stock - ? WHERE id = ?", it.Quantity, it.ProductID); err != nil {
			return nil, fmt.Errorf("take stock of product %d: %w", it.ProductID, err)
		}
		out = append(out, domain.Item{ProductID: it.ProductID, Quantity: it.Quantity, PriceCents: price})
	}
	return out, nil
}

// InsertOrder stores a new order with its items and returns it with its id.
func (t *Tx) InsertOrder(ctx context.Context, o domain.Order) (domain.Order, error) {
	var key any
	if o.IdempotencyKey != "" {
		key = o.IdempotencyKey
	}
	res, err := t.tx.ExecContext(ctx, "INSERT INTO orders (user_id, status, total_cents, idempotency_key) VALUES (?, ?, ?, ?)",
		o.UserID, o.Status, o.TotalCents, key)
	// Two requests with one key both looked it up before either committed: the unique key lets one in. The
	// other is not a failure of ours (500) but a conflict the client resolves by retrying (then: 200, the order).
	if me := new(mysql.MySQLError); errors.As(err, &me) && me.Number == 1062 { // ER_DUP_ENTRY
		return domain.Order{}, fmt.Errorf("order with key %q: %w", o.IdempotencyKey, domain.ErrKeyInUse)
	}
	if err != nil {
		return domain.Order{}, fmt.Errorf("insert order: %w", err)
	}
	if o.ID, err = res.LastInsertId(); err != nil {
		return domain.Order{}, fmt.Errorf("insert order: %w", err)
	}
	for _, it := range o.Items {
		if _, err := t.tx.ExecContext(ctx, "INSERT INTO order_items (order_id, product_id, quantity, price_cents) VALUES (?, ?, ?, ?)",
			o.ID, it.ProductID, it.Quantity, it.PriceCents); err != nil {
			return domain.Order{}, fmt.Errorf("insert item of order %d: %w", o.ID, err)
		}
	}
	return o, nil
}

// MarkPaid moves a pending order to paid. It fails with domain.ErrNotPending if the order is not pending any
// more (paid by a concurrent request, or cancelled by the expiry).
func (t *Tx) MarkPaid(ctx context.Context, id int64) error {
	return t.leavePending(ctx, id, domain.StatusPaid)
}

// Cancel moves a pending order to cancelled. Like MarkPaid, it fails with domain.ErrNotPending if the order
// is not pending any more (paid, or cancelled by another instance).
func (t *Tx) Cancel(ctx context.Context, id int64) error {
	return t.leavePending(ctx, id, domain.StatusCancelled)
}

// leavePending moves a pending order to status. It locks the order's row by its primary key first, then
// decides: of two transactions that both read "pending", the second waits for the first, then sees its
// status and fails with domain.ErrNotPending. A bare UPDATE ... WHERE id = ? AND status = 'pending' can be
// planned on the (status, created_at) index instead; two of them then lock that index and the row in
// opposite orders, and InnoDB kills one as a deadlock (Error 1213) instead of letting it wait.
func (t *Tx) leavePending(ctx context.Context, id int64, status domain.Status) error {
	var current domain.Status
	err := t.tx.QueryRowContext(ctx, "SELECT status FROM orders WHERE id = ? FOR UPDATE", id).Scan(&current)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("order %d: %w", id, domain.ErrOrderNotFound)
	}
	if err != nil {
		return fmt.Errorf("lock order %d: %w", id, err)
	}
	if current != domain.StatusPending {
		return fmt.Errorf("order %d is %s: %w", id, current, domain.ErrNotPending)
	}
	if _, err := t.tx.ExecContext(ctx, "UPDATE orders SET status = ? WHERE id = ?", status, id); err != nil {
		return fmt.Errorf("mark order %d %s: %w", id, status, err)
	}
	return nil
}

// Release puts the items' quantities back in stock: the compensation of Reserve. It locks the products in id
// order, as Reserve does, so a release and a reservation never wait for each other in a cycle.
func (t *Tx) Release(ctx context.Context, items []domain.Item) error {
	sorted := slices.Clone(items)
	slices.SortFunc(sorted, func(a, b domain.Item) int { return cmp.Compare(a.ProductID, b.ProductID) })
	for _, it := range sorted {
		if _, err := t.tx.ExecContext(ctx, "UPDATE products SET stock = stock + ? WHERE id = ?", it.Quantity, it.ProductID); err != nil {
			return fmt.Errorf("release stock of product %d: %w", it.ProductID, err)
		}
	}
	return nil
}

// Enqueue records ev in the outbox of this transaction: the relay publishes it to Kafka only if the transaction
// commits, keyed by order id (one partition per order keeps its events in order).
func (t *Tx) Enqueue(ctx context.Context, ev domain.Event) error {
	payload, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("encode %s: %w", ev.Type, err)
	}
	return outbox.Enqueue(ctx, t.tx, t.topic, strconv.FormatInt(ev.OrderID, 10), payload)
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func readOrder(ctx context.Context, q querier, where string, arg any) (domain.Order, error) {
	var o domain.Order
	var key sql.NullString
	err := q.QueryRowContext(ctx, "SELECT id, user_id, status, total_cents, idempotency_key FROM orders WHERE "+where, arg).
		Scan(&o.ID, &o.UserID, &o.Status, &o.TotalCents, &key)
	if errors.Is(err, sql.ErrNoRows) {
		return domain.Order{}, fmt.Errorf("order %v: %w", arg, domain.ErrOrderNotFound)
	}
	if err != nil {
		return domain.Order{}, fmt.Errorf("get order: %w", err)
	}
	o.IdempotencyKey = key.String
	rows, err := q.QueryContext(ctx, "SELECT product_id, quantity, price_cents FROM order_items WHERE order_id = ? ORDER BY product_id", o.ID)
	if err != nil {
		return domain.Order{}, fmt.Errorf("get items of order %d: %w", o.ID, err)
	}
	defer rows.Close()
	for rows.Next() {
		var it domain.Item
		if err := rows.Scan(&it.ProductID, &it.Quantity, &it.PriceCents); err != nil {
			return domain.Order{}, fmt.Errorf("get items of order %d: %w", o.ID, err)
		}
		o.Items = append(o.Items, it)
	}
	if err := rows.Err(); err != nil {
		return domain.Order{}, fmt.Errorf("get items of order %d: %w", o.ID, err)
	}
	return o, nil
}
