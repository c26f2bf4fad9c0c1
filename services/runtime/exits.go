package runtime

// CleanExit is how backends describe an instance whose main returned: an
// exit with no error of its own to show.
const CleanExit = "exit status 0"

// MainReturned is what the reason of an instance that keeps exiting
// cleanly adds, since its exit says nothing of what is wrong.
const MainReturned = "its main returned, and a service's main must not: Run serves until the service is stopped"

// Endings names, for an instance whose last run ended with lastExit, what
// it keeps doing, "crashing" or "exiting", and its repeated runs, "crashes"
// or "exits": a main that returned did not crash.
func Endings(lastExit string) (doing, runs string) {
	if lastExit == CleanExit {
		return "exiting", "exits"
	}
	return "crashing", "crashes"
}

// ExitNote is MainReturned, set off for the end of a reason, for an
// instance that exited cleanly; "" for any other exit.
func ExitNote(lastExit string) string {
	if lastExit == CleanExit {
		return "; " + MainReturned
	}
	return ""
}
