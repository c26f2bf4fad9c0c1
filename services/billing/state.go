package billing

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"m3o.dev/services/internal/storeclient"
)

// Tables of the _billing database.
const (
	tableSubscriptions = "subscriptions"
	tableCheckouts     = "checkouts"
	tableCheckoutKeys  = "checkoutkeys"
	tableEvents        = "events"
	tableChanges       = "changes"
)

// changeBucket is the span of one bucket of the changes table, and
// changeTTL how long a change is kept there: long past any poll.
const (
	changeBucket = 10 * time.Second
	changeTTL    = 10 * time.Minute
)

// state is billing's records in the store.
type state struct {
	db *storeclient.Client
}

func newState(store Store) state {
	return state{db: storeclient.New(store, Database)}
}

// subscription reads the subscription of ns.
func (st state) subscription(ctx context.Context, ns string) (Subscription, error) {
	var sub Subscription
	v, err := st.db.GetJSON(ctx, tableSubscriptions, ns, &sub)
	if errors.Is(err, storeclient.ErrNotFound) {
		return Subscription{}, fmt.Errorf("namespace %q has no subscription: %w", ns, ErrNotFound)
	}
	if err != nil {
		return Subscription{}, err
	}
	sub.version = v
	return sub, nil
}

// putSubscription writes sub over the version it was read at (0: a new
// one) and returns it with its new version. A lost race wraps ErrConflict.
func (st state) putSubscription(ctx context.Context, sub Subscription) (Subscription, error) {
	opts := storeclient.At(sub.version, 0)
	v, err := st.db.PutJSON(ctx, tableSubscriptions, sub.Namespace, sub, opts)
	if err != nil {
		return Subscription{}, err
	}
	sub.version = v
	return sub, nil
}

// subscriptions returns one page of subscriptions in namespace order.
func (st state) subscriptions(ctx context.Context, limit uint32, token string) ([]Subscription, string, error) {
	recs, next, err := st.db.Scan(ctx, tableSubscriptions, storeclient.ScanOptions{Limit: limit, PageToken: token})
	if errors.Is(err, storeclient.ErrNotFound) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", err
	}
	out := make([]Subscription, 0, len(recs))
	for _, r := range recs {
		sub, err := decodeSubscription(r)
		if err != nil {
			return nil, "", err
		}
		out = append(out, sub)
	}
	return out, next, nil
}

func decodeSubscription(r storeclient.Record) (Subscription, error) {
	var sub Subscription
	if err := storeclient.DecodeJSON(r.Value, &sub); err != nil {
		return Subscription{}, fmt.Errorf("subscription %q: %w", r.Key, err)
	}
	sub.version = r.Version
	return sub, nil
}

// checkout reads the payment session id; an expired one is not found.
func (st state) checkout(ctx context.Context, id string) (Checkout, error) {
	var c Checkout
	v, err := st.db.GetJSON(ctx, tableCheckouts, id, &c)
	if errors.Is(err, storeclient.ErrNotFound) {
		return Checkout{}, fmt.Errorf("no such payment session: %w", ErrNotFound)
	}
	if err != nil {
		return Checkout{}, err
	}
	c.version = v
	return c, nil
}

// putCheckout writes c over the version it was read at (0: a new one).
func (st state) putCheckout(ctx context.Context, c Checkout) (Checkout, error) {
	ttl := time.Until(c.ExpiresAt) + time.Hour
	v, err := st.db.PutJSON(ctx, tableCheckouts, c.ID, c, storeclient.At(c.version, ttl))
	if err != nil {
		return Checkout{}, err
	}
	c.version = v
	return c, nil
}

// reserveCheckoutID returns the session id for an idempotency key: id if
// the key is new, else the one an earlier call reserved.
func (st state) reserveCheckoutID(ctx context.Context, key, id string) (string, error) {
	_, err := st.db.Put(ctx, tableCheckoutKeys, storeclient.Record{Key: key, Value: []byte(id)}, storeclient.Create(CheckoutTTL))
	if !errors.Is(err, storeclient.ErrAlreadyExists) {
		return id, err
	}
	rec, err := st.db.Get(ctx, tableCheckoutKeys, key)
	if err != nil {
		return "", err
	}
	return string(rec.Value), nil
}

// seenEvent reports whether the event id was applied already.
func (st state) seenEvent(ctx context.Context, id string) (bool, error) {
	_, err := st.db.Get(ctx, tableEvents, id)
	if errors.Is(err, storeclient.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// rememberEvent records the event id as applied, for EventMemory.
func (st state) rememberEvent(ctx context.Context, id string, created time.Time) error {
	rec := storeclient.Record{Key: id, Value: []byte(created.UTC().Format(time.RFC3339))}
	_, err := st.db.Put(ctx, tableEvents, rec, storeclient.WriteOptions{TTL: EventMemory})
	return err
}

// recordChange notes a subscription's new state where watchers on every
// replica look for it.
func (st state) recordChange(ctx context.Context, sub Subscription, now time.Time) error {
	key := changeKey(now, sub.Namespace)
	_, err := st.db.PutJSON(ctx, tableChanges, key, changeOf(sub), storeclient.WriteOptions{TTL: changeTTL})
	return err
}

// changes returns the changes recorded in the bucket of at.
func (st state) changes(ctx context.Context, at time.Time) ([]change, error) {
	recs, err := st.db.ScanAll(ctx, tableChanges, bucketPrefix(at))
	if errors.Is(err, storeclient.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := make([]change, 0, len(recs))
	for _, r := range recs {
		var c change
		if err := storeclient.DecodeJSON(r.Value, &c); err != nil {
			return nil, fmt.Errorf("change %q: %w", r.Key, err)
		}
		out = append(out, c)
	}
	return out, nil
}

func bucketPrefix(at time.Time) string {
	return strconv.FormatInt(at.Unix()/int64(changeBucket/time.Second), 10) + "/"
}

func changeKey(at time.Time, ns string) string { return bucketPrefix(at) + ns }
