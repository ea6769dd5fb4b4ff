// Command acremu is a local, offline emulator of Azure Container Registry
// with an enforcing network firewall: registries served with the Docker/OCI
// API, managed through a mock Azure Resource Manager API.
package main

import (
	"fmt"
	"os"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const mainUsage = `acremu — Azure Container Registry emulator whose firewall really enforces.

Usage:
  acremu serve [flags]      run registries, the ARM API and the token endpoints
  acremu az-login [flags]   print shell lines that point the Azure CLI at a running acremu
  acremu healthcheck        exit 0 when a running acremu is healthy (for container healthchecks)
  acremu version            print the version

Run 'acremu serve --help' for the server's flags.
`

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, mainUsage)
		return 2
	}
	switch args[0] {
	case "serve":
		return serve(args[1:])
	case "az-login":
		return azLogin(args[1:])
	case "healthcheck":
		return healthcheck(args[1:])
	case "version", "--version":
		fmt.Println("acremu", version)
		return 0
	case "-h", "--help", "help":
		fmt.Print(mainUsage)
		fs, _ := serveFlags()
		fmt.Println()
		fs.SetOutput(os.Stdout)
		fs.Usage()
		return 0
	default:
		fmt.Fprintf(os.Stderr, "acremu: unknown command %q\n\n%s", args[0], mainUsage)
		return 2
	}
}
