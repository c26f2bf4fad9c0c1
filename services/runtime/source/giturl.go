package source

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"unicode"
)

// Errors for git sources. Each is wrapped with the URL (credentials
// redacted) and the reason.
var (
	// ErrInvalidGitURL marks a git source the platform never accepts: not
	// https (or file with AllowLocal), an option-like or scp-like address,
	// a remote-helper transport, or a malformed ref.
	ErrInvalidGitURL = errors.New("the git source must be an https URL, optionally followed by @branch, @tag or @commit")
	// ErrLocalGitURL marks a file:// URL, or a host on a loopback, private or
	// link-local address, on a platform whose operator has not allowed them.
	ErrLocalGitURL = errors.New("git sources on local or private addresses are disabled on this platform")
	// ErrSubmodules marks a repository that declares submodules, which the
	// runtime never fetches.
	ErrSubmodules = errors.New("git submodules are not supported; vendor the code or use Go modules instead")
	// ErrCloneFailed marks a repository or ref that could not be fetched;
	// the wrapping error carries git's first line of complaint.
	ErrCloneFailed = errors.New("the git repository could not be fetched")
)

// ParseGitURL splits a git source into the repository URL and the ref (a
// branch, tag or commit) that follows the last "@" after the last "/". No
// such "@" means the default branch, and ref is "". So
// https://user@host/x/y@v1 names the repository https://user@host/x/y at
// v1. Branch names holding a "/" cannot be named this way.
//
// Only https and file URLs parse; whether a file URL or a local host may be
// used is Clone's decision (GitOptions.AllowLocal). Everything else, in
// particular URLs starting with "-", scp-like user@host:path addresses and
// TRANSPORT::ADDRESS remote helpers, returns an error matching
// ErrInvalidGitURL.
func ParseGitURL(s string) (string, string, error) {
	if err := checkGitSyntax(s); err != nil {
		return "", "", err
	}
	base, ref := s, ""
	slash := strings.LastIndex(s, "/")
	if at := strings.LastIndex(s[slash+1:], "@"); at >= 0 {
		base, ref = s[:slash+1+at], s[slash+1+at+1:]
		if err := checkRef(ref); err != nil {
			return "", "", badURL(s, err.Error())
		}
	}
	if _, err := parseRepoURL(base); err != nil {
		return "", "", err
	}
	return base, ref, nil
}

// checkGitSyntax refuses the forms git would read as something other than
// a plain URL.
func checkGitSyntax(s string) error {
	scheme, rest, hasScheme := strings.Cut(s, "://")
	switch {
	case s == "":
		return badURL(s, "it is empty")
	case strings.HasPrefix(s, "-"):
		return badURL(s, "it starts with '-', which git would take for an option")
	case strings.IndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
		return badURL(s, "it holds spaces or control characters")
	case strings.Contains(scheme, "::") || !hasScheme && strings.Contains(s, "::"):
		return badURL(s, "remote-helper transports (TRANSPORT::ADDRESS) are not allowed")
	case !hasScheme && strings.Contains(s, ":"):
		return badURL(s, "scp-like addresses (user@host:path) are not supported; use https://host/path")
	case !hasScheme:
		return badURL(s, "it is not a URL; use https://host/path")
	case !strings.Contains(rest, "/"):
		return badURL(s, "it names no repository path")
	}
	return nil
}

// parseRepoURL checks a repository URL without its ref.
func parseRepoURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, badURL(s, "it does not parse")
	}
	switch {
	case !strings.HasPrefix(s, u.Scheme+"://"):
		// url.Parse lowers the scheme; git would not.
		return nil, badURL(s, fmt.Sprintf("the scheme %q is not allowed; use https", s[:strings.Index(s, ":")]))
	case u.RawQuery != "" || u.Fragment != "" || u.Opaque != "":
		return nil, badURL(s, "queries and fragments are not allowed")
	case u.Scheme == "https" && u.Hostname() != "" && u.Path != "" && u.Path != "/":
		return u, nil
	case u.Scheme == "https":
		return nil, badURL(s, "an https URL needs a host and a repository path")
	case u.Scheme == "file" && (u.Host == "" || u.Host == "localhost") && strings.HasPrefix(u.Path, "/") && u.User == nil:
		return u, nil
	case u.Scheme == "file":
		return nil, badURL(s, "a file URL needs an absolute path and no host")
	}
	return nil, badURL(s, fmt.Sprintf("the scheme %q is not allowed; use https", u.Scheme))
}

// checkRef accepts the refs git accepts that this syntax can express.
func checkRef(ref string) error {
	switch {
	case ref == "":
		return errors.New("the ref after '@' is empty")
	case strings.HasPrefix(ref, "-") || strings.HasPrefix(ref, "."):
		return fmt.Errorf("the ref %q starts with '-' or '.'", ref)
	case strings.Contains(ref, "..") || strings.HasSuffix(ref, ".lock") || strings.HasSuffix(ref, "."):
		return fmt.Errorf("the ref %q is not a valid git ref", ref)
	case strings.IndexFunc(ref, func(r rune) bool { return !refChar(r) }) >= 0:
		return fmt.Errorf("the ref %q holds characters other than letters, digits and . _ - +", ref)
	}
	return nil
}

// refChar reports whether r may appear in a ref.
func refChar(r rune) bool {
	return r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("._-+", r))
}

// badURL wraps ErrInvalidGitURL with the URL, credentials redacted.
func badURL(s, why string) error {
	return fmt.Errorf("git URL %q: %s: %w", redact(s), why, ErrInvalidGitURL)
}

// redact hides a password in a URL, so that errors and logs never carry
// one.
func redact(s string) string {
	if u, err := url.Parse(s); err == nil && u.User != nil {
		return u.Redacted()
	}
	return s
}

// checkLocal refuses file URLs and hosts that resolve to this machine or a
// private network unless the operator allowed them. The address is checked
// once, before git runs; a host whose DNS answer changes between this check
// and git's connection is not caught, which is why the option exists at all
// rather than being the only defence.
func checkLocal(ctx context.Context, u *url.URL, opts GitOptions) error {
	if opts.AllowLocal {
		return nil
	}
	if u.Scheme == "file" {
		return fmt.Errorf("git URL %q: file URLs: %w", u.Redacted(), ErrLocalGitURL)
	}
	ips, err := opts.Resolver.LookupIPAddr(ctx, u.Hostname())
	if err != nil {
		return fmt.Errorf("git URL %q: resolve %q: %v: %w", u.Redacted(), u.Hostname(), err, ErrCloneFailed)
	}
	for _, ip := range ips {
		if localIP(ip.IP) {
			return fmt.Errorf("git URL %q: %s resolves to %s: %w", u.Redacted(), u.Hostname(), ip.IP, ErrLocalGitURL)
		}
	}
	return nil
}

// sharedSpace is 100.64.0.0/10, carrier-grade NAT, which is private in
// practice though net.IP.IsPrivate leaves it out.
var sharedSpace = &net.IPNet{IP: net.IPv4(100, 64, 0, 0), Mask: net.CIDRMask(10, 32)}

// localIP reports whether ip is on this machine or a non-public network.
func localIP(ip net.IP) bool {
	return ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsUnspecified() || sharedSpace.Contains(ip)
}
