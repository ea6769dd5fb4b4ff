package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
)

// newCommandFlags is a subcommand's flag set: name ("acremu serve") starts
// its error messages, head its --help text.
func newCommandFlags(name, head string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = usage(fs, head)
	return fs
}

// Whether a subcommand takes arguments after its flags: serve refuses them,
// healthcheck and az-login have always ignored them.
const (
	refuseArguments = true
	ignoreArguments = false
)

// parseCommandFlags parses args into fs, then sets every flag not given
// from its environment twin. ok is false when the command must stop, with
// its exit status: 0 after --help, 2 for a usage error. Errors are printed
// to fs.Output() (stderr unless set): flag's own with the usage, the others
// after the command's name.
func parseCommandFlags(fs *flag.FlagSet, args []string, refuseArgs bool) (exitStatus int, ok bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, false
		}
		return 2, false
	}
	if refuseArgs && fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "%s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		return 2, false
	}
	if err := applyEnv(fs); err != nil {
		fmt.Fprintf(fs.Output(), "%s: %v\n", fs.Name(), err)
		return 2, false
	}
	return 0, true
}

// envName is a flag's environment twin: --data-dir → ACREMU_DATA_DIR.
func envName(flagName string) string {
	return "ACREMU_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// applyEnv sets every flag not given on the command line from its
// environment twin. Repeatable flags take a comma-separated list.
func applyEnv(fs *flag.FlagSet) error {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || err != nil {
			return
		}
		v, ok := os.LookupEnv(envName(f.Name))
		if !ok {
			return
		}
		if rf, isList := f.Value.(*listFlag); isList {
			rf.values, rf.set = nil, false
			for _, item := range strings.Split(v, ",") {
				if item = strings.TrimSpace(item); item != "" {
					rf.Set(item)
				}
			}
			rf.set = true
			return
		}
		if e := fs.Set(f.Name, v); e != nil {
			err = fmt.Errorf("%s=%q: %v", envName(f.Name), v, e)
		}
	})
	return err
}

// listFlag is a repeatable string flag. Its defaults are replaced, not
// extended, by the first value given.
type listFlag struct {
	values []string
	set    bool
}

func newListFlag(defaults ...string) *listFlag { return &listFlag{values: defaults} }

func (l *listFlag) String() string {
	if l == nil {
		return ""
	}
	return strings.Join(l.values, ",")
}

func (l *listFlag) Set(v string) error {
	if !l.set {
		l.values, l.set = nil, true
	}
	if v != "" && v != "none" {
		l.values = append(l.values, v)
	}
	return nil
}

// usage prints a flag set's flags with their environment twins.
func usage(fs *flag.FlagSet, head string) func() {
	return func() {
		w := fs.Output()
		fmt.Fprint(w, head)
		fmt.Fprintln(w, "\nFlags (each also read from its environment variable):")
		fs.VisitAll(func(f *flag.Flag) {
			name, help := flag.UnquoteUsage(f)
			line := "  --" + f.Name
			if name != "" {
				line += " " + name
			}
			fmt.Fprintf(w, "%s\n      %s", line, help)
			if f.DefValue != "" && f.DefValue != "false" {
				fmt.Fprintf(w, " (default %q)", f.DefValue)
			}
			fmt.Fprintf(w, "\n      env %s\n", envName(f.Name))
		})
	}
}
