// Command pulumi-language-python is a minimal Python language host for the
// offline end-to-end harness. It serves the engine's LanguageRuntime RPCs that
// `pulumi up`, `preview` and `destroy` need and runs the program through the
// SDK's own pulumi-language-python-exec script, found beside this binary.
//
// The harness builds it because the upstream host's Go module is not served by
// the module proxy reachable here. It does not install dependencies, report
// required plugins (the kubernetes provider is found on PATH instead) or
// support toolchains other than a plain virtualenv; once the upstream module
// can be fetched, build that instead and delete this directory.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
)

// version is stamped at build time with the Pulumi SDK version it speaks.
var version = "0.0.0-dev"

// userMessageExitCode is what the exec script exits with after it has already
// shown the user an actionable message.
const userMessageExitCode = 32

func main() {
	if len(os.Args) > 1 && os.Args[1] == "--version" {
		fmt.Println(version)
		return
	}

	execScript, err := findExecScript()
	if err != nil {
		fail(err)
	}
	engineAddress := ""
	for _, arg := range os.Args[1:] {
		if arg != "" && arg[0] != '-' {
			engineAddress = arg
			break
		}
	}

	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Init: func(srv *grpc.Server) error {
			host := &languageHost{execScript: execScript, engineAddress: engineAddress}
			pulumirpc.RegisterLanguageRuntimeServer(srv, host)
			return nil
		},
	})
	if err != nil {
		fail(fmt.Errorf("could not start the language host: %w", err))
	}

	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		fail(fmt.Errorf("language host stopped serving: %w", err))
	}
}

// languageHost implements the LanguageRuntime service; unimplemented calls
// answer Unimplemented, which the engine treats as an older host.
type languageHost struct {
	pulumirpc.UnimplementedLanguageRuntimeServer

	execScript    string
	engineAddress string
}

func (h *languageHost) Handshake(
	_ context.Context, req *pulumirpc.LanguageHandshakeRequest,
) (*pulumirpc.LanguageHandshakeResponse, error) {
	if req.GetEngineAddress() != "" {
		h.engineAddress = req.GetEngineAddress()
	}

	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *languageHost) GetPluginInfo(
	context.Context, *emptypb.Empty,
) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version}, nil
}

func (h *languageHost) GetRequiredPlugins(
	context.Context, *pulumirpc.GetRequiredPluginsRequest,
) (*pulumirpc.GetRequiredPluginsResponse, error) {
	return &pulumirpc.GetRequiredPluginsResponse{}, nil
}

func (h *languageHost) GetRequiredPackages(
	context.Context, *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	return &pulumirpc.GetRequiredPackagesResponse{}, nil
}

func (h *languageHost) Run(
	ctx context.Context, req *pulumirpc.RunRequest,
) (*pulumirpc.RunResponse, error) {
	info := req.GetInfo()
	rootDir := info.GetRootDirectory()
	python, venv := pythonFor(rootDir, info.GetOptions().AsMap())

	// The exec script expects an object and a list, never null.
	config := req.GetConfig()
	if config == nil {
		config = map[string]string{}
	}
	secretKeys := req.GetConfigSecretKeys()
	if secretKeys == nil {
		secretKeys = []string{}
	}
	configJSON, err := json.Marshal(config)
	if err != nil {
		return nil, fmt.Errorf("cannot encode the stack configuration: %w", err)
	}
	secretKeysJSON, err := json.Marshal(secretKeys)
	if err != nil {
		return nil, fmt.Errorf("cannot encode the secret configuration keys: %w", err)
	}

	cmd := exec.CommandContext(ctx, python, append([]string{"-u", h.execScript}, h.runArgs(req)...)...)
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stderr
	cmd.Env = append(os.Environ(),
		"PULUMI_CONFIG="+string(configJSON),
		"PULUMI_CONFIG_SECRET_KEYS="+string(secretKeysJSON),
		"PYTHONUNBUFFERED=1",
	)
	if venv != "" {
		cmd.Env = append(cmd.Env,
			"VIRTUAL_ENV="+venv,
			"PATH="+filepath.Join(venv, "bin")+string(os.PathListSeparator)+os.Getenv("PATH"),
		)
	}

	err = cmd.Run()
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return &pulumirpc.RunResponse{}, nil
	case errors.As(err, &exitErr) && exitErr.ExitCode() == userMessageExitCode:
		return &pulumirpc.RunResponse{Bail: true}, nil
	case errors.As(err, &exitErr):
		return &pulumirpc.RunResponse{
			Error: "Program exited with non-zero exit code: " + strconv.Itoa(exitErr.ExitCode()),
		}, nil
	default:
		return &pulumirpc.RunResponse{Error: "could not run " + python + ": " + err.Error()}, nil
	}
}

func (h *languageHost) About(
	context.Context, *pulumirpc.AboutRequest,
) (*pulumirpc.AboutResponse, error) {
	return &pulumirpc.AboutResponse{Executable: "python3", Version: ""}, nil
}

func (h *languageHost) GetProgramDependencies(
	context.Context, *pulumirpc.GetProgramDependenciesRequest,
) (*pulumirpc.GetProgramDependenciesResponse, error) {
	return &pulumirpc.GetProgramDependenciesResponse{}, nil
}

// runArgs is the exec script's command line for one RunRequest.
func (h *languageHost) runArgs(req *pulumirpc.RunRequest) []string {
	var args []string
	add := func(flag, value string) {
		if value != "" {
			args = append(args, "--"+flag, value)
		}
	}

	add("monitor", req.GetMonitorAddress())
	add("engine", h.engineAddress)
	add("project", req.GetProject())
	add("stack", req.GetStack())
	add("pwd", req.GetPwd())
	add("root_directory", req.GetInfo().GetRootDirectory())
	add("organization", req.GetOrganization())
	add("dry_run", strconv.FormatBool(req.GetDryRun()))
	add("parallel", strconv.Itoa(int(req.GetParallel())))

	program := req.GetInfo().GetEntryPoint()
	if program == "" {
		program = req.GetProgram()
	}
	if program == "" {
		program = "."
	}
	if dir := req.GetInfo().GetProgramDirectory(); dir != "" && !filepath.IsAbs(program) {
		program = filepath.Join(dir, program)
	}

	return append(append(args, program), req.GetArgs()...)
}

// pythonFor picks the interpreter: the project's virtualenv option when set
// (relative paths are from the project root), else python3 from PATH.
func pythonFor(rootDir string, options map[string]any) (python, venv string) {
	venv, _ = options["virtualenv"].(string)
	if venv == "" {
		return "python3", ""
	}
	if !filepath.IsAbs(venv) {
		venv = filepath.Join(rootDir, venv)
	}

	return filepath.Join(venv, "bin", "python"), venv
}

// findExecScript locates pulumi-language-python-exec beside this binary,
// falling back to PATH.
func findExecScript() (string, error) {
	const name = "pulumi-language-python-exec"
	if self, err := os.Executable(); err == nil {
		candidate := filepath.Join(filepath.Dir(self), name)
		if _, err := os.Stat(candidate); err == nil {
			return candidate, nil
		}
	}
	path, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("cannot find %s beside the language host or on PATH", name)
	}

	return path, nil
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "pulumi-language-python:", err)
	os.Exit(1)
}
