// Command broken does not compile: the runtime's tests use it for a build
// that fails.
package main

func main() {
	undefinedFunction()
}
