package sandbox_test

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"m3o.dev/services/runtime/local/sandbox"
)

// startScript starts /bin/sh -c script in the sandbox.
func startScript(t *testing.T, s *sandbox.Sandbox, n *sandbox.Namespace, name, script string) *sandbox.Process {
	t.Helper()
	var stderr bytes.Buffer
	p, err := s.Start(sandbox.Spec{Namespace: n, Name: name, Path: "/bin/sh", Args: []string{"-c", script}, Stderr: &stderr})
	if err != nil {
		t.Fatalf("Start(%q) = %v", script, err)
	}
	t.Cleanup(func() { p.Stop(0) })
	return p
}

func TestStopEscalatesToSIGKILLForTheGroup(t *testing.T) {
	s := newSandbox(t)
	n := namespace(t, s, "stop-test")
	home := filepath.Join(n.Dir, "home", "stubborn")
	p := startScript(t, s, n, "stubborn", `trap 'echo term > $HOME/got-term' TERM; sleep 1000 & echo $! > $HOME/child; while :; do sleep 0.05; done`)
	child := waitPidFile(t, filepath.Join(home, "child"))
	p.Stop(300 * time.Millisecond)
	state, _ := p.Wait()
	ws := state.Sys().(syscall.WaitStatus)
	if !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("leader ended with %v, want SIGKILL after the grace period", state)
	}
	if data, _ := os.ReadFile(filepath.Join(home, "got-term")); !strings.Contains(string(data), "term") {
		t.Fatalf("the leader never saw SIGTERM before SIGKILL")
	}
	waitGone(t, child, "the group's background child")
}

func TestStopEndsAWillingProcessWithSIGTERM(t *testing.T) {
	s := newSandbox(t)
	n := namespace(t, s, "stop-test")
	p := startScript(t, s, n, "willing", `exec sleep 1000`)
	p.Stop(time.Minute)
	state, _ := p.Wait()
	if ws := state.Sys().(syscall.WaitStatus); !ws.Signaled() || ws.Signal() != syscall.SIGTERM {
		t.Fatalf("leader ended with %v, want SIGTERM", state)
	}
	if err := p.Signal(syscall.SIGTERM); err != os.ErrProcessDone {
		t.Fatalf("Signal() after exit = %v, want os.ErrProcessDone", err)
	}
}

func TestLeftoverChildrenDieWithTheLeader(t *testing.T) {
	s := newSandbox(t)
	n := namespace(t, s, "leftovers")
	p := startScript(t, s, n, "forker", `sleep 1000 & echo $! > $HOME/child`)
	p.Wait()
	child := waitPidFile(t, filepath.Join(n.Dir, "home", "forker", "child"))
	waitGone(t, child, "the background child of an exited leader")
}

func TestPidFileLivesWithTheProcess(t *testing.T) {
	s := newSandbox(t)
	n := namespace(t, s, "pidfile-ns")
	p := startScript(t, s, n, "sleeper", `exec sleep 1000`)
	pidFile := filepath.Join(s.Dir(), "run", "pidfile-ns.sleeper.pid")
	data, err := os.ReadFile(pidFile)
	if err != nil || !strings.HasPrefix(string(data), fmt.Sprintf("pgid=%d ", p.Pid())) {
		t.Fatalf("pid file = %q, %v, want it to record group %d", data, err, p.Pid())
	}
	p.Stop(time.Minute)
	if _, err := os.Stat(pidFile); !os.IsNotExist(err) {
		t.Fatalf("Stat(pid file) after Stop = %v, want it removed", err)
	}
}

// helperParent is the body of the helper process: it starts a sandboxed
// shell that forks a grandchild, prints the shell's pid, and waits to be
// killed.
func helperParent(dir string) int {
	s, err := sandbox.New(sandbox.Config{Dir: dir})
	if err == nil {
		var n *sandbox.Namespace
		if n, err = s.Namespace("orphan-ns"); err == nil {
			var p *sandbox.Process
			p, err = s.Start(sandbox.Spec{Namespace: n, Name: "orphan", Path: "/bin/sh",
				Args: []string{"-c", "sleep 1000 & echo $! > $HOME/grandchild; wait"}})
			if err == nil {
				fmt.Println(p.Pid())
				select {}
			}
		}
	}
	fmt.Fprintln(os.Stderr, err)
	return 1
}

func TestParentKilledLeavesNoChild(t *testing.T) {
	dir := sharedDir(t) + "/runtime"
	parent := exec.Command(os.Args[0], "-test.run=^$")
	parent.Env = append(os.Environ(), helperEnv+"="+dir)
	parent.Stderr = os.Stderr
	out, err := parent.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := parent.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { parent.Process.Kill(); parent.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	child, perr := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || perr != nil {
		t.Fatalf("helper printed %q, %v, want the child's pid", line, err)
	}
	grandchild := waitPidFile(t, filepath.Join(dir, "ns", "orphan-ns", "home", "orphan", "grandchild"))
	if err := parent.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitGone(t, child, "the sandboxed child of a kill -9'd parent")

	// Pdeathsig reaches only the direct child; its own children are what
	// KillOrphans is for.
	if !alive(grandchild) {
		t.Fatalf("grandchild %d died before KillOrphans, so this test proves nothing about it", grandchild)
	}
	killed, err := sandbox.KillOrphans(dir)
	if err != nil || killed != 1 {
		t.Fatalf("KillOrphans() = %d, %v, want 1 group killed", killed, err)
	}
	waitGone(t, grandchild, "the grandchild after KillOrphans")
	if files, _ := filepath.Glob(filepath.Join(dir, "run", "*.pid")); len(files) != 0 {
		t.Fatalf("pid files left after KillOrphans: %v", files)
	}
}

func TestKillOrphansSparesAReusedGroupID(t *testing.T) {
	dir := sharedDir(t) + "/runtime"
	if _, err := sandbox.New(sandbox.Config{Dir: dir}); err != nil {
		t.Fatal(err)
	}
	stranger := exec.Command("/bin/sleep", "1000")
	stranger.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := stranger.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stranger.Process.Kill(); stranger.Wait() })
	boot, _ := os.ReadFile("/proc/sys/kernel/random/boot_id")
	line := fmt.Sprintf("pgid=%d start=1 uid=%d boot=%s\n", stranger.Process.Pid, os.Geteuid(), strings.TrimSpace(string(boot)))
	if err := os.WriteFile(filepath.Join(dir, "run", "old.x.pid"), []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	if killed, err := sandbox.KillOrphans(dir); killed != 0 || err != nil {
		t.Fatalf("KillOrphans() = %d, %v, want 0: the live group started after the recorded one", killed, err)
	}
	if !alive(stranger.Process.Pid) {
		t.Fatalf("KillOrphans killed an unrelated process group")
	}
}
