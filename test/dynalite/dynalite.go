// Package dynalite starts dynalite, a DynamoDB-compatible server from the
// npm registry (test/tools), for tests that need a real DynamoDB wire
// protocol. `make tools` installs it.
package dynalite

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/stintdev/stint/test/tools"
)

// Server is a running dynalite.
type Server struct {
	URL string
	cmd *exec.Cmd
}

// Start runs dynalite in memory on a free loopback port. It fails, never
// skips, when dynalite is missing: a DynamoDB test that does not run must
// not pass.
func Start() (*Server, error) {
	cli, err := cliPath()
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("node", cli, "--host", "127.0.0.1", "--port", fmt.Sprint(port),
		"--createTableMs", "0", "--deleteTableMs", "0", "--updateTableMs", "0")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("dynalite: start node %s: %w", cli, err)
	}
	ready := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "listening") {
				ready <- nil
				break
			}
		}
		ready <- fmt.Errorf("dynalite exited before listening")
	}()
	select {
	case err := <-ready:
		if err != nil {
			cmd.Process.Kill()
			return nil, err
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		return nil, fmt.Errorf("dynalite: not listening after 30s")
	}
	return &Server{URL: fmt.Sprintf("http://127.0.0.1:%d", port), cmd: cmd}, nil
}

// Stop ends the server.
func (s *Server) Stop() {
	s.cmd.Process.Kill()
	s.cmd.Wait()
}

// Client returns a DynamoDB client for the server, with static credentials.
func (s *Server) Client() *dynamodb.Client {
	return dynamodb.New(dynamodb.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(s.URL),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "test", SecretAccessKey: "test"}, nil
		}),
	})
}

// Table returns a fresh table name for tb.
func Table(tb testing.TB) string {
	tb.Helper()
	name := strings.NewReplacer("/", "-", " ", "-", ",", "", "'", "").Replace(tb.Name())
	if len(name) > 200 {
		name = name[:200]
	}
	return fmt.Sprintf("%s-%d", name, time.Now().UnixNano())
}

func cliPath() (string, error) {
	if err := tools.Need("dynalite", "dynalite"); err != nil {
		return "", err
	}
	root, err := tools.Root()
	return filepath.Join(root, "test", "tools", "node_modules", "dynalite", "cli.js"), err
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
