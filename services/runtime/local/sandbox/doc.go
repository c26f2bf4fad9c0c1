// Package sandbox starts the processes of the runtime's local backend: the
// builds and instances of developers' services.
//
// # Isolation
//
// What this backend gives, said as Nomad says it for its exec and raw_exec
// drivers:
//
// When the server runs as root (Isolated reports true), each namespace
// gets a uid and gid of its own from a configured range (200000 and up by
// default, never 0), kept in a small mapping file so they survive restarts.
// Every process of the namespace runs under them with no supplementary
// groups, in a private directory (mode 0700, owned by that uid) that other
// namespaces cannot read, with a HOME and TMPDIR of its own per instance or
// build.
//
// Always, whether root or not: the environment is built from nothing (the
// server's own holds keys and passwords), each process leads a process
// group that is signalled as a whole, SIGKILL reaches it when the server
// dies (Pdeathsig), and a pid file lets a restarted server kill what a
// crashed one left behind (KillOrphans).
//
// Not provided: no chroot or mount namespace (an instance sees the host's
// world-readable files), no cgroups (memory is policed by the supervise
// package's watchdog; CPU is not limited), no network isolation (an
// instance can reach any address the server can, so every platform port
// must keep requiring mTLS), and no hiding of other processes in /proc.
//
// When the server is not root, it cannot switch uids: user code runs as the
// server's own user, can read everything the server can, and must be
// trusted. CanSwitchUsers reports this so the server can say it at start.
//
// # Directories
//
// Config.Dir is laid out as follows. Its parents must all be searchable by
// other users (mode o+x) when isolating, so it cannot live inside the
// server's data directory, which the caller must keep at mode 0700 so that
// no namespace uid can read the platform's keys.
//
//	<dir>/            0711 root   the sandbox root
//	<dir>/uids.json   0600 root   namespace → uid
//	<dir>/run/        0700 root   one pid file per running process group
//	<dir>/ns/<ns>/    0700 uid    the namespace's private tree: home/, tmp/, caches, binaries
//	<dir>/src/<ns>/   0750 root:gid  sources written by the server, readable by the namespace only
//
// The server never follows a path inside a namespace's private tree except
// through os.Root and never chowns what it did not just create there,
// because the namespace's processes can plant links in it.
package sandbox
