package supervise

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// DefaultMemoryPoll is how often the watchdog measures an instance.
const DefaultMemoryPoll = time.Second

// signaller is the part of a process the watchdog needs.
type signaller interface {
	Pid() int
	Signal(syscall.Signal) error
	Done() <-chan struct{}
}

// watchMemory polls the resident memory of p's process group every poll
// and, the first time it is over limit() bytes, kills the group and
// returns the OOM reason. A limit of 0 is none. It returns "" when the
// process ends first.
func watchMemory(p signaller, limit func() int64, poll time.Duration) string {
	tick := time.NewTicker(poll)
	defer tick.Stop()
	for {
		select {
		case <-p.Done():
			return ""
		case <-tick.C:
		}
		lim := limit()
		if lim <= 0 {
			continue
		}
		if rss := GroupRSS(p.Pid()); rss > lim {
			p.Signal(syscall.SIGKILL)
			return fmt.Sprintf("OOM: memory use %d MiB went over the %d MiB limit", rss>>20, lim>>20)
		}
	}
}

// GroupRSS returns the resident memory, in bytes, of the processes in
// process group pgid: the sum of VmRSS over /proc. Pages shared between
// members are counted once per member, which errs on the side of the
// limit. Processes that vanish while it reads are skipped.
func GroupRSS(pgid int) int64 {
	entries, _ := os.ReadDir("/proc")
	var total int64
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || processGroup(pid) != pgid {
			continue
		}
		total += vmRSS(pid)
	}
	return total
}

// processGroup returns pid's process group, or -1.
func processGroup(pid int) int {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return -1
	}
	// The command name may hold spaces; fields resume after the last ')'
	// with the state, then ppid, then pgrp.
	fields := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
	if len(fields) < 3 {
		return -1
	}
	pgrp, err := strconv.Atoi(fields[2])
	if err != nil {
		return -1
	}
	return pgrp
}

// vmRSS returns pid's resident set size in bytes, or 0.
func vmRSS(pid int) int64 {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}
