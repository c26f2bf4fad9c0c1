package kubernetes

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"m3o.dev/services/runtime"
)

// Logs implements runtime.Backend: the lines of every pod of the service,
// read through the API server from each pod's kubelet, merged by time,
// the instance numbered as in Status. The kubelet keeps no stream apart,
// so every line reads as stdout. Builds happen before the pods, and their
// log is not kept here.
func (b *Backend) Logs(ctx context.Context, ref runtime.Ref, opts runtime.LogOptions, send func(runtime.LogLine) error) error {
	if _, err := b.Status(ctx, ref); err != nil {
		return err
	}
	if opts.Build {
		return nil
	}
	pods, err := b.pods(ctx, ref)
	if err != nil {
		return err
	}
	if opts.Follow {
		return b.follow(ctx, ref, pods, opts, send)
	}
	var lines []runtime.LogLine
	for i, p := range pods {
		got, err := b.podLines(ctx, p, i+1, opts)
		if err != nil {
			return err
		}
		lines = append(lines, got...)
	}
	slices.SortStableFunc(lines, func(a, b runtime.LogLine) int { return a.Time.Compare(b.Time) })
	for _, l := range lines[max(0, len(lines)-opts.Count):] {
		if err := send(l); err != nil {
			return err
		}
	}
	return nil
}

// logOptions asks the kubelet for timestamps, to merge by, and for the
// last Count lines since Since.
func logOptions(opts runtime.LogOptions) *corev1.PodLogOptions {
	o := &corev1.PodLogOptions{Container: "service", Timestamps: true, Follow: opts.Follow}
	if opts.Count > 0 {
		o.TailLines = ptr.To(int64(opts.Count))
	}
	if !opts.Since.IsZero() {
		o.SinceTime = &metav1.Time{Time: opts.Since}
	}
	return o
}

// podLines reads the lines of pod p, instance n.
func (b *Backend) podLines(ctx context.Context, p corev1.Pod, n int, opts runtime.LogOptions) ([]runtime.LogLine, error) {
	var out []runtime.LogLine
	err := b.readPod(ctx, p, n, opts, func(l runtime.LogLine) error {
		out = append(out, l)
		return nil
	})
	return out, err
}

// readPod streams pod p's lines to each.
func (b *Backend) readPod(ctx context.Context, p corev1.Pod, n int, opts runtime.LogOptions, each func(runtime.LogLine) error) error {
	if p.Spec.NodeName == "" {
		return nil // not placed on a node yet: nothing ran, nothing to read
	}
	rc, err := b.c.CoreV1().Pods(p.Namespace).GetLogs(p.Name, logOptions(opts)).Stream(ctx)
	if err != nil {
		return fmt.Errorf("logs of pod %s: %w", p.Name, err)
	}
	defer rc.Close()
	sc := bufio.NewScanner(rc)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if err := each(parseLine(sc.Text(), n)); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil && !errors.Is(err, io.EOF) && ctx.Err() == nil {
		return fmt.Errorf("logs of pod %s: %w", p.Name, err)
	}
	return nil
}

// parseLine splits the kubelet's "<RFC 3339 time> <text>" line.
func parseLine(s string, n int) runtime.LogLine {
	l := runtime.LogLine{Instance: n, Stream: runtime.StreamStdout, Text: s}
	if ts, text, ok := strings.Cut(s, " "); ok {
		if t, err := time.Parse(time.RFC3339Nano, ts); err == nil {
			l.Time, l.Text = t, text
		}
	}
	return l
}

// follow streams every pod's lines as they come, until ctx ends or a
// send fails. Pods that start later are not followed.
func (b *Backend) follow(ctx context.Context, ref runtime.Ref, pods []corev1.Pod, opts runtime.LogOptions, send func(runtime.LogLine) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var mu sync.Mutex
	var sendErr error
	var wg sync.WaitGroup
	for i, p := range pods {
		wg.Go(func() {
			err := b.readPod(ctx, p, i+1, opts, func(l runtime.LogLine) error {
				mu.Lock()
				defer mu.Unlock()
				if sendErr == nil {
					sendErr = send(l)
				}
				return sendErr
			})
			if err != nil && ctx.Err() == nil {
				b.log.Debug("follow a pod's logs", "namespace", ref.Namespace, "service", ref.Name, "pod", p.Name, "error", err)
			}
		})
	}
	wg.Wait()
	return sendErr
}
