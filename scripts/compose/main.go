// Command composevalidate loads Compose files with the official compose-spec loader (the library
// `docker compose` itself uses), so CI rejects what `docker compose config` would reject: schema errors
// (unknown keys, wrong types), bad interpolation and broken references between services. On top of that it
// checks a few things that only fail at `docker compose up` time, because no Docker engine runs in CI.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/template"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/sirupsen/logrus"
)

func main() {
	asJSON := flag.Bool("json", false, "print the resolved project as JSON on success")
	workDir := flag.String("project-directory", "", "project directory (default: the first file's folder)")
	allowUnset := flag.Bool("allow-unset", false, "allow ${VAR} references without a default and not set in the environment")
	var envFiles stringList
	flag.Var(&envFiles, "env-file", "env file for interpolation, as `docker compose --env-file` (repeatable; default: .env in the project directory)")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: composevalidate [-json] [-allow-unset] [-project-directory DIR] [-env-file FILE]... compose.yml [override.yml...]\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	// The loader reports unset variables as warnings on logrus; we report them ourselves as errors.
	logrus.SetOutput(io.Discard)

	project, problems, err := validate(context.Background(), flag.Args(), *workDir, envFiles, !*allowUnset)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %s\n", strings.Join(flag.Args(), ", "), explain(err))
		os.Exit(1)
	}
	if len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintf(os.Stderr, "%s: %s\n", strings.Join(flag.Args(), ", "), p)
		}
		os.Exit(1)
	}
	if *asJSON {
		out, err := json.MarshalIndent(project, "", "  ")
		if err != nil {
			fmt.Fprintf(os.Stderr, "cannot encode project: %v\n", err)
			os.Exit(1)
		}
		fmt.Println(string(out))
		return
	}
	fmt.Printf("ok: %d services: %s\n", len(project.Services), strings.Join(project.ServiceNames(), ", "))
}

// The schema library reports a key that additionalProperties forbids as "<path>.<key> false schema";
// say it in words a person fixing a typo recognises.
var falseSchema = regexp.MustCompile(`(?m)^(.*?)([^\s:]+)\.([^.\s]+) false schema$`)

func explain(err error) string {
	return falseSchema.ReplaceAllString(err.Error(), `${1}${2}: unknown key "${3}" (not allowed by the compose spec)`)
}

// validate returns the loaded project, semantic problems the loader does not catch, or the loader's error.
func validate(ctx context.Context, files []string, workDir string, envFiles []string, strictEnv bool) (*types.Project, []string, error) {
	options, err := cli.NewProjectOptions(files, environmentOptions(workDir, envFiles)...)
	if err != nil {
		return nil, nil, err
	}
	project, err := options.LoadProject(ctx)
	if err != nil {
		return nil, nil, err
	}

	var problems []string
	if strictEnv {
		unset, err := unsetVariables(ctx, files, workDir, envFiles, options.Environment)
		if err != nil {
			return nil, nil, err
		}
		problems = append(problems, unset...)
	}
	problems = append(problems, dependencyProblems(project)...)
	problems = append(problems, portProblems(project)...)
	return project, problems, nil
}

// environmentOptions resolves variables as `docker compose` does: the process environment first, then the
// env files (or .env in the project directory).
func environmentOptions(workDir string, envFiles []string) []cli.ProjectOptionsFn {
	var opts []cli.ProjectOptionsFn
	if workDir != "" {
		opts = append(opts, cli.WithWorkingDirectory(workDir))
	}
	return append(opts, cli.WithOsEnv, cli.WithEnvFiles(envFiles...), cli.WithDotEnv)
}

type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// unsetVariables finds ${VAR} references with neither a value nor a default: docker compose only warns and
// substitutes an empty string, which turns a typo'd variable name into a silently empty setting.
func unsetVariables(ctx context.Context, files []string, workDir string, envFiles []string, env types.Mapping) ([]string, error) {
	opts := append(environmentOptions(workDir, envFiles),
		cli.WithInterpolation(false),
		// the raw model is only read for its strings; the full load above already validated it
		cli.WithLoadOptions(func(o *loader.Options) { o.SkipValidation = true; o.SkipConsistencyCheck = true }),
	)
	options, err := cli.NewProjectOptions(files, opts...)
	if err != nil {
		return nil, err
	}
	model, err := options.LoadModel(ctx)
	if err != nil {
		return nil, err
	}
	unset := map[string]bool{}
	walkStrings(model, func(s string) {
		// one string at a time, so a guarded use elsewhere cannot hide an unguarded one here
		for name, v := range template.ExtractVariables(map[string]any{"v": s}, template.DefaultPattern) {
			if _, set := env[name]; set || v.DefaultValue != "" || v.Required || v.PresenceValue != "" {
				continue
			}
			if regexp.MustCompile(`\$\{` + regexp.QuoteMeta(name) + `:?[-+?]`).MatchString(s) {
				continue // an explicitly empty default such as ${VAR:-}
			}
			unset[name] = true
		}
	})
	var problems []string
	for name := range unset {
		problems = append(problems, fmt.Sprintf("variable %q is not set and has no default (write ${%s:-default} or ${%s:?message})", name, name, name))
	}
	sort.Strings(problems)
	return problems, nil
}

func walkStrings(value any, visit func(string)) {
	switch v := value.(type) {
	case string:
		visit(v)
	case map[string]any:
		for _, item := range v {
			walkStrings(item, visit)
		}
	case []any:
		for _, item := range v {
			walkStrings(item, visit)
		}
	}
}

// dependencyProblems catches depends_on conditions that can never be met: `service_healthy` on a service
// without a healthcheck makes `docker compose up` fail, and so does `service_completed_successfully` on a
// service that restarts forever.
func dependencyProblems(project *types.Project) []string {
	var problems []string
	for _, name := range project.ServiceNames() {
		service := project.Services[name]
		for dep, cfg := range service.DependsOn {
			target, ok := project.Services[dep]
			if !ok {
				continue // the loader already rejects unknown services; disabled ones (profiles) are fine
			}
			switch cfg.Condition {
			case types.ServiceConditionHealthy:
				if target.HealthCheck == nil || target.HealthCheck.Disable || len(target.HealthCheck.Test) == 0 {
					problems = append(problems, fmt.Sprintf("service %q waits for %q to be healthy, but %q has no healthcheck", name, dep, dep))
				}
			case types.ServiceConditionCompletedSuccessfully:
				if target.Restart == types.RestartPolicyAlways || target.Restart == types.RestartPolicyUnlessStopped {
					problems = append(problems, fmt.Sprintf("service %q waits for %q to complete, but %q has restart: %s", name, dep, dep, target.Restart))
				}
			}
		}
	}
	return problems
}

// portProblems finds two services publishing the same host port, which compose accepts and Docker refuses.
func portProblems(project *types.Project) []string {
	type key struct{ ip, port, proto string }
	owner := map[key]string{}
	var problems []string
	for _, name := range project.ServiceNames() {
		for _, p := range project.Services[name].Ports {
			if p.Published == "" {
				continue
			}
			proto := p.Protocol
			if proto == "" {
				proto = "tcp"
			}
			k := key{p.HostIP, p.Published, proto}
			if other, ok := owner[k]; ok {
				problems = append(problems, fmt.Sprintf("services %q and %q both publish host port %s/%s", other, name, p.Published, proto))
				continue
			}
			owner[k] = name
		}
	}
	return problems
}
