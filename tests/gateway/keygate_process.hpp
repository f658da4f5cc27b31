#pragma once
// The real `keygate` binary as a child process, for tests that must see what an operator sees:
// its stderr log in a file, its CLI output, its exit status. Header-only, used by the canary and
// readiness tests.

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace keygate::testing {

inline std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The child's environment: ours, with `overrides` set (an empty value removes the variable).
// Built before fork() so the child only calls async-signal-safe functions.
class ChildEnv {
 public:
  explicit ChildEnv(const std::map<std::string, std::string>& overrides) {
    for (char** e = environ; *e != nullptr; ++e) {
      std::string entry(*e);
      auto eq = entry.find('=');
      if (overrides.count(entry.substr(0, eq)) == 0) {
        entries_.push_back(entry);
      }
    }
    for (const auto& [k, v] : overrides) {
      if (!v.empty()) {
        entries_.push_back(k + "=" + v);
      }
    }
    for (auto& s : entries_) {
      pointers_.push_back(s.data());
    }
    pointers_.push_back(nullptr);
  }
  char** envp() { return pointers_.data(); }

 private:
  std::vector<std::string> entries_;
  std::vector<char*> pointers_;
};

struct Argv {
  explicit Argv(std::vector<std::string> args) : args_(std::move(args)) {
    for (auto& a : args_) {
      pointers_.push_back(a.data());
    }
    pointers_.push_back(nullptr);
  }
  char** argv() { return pointers_.data(); }

 private:
  std::vector<std::string> args_;
  std::vector<char*> pointers_;
};

// Forks and execs `args` with stdin from `stdin_path` (or /dev/null), stdout and stderr to files.
inline pid_t spawn(std::vector<std::string> args, const std::map<std::string, std::string>& env,
                   const std::string& stdin_path, const std::string& stdout_path,
                   const std::string& stderr_path) {
  Argv argv(std::move(args));
  ChildEnv child_env(env);
  const std::string in = stdin_path.empty() ? "/dev/null" : stdin_path;
  pid_t pid = fork();
  if (pid == 0) {
    int i = ::open(in.c_str(), O_RDONLY);
    int o = ::open(stdout_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int e = ::open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (i < 0 || o < 0 || e < 0) {
      _exit(126);
    }
    dup2(i, 0);
    dup2(o, 1);
    dup2(e, 2);
    execve(argv.argv()[0], argv.argv(), child_env.envp());
    _exit(127);
  }
  return pid;
}

inline int wait_exit(pid_t pid, std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
  return -1;
}

struct CliResult {
  int exit = -1;
  std::string out;
  std::string err;
};

// Runs one CLI command to completion. `input` goes to its stdin (provider keys are read there).
inline CliResult run_cli(const std::string& work_dir, std::vector<std::string> args,
                         const std::string& input = {},
                         const std::map<std::string, std::string>& env = {}) {
  static int counter = 0;
  const std::string base = work_dir + "/cli-" + std::to_string(++counter);
  std::string in_path;
  if (!input.empty()) {
    in_path = base + ".in";
    std::ofstream(in_path, std::ios::binary) << input;
  }
  args.insert(args.begin(), KEYGATE_BINARY);
  pid_t pid = spawn(std::move(args), env, in_path, base + ".out", base + ".err");
  CliResult r;
  r.exit = wait_exit(pid);
  r.out = slurp(base + ".out");
  r.err = slurp(base + ".err");
  if (!in_path.empty()) {
    ::unlink(in_path.c_str());  // the stdin file held a provider key
  }
  ::unlink((base + ".out").c_str());  // callers keep what they need from `out`
  return r;
}

// `keygate serve` in the background; its stderr log goes to `log_path`.
class ServeProcess {
 public:
  ServeProcess(const std::string& log_path, std::vector<std::string> args,
               const std::map<std::string, std::string>& env = {})
      : log_path_(log_path) {
    args.insert(args.begin(), {KEYGATE_BINARY, "serve"});
    pid_ = spawn(std::move(args), env, {}, log_path + ".stdout", log_path);
    std::regex port_re(R"("msg":"listening".*"port":(\d+))");
    for (int i = 0; i < 200 && port_ == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      std::smatch m;
      auto text = slurp(log_path_);
      if (std::regex_search(text, m, port_re)) {
        port_ = static_cast<uint16_t>(std::stoi(m[1]));
      }
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;  // exited before listening
        break;
      }
    }
  }
  ~ServeProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      int status = 0;
      waitpid(pid_, &status, 0);
    }
  }
  uint16_t port() const { return port_; }
  // SIGTERM and wait: the exit status (0 for a clean drain).
  int stop() {
    if (pid_ <= 0) {
      return -1;
    }
    kill(pid_, SIGTERM);
    int code = wait_exit(pid_);
    pid_ = -1;
    return code;
  }
  std::string log() const { return slurp(log_path_); }
  std::string stdout_text() const { return slurp(log_path_ + ".stdout"); }

 private:
  std::string log_path_;
  pid_t pid_ = -1;
  uint16_t port_ = 0;
};

inline std::string trim_line(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) {
    s.pop_back();
  }
  return s;
}

}  // namespace keygate::testing
