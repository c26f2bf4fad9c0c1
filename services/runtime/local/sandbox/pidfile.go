package sandbox

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// A pid file records one running process group in one line:
//
//	pgid=4242 start=123456 uid=200000 boot=<kernel boot id>
//
// start is the leader's start time in clock ticks since boot (field 22 of
// /proc/<pid>/stat). With the boot id, it tells the group a crashed server
// left from an unrelated one that reuses its id.
type pidRecord struct {
	pgid  int
	start uint64
	uid   int
	boot  string
}

// writePidFile records the group led by pid.
func writePidFile(path string, pid, uid int) error {
	start, _, _, err := procStat(pid)
	if err != nil {
		return err
	}
	line := fmt.Sprintf("pgid=%d start=%d uid=%d boot=%s\n", pid, start, uid, bootID())
	return os.WriteFile(path, []byte(line), 0o600)
}

// KillOrphans kills the process groups recorded under dir (a sandbox's
// Config.Dir) that are still alive, and removes their pid files. A server
// calls it when it starts, before starting anything, to clean up after a
// predecessor that was killed (kill -9, a crash) before it could stop its
// processes: Pdeathsig took the leaders, but their children may live on.
// It returns how many groups it killed.
func KillOrphans(dir string) (int, error) {
	files, err := filepath.Glob(filepath.Join(dir, "run", "*.pid"))
	if err != nil {
		return 0, err
	}
	killed := 0
	var errs []error
	for _, f := range files {
		ok, err := killRecorded(f)
		if ok {
			killed++
		}
		if err != nil {
			errs = append(errs, err)
		} else if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return killed, errors.Join(errs...)
}

// killRecorded kills the group in one pid file when it is provably the
// one recorded, and reports whether it signalled it.
func killRecorded(file string) (bool, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return false, err
	}
	rec, err := parsePidRecord(string(data))
	if err != nil {
		return false, fmt.Errorf("%s: %w", file, err)
	}
	if rec.boot != bootID() || !rec.sameGroup() {
		return false, nil
	}
	if err := syscall.Kill(-rec.pgid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return false, fmt.Errorf("kill group %d: %w", rec.pgid, err)
	}
	return true, nil
}

// parsePidRecord reads a pid file's line.
func parsePidRecord(line string) (pidRecord, error) {
	var r pidRecord
	var err error
	for _, field := range strings.Fields(line) {
		k, v, _ := strings.Cut(field, "=")
		switch k {
		case "pgid":
			r.pgid, err = strconv.Atoi(v)
		case "start":
			r.start, err = strconv.ParseUint(v, 10, 64)
		case "uid":
			r.uid, err = strconv.Atoi(v)
		case "boot":
			r.boot = v
		}
		if err != nil {
			return r, fmt.Errorf("bad pid file field %q", field)
		}
	}
	if r.pgid <= 1 || r.boot == "" {
		return r, fmt.Errorf("bad pid file %q", strings.TrimSpace(line))
	}
	return r, nil
}

// sameGroup reports whether the live group with the recorded id is the
// recorded one: its leader, if alive, started at the recorded time, and
// every member runs as the recorded uid and started no earlier.
func (r pidRecord) sameGroup() bool {
	members := 0
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		start, pgrp, uid, err := procStat(pid)
		if err != nil || pgrp != r.pgid {
			continue
		}
		if uid != r.uid || start < r.start || pid == r.pgid && start != r.start {
			return false
		}
		members++
	}
	return members > 0
}

// procStat returns a process's start time, process group and real uid.
func procStat(pid int) (start uint64, pgrp, uid int, err error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, 0, err
	}
	// The command name may hold spaces and parentheses; fields resume
	// after the last ')'. Field 3 (state) is then at index 0.
	i := bytes.LastIndexByte(data, ')')
	fields := strings.Fields(string(data[i+1:]))
	if i < 0 || len(fields) < 20 {
		return 0, 0, 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	pgrp, _ = strconv.Atoi(fields[2])
	start, _ = strconv.ParseUint(fields[19], 10, 64)
	var st syscall.Stat_t
	if err := syscall.Stat(fmt.Sprintf("/proc/%d", pid), &st); err != nil {
		return 0, 0, 0, err
	}
	return start, pgrp, int(st.Uid), nil
}

// bootID returns the kernel's id for this boot.
func bootID() string {
	data, _ := os.ReadFile("/proc/sys/kernel/random/boot_id")
	return strings.TrimSpace(string(data))
}
