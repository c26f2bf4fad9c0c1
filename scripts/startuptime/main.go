// Command startuptime reports how long a command takes from exec to exit,
// over many runs: wall time and the CPU time (user + system) the process
// used, as the median, the 10th and 90th percentiles and the range. On a
// shared machine the CPU time is the steadier of the two. Then it runs the
// command once with GODEBUG=inittrace=1 and lists the packages whose init
// costs the most, averaged over several runs. With -vs it also times
// another binary with the same arguments, run for run in turn with the
// first, so that both meet the same noise of a shared machine.
//
// It is a report for people, never a test. Run it outside the workspace,
// as scripts/startup-time.sh does:
//
//	GOWORK=off go run scripts/startuptime/main.go [-n 200] [-trace 20] [-vs OTHER] bin/micro env
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	runs := flag.Int("n", 200, "timed runs")
	traces := flag.Int("trace", 20, "runs with GODEBUG=inittrace=1 to average")
	top := flag.Int("top", 15, "packages to list")
	vs := flag.String("vs", "", "another binary to time in turn with the same arguments")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: startuptime [-n RUNS] [-trace RUNS] [-top N] [-vs OTHER] COMMAND [ARG...]")
		os.Exit(2)
	}
	commands := [][]string{flag.Args()}
	if *vs != "" {
		commands = append(commands, append([]string{*vs}, flag.Args()[1:]...))
	}
	if err := report(commands, *runs, *traces, *top); err != nil {
		fmt.Fprintln(os.Stderr, "startuptime:", err)
		os.Exit(1)
	}
}

// timings are one command's wall and CPU times.
type timings struct{ wall, cpu []time.Duration }

func report(commands [][]string, runs, traces, top int) error {
	for _, args := range commands {
		if _, _, err := run(args, nil); err != nil { // warms the page cache
			return err
		}
	}
	times := make([]timings, len(commands))
	for range runs {
		for i, args := range commands {
			w, c, err := run(args, nil)
			if err != nil {
				return err
			}
			times[i].wall, times[i].cpu = append(times[i].wall, w), append(times[i].cpu, c)
		}
	}
	for i, args := range commands {
		fmt.Printf("%s over %d runs\n", strings.Join(args, " "), runs)
		fmt.Printf("  wall: %s\n", summary(times[i].wall))
		fmt.Printf("  cpu:  %s\n", summary(times[i].cpu))
		if traces > 0 {
			if err := initReport(args, traces, top); err != nil {
				return err
			}
		}
	}
	return nil
}

// run runs args once and returns its wall time and the CPU time it used.
func run(args []string, stderr *bytes.Buffer) (time.Duration, time.Duration, error) {
	cmd := exec.Command(args[0], args[1:]...)
	if stderr != nil {
		cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1")
		cmd.Stderr = stderr
	}
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return 0, 0, fmt.Errorf("%s: %w", strings.Join(args, " "), err)
	}
	wall := time.Since(start)
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	return wall, cpu, nil
}

// summary gives the median, p10, p90 and range of ds in milliseconds.
func summary(ds []time.Duration) string {
	slices.Sort(ds)
	at := func(p float64) float64 { return ms(ds[min(int(p*float64(len(ds))), len(ds)-1)]) }
	return fmt.Sprintf("median %.1f ms, p10 %.1f, p90 %.1f, range %.1f-%.1f ms",
		at(0.5), at(0.1), at(0.9), ms(ds[0]), ms(ds[len(ds)-1]))
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// pkgInit is what inittrace reported for one package, summed over runs.
type pkgInit struct {
	name   string
	ms     float64
	bytes  int
	allocs int
}

// initReport averages inittrace over runs and prints the costliest
// packages and the total.
func initReport(args []string, runs, top int) error {
	sums := map[string]*pkgInit{}
	for range runs {
		var stderr bytes.Buffer
		if _, _, err := run(args, &stderr); err != nil {
			return err
		}
		parseTrace(&stderr, sums)
	}
	var all []*pkgInit
	var total pkgInit
	for _, p := range sums {
		all = append(all, p)
		total.ms, total.bytes, total.allocs = total.ms+p.ms, total.bytes+p.bytes, total.allocs+p.allocs
	}
	slices.SortFunc(all, func(a, b *pkgInit) int { return int((b.ms - a.ms) * 1e6) })
	n := float64(runs)
	fmt.Printf("  init (inittrace, mean of %d runs): %.2f ms, %d bytes, %d allocs in %d packages\n",
		runs, total.ms/n, total.bytes/runs, total.allocs/runs, len(all))
	for _, p := range all[:min(top, len(all))] {
		fmt.Printf("    %6.3f ms %8d B %6d allocs  %s\n", p.ms/n, p.bytes/runs, p.allocs/runs, p.name)
	}
	return nil
}

// parseTrace adds the lines "init PKG @T ms, CLOCK ms clock, BYTES bytes,
// ALLOCS allocs" of one run to sums.
func parseTrace(stderr *bytes.Buffer, sums map[string]*pkgInit) {
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 10 || f[0] != "init" {
			continue
		}
		p, ok := sums[f[1]]
		if !ok {
			p = &pkgInit{name: f[1]}
			sums[f[1]] = p
		}
		clock, _ := strconv.ParseFloat(f[4], 64)
		b, _ := strconv.Atoi(f[7])
		a, _ := strconv.Atoi(f[9])
		p.ms, p.bytes, p.allocs = p.ms+clock, p.bytes+b, p.allocs+a
	}
}
