package bench

import (
	"context"
	"math/rand/v2"
	"strconv"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	configv1 "m3o.dev/proto/m3o/config/v1"
	storev1 "m3o.dev/proto/m3o/store/v1"
)

// client is one of the bench's concurrent clients. It alone touches its
// keys and its config path, one operation at a time.
type client struct {
	*runner
	rng     *rand.Rand
	rec     *Recorder
	limited int
	prefix  string
	keys    []string
	path    string
}

// loop runs operations until deadline, pausing as long as the proxy asks
// whenever its rate limit refuses one.
func (c *client) loop(ctx context.Context, deadline time.Time) {
	for ctx.Err() == nil && time.Now().Before(deadline) {
		op := c.cfg.Mix.ops[c.rng.IntN(len(c.cfg.Mix.ops))]
		start := time.Now()
		err := c.do(ctx, op)
		c.rec.Done(op, time.Since(start), err)
		if delay, ok := retryDelay(err); ok {
			c.limited++
			sleep(ctx, min(delay, time.Until(deadline)))
		}
	}
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// do runs one operation with its own deadline.
func (c *client) do(ctx context.Context, op Op) error {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	switch op {
	case StoreRead:
		return c.storeRead(ctx)
	case StoreWrite:
		return c.storeWrite(ctx)
	case StoreDelete:
		return c.storeDelete(ctx)
	case StoreList:
		return c.storeList(ctx)
	case ConfigGet:
		return c.configGet(ctx)
	case ConfigSet:
		return c.configSet(ctx)
	default:
		return c.t.Call(ctx)
	}
}

// key picks one of the client's keys.
func (c *client) key() string {
	return c.keys[c.rng.IntN(len(c.keys))]
}

// settle records how an operation that would leave s on key ended.
func settle(l *Ledger, key string, s State, err error) {
	switch {
	case err == nil:
		l.Ack(key, s)
	case !refused(err):
		l.Doubt(key, s)
	}
}

// ttl is how long the run's records live: past the end of any run, so
// that expiry never looks like a lost write, yet a run that was
// interrupted before its cleanup leaves nothing behind for long.
func (c *client) ttl() *durationpb.Duration {
	return durationpb.New(c.cfg.Duration + time.Hour)
}

func (c *client) storeWrite(ctx context.Context) error {
	key := c.key()
	seq := c.store.Next(key)
	_, err := c.t.Store.Write(ctx, &storev1.WriteRequest{
		Table:  Table,
		Record: &storev1.Record{Key: key, Value: encodeSeq(seq)},
		Ttl:    c.ttl(),
	})
	settle(c.store, key, Written(seq), err)
	return err
}

// storeDelete deletes a key. NotFound is an answer, not a failure: the key
// was absent, which the ledger judges like a read.
func (c *client) storeDelete(ctx context.Context) error {
	key := c.key()
	c.store.Next(key)
	_, err := c.t.Store.Delete(ctx, &storev1.DeleteRequest{Table: Table, Key: key})
	if status.Code(err) == codes.NotFound {
		c.store.Observe(key, Absent)
		err = nil
	}
	settle(c.store, key, Absent, err)
	return err
}

func (c *client) storeRead(ctx context.Context) error {
	key := c.key()
	resp, err := c.t.Store.Read(ctx, &storev1.ReadRequest{Table: Table, Key: key})
	switch {
	case status.Code(err) == codes.NotFound:
		c.store.Observe(key, Absent)
		return nil
	case err != nil:
		return err
	}
	for _, r := range resp.GetRecords() {
		c.store.Observe(key, Written(decodeSeq(r.GetValue())))
	}
	return nil
}

// storeList lists the client's keys and checks which exist.
func (c *client) storeList(ctx context.Context) error {
	resp, err := c.t.Store.List(ctx, &storev1.ListRequest{Table: Table, Prefix: c.prefix, Limit: uint32(len(c.keys))})
	if err != nil {
		return err
	}
	listed := make(map[string]bool, len(resp.GetKeys()))
	for _, k := range resp.GetKeys() {
		listed[k] = true
	}
	for _, k := range c.keys {
		c.store.ObservePresence(k, listed[k])
	}
	return nil
}

func (c *client) configSet(ctx context.Context) error {
	seq := c.config.Next(c.path)
	_, err := c.t.Config.Set(ctx, &configv1.SetRequest{Path: c.path, Value: strconv.FormatUint(seq, 10)})
	settle(c.config, c.path, Written(seq), err)
	return err
}

func (c *client) configGet(ctx context.Context) error {
	resp, err := c.t.Config.Get(ctx, &configv1.GetRequest{Path: c.path})
	switch {
	case status.Code(err) == codes.NotFound:
		c.config.Observe(c.path, Absent)
		return nil
	case err != nil:
		return err
	}
	c.config.Observe(c.path, Written(decodeSeq([]byte(resp.GetValue()))))
	return nil
}

// encodeSeq is the value the write with sequence number seq stores.
func encodeSeq(seq uint64) []byte {
	return strconv.AppendUint(nil, seq, 10)
}

// decodeSeq returns the sequence number a value carries, or 0, which no
// write uses, for a value the bench did not write.
func decodeSeq(v []byte) uint64 {
	seq, err := strconv.ParseUint(string(v), 10, 64)
	if err != nil {
		return 0
	}
	return seq
}
