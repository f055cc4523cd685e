#include "integration/process.hpp"

#include <arpa/inet.h>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <netinet/in.h>
#include <poll.h>
#include <sstream>
#include <stdexcept>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace topupd::testing {

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "topupd-test-XXXXXX").string();
  if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

TempDir::~TempDir() {
  // TOPUPD_TEST_KEEP=1 keeps every test's files (logs, stores) to read after a failure.
  if (const char* keep = std::getenv("TOPUPD_TEST_KEEP"); keep && *keep && std::string(keep) != "0") {
    std::fprintf(stderr, "kept %s\n", path_.c_str());
    return;
  }
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

void TempDir::write(const std::string& name, const std::string& content) const {
  // Write then rename, so a reloading daemon never reads half a file.
  const std::string tmp = file(name + ".tmp");
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << content;
  }
  std::filesystem::rename(tmp, file(name));
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

namespace {

pid_t spawn(const std::vector<std::string>& argv, const std::map<std::string, std::string>& extra_env,
            const std::string& log_path, const std::string& stdin_path, std::optional<unsigned long> max_file_bytes) {
  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e) {
    const std::string entry(*e);
    const auto name = entry.substr(0, entry.find('='));
    if (!extra_env.count(name)) env_strings.push_back(entry);
  }
  for (const auto& [name, value] : extra_env) env_strings.push_back(name + "=" + value);
  std::vector<char*> envp;
  for (auto& entry : env_strings) envp.push_back(entry.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = argv;
  std::vector<char*> argp;
  for (auto& arg : args) argp.push_back(arg.data());
  argp.push_back(nullptr);

  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    const int in = open(stdin_path.c_str(), O_RDONLY);
    const int out = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (in < 0 || out < 0) _exit(126);
    dup2(in, 0);
    dup2(out, 1);
    dup2(out, 2);
    // Nothing else of the test's: its peers' listening sockets and connections would
    // otherwise live on in the child and count among the child's descriptors.
    close_range(3, ~0U, 0);
    if (max_file_bytes) {
      const rlimit limit{*max_file_bytes, *max_file_bytes};
      setrlimit(RLIMIT_FSIZE, &limit);
      signal(SIGXFSZ, SIG_IGN);  // an ignored signal stays ignored across execve
    }
    execve(argp[0], argp.data(), envp.data());
    _exit(127);
  }
  return pid;
}

int decode(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

Process::Process(const std::vector<std::string>& argv, const std::map<std::string, std::string>& extra_env,
                 const std::string& log_path, const std::string& stdin_path, std::optional<unsigned long> max_file_bytes)
    : pid_(spawn(argv, extra_env, log_path, stdin_path, max_file_bytes)) {}

Process::~Process() {
  if (!status_ && pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
  }
}

void Process::signal(int number) const { ::kill(pid_, number); }

std::optional<int> Process::wait(std::chrono::milliseconds timeout) {
  if (status_) return status_;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    int status = 0;
    const pid_t done = waitpid(pid_, &status, WNOHANG);
    if (done == pid_) {
      status_ = decode(status);
      return status_;
    }
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    struct timespec pause {0, 10'000'000};
    nanosleep(&pause, nullptr);
  }
}

bool Process::running() { return !wait(std::chrono::milliseconds(0)).has_value(); }

CommandResult run_command(const std::vector<std::string>& argv, const std::string& stdin_path,
                          const std::map<std::string, std::string>& extra_env, std::chrono::seconds timeout) {
  TempDir dir;
  const std::string log = dir.file("output");
  Process process(argv, extra_env, log, stdin_path);
  const auto status = process.wait(timeout);
  if (!status) return {-1, read_file(log) + "\n(still running after " + std::to_string(timeout.count()) + " s: killed)"};
  return {*status, read_file(log)};
}

NotifySocket::NotifySocket(const std::string& path) : path_(path) {
  fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.size() >= sizeof(address.sun_path)) throw std::runtime_error("notify socket path too long");
  std::strcpy(address.sun_path, path.c_str());
  if (bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    throw std::runtime_error(std::string("bind notify socket: ") + std::strerror(errno));
  }
}

NotifySocket::~NotifySocket() {
  if (fd_ >= 0) close(fd_);
  unlink(path_.c_str());
}

std::optional<std::string> NotifySocket::receive(std::chrono::milliseconds timeout) {
  pollfd pfd{fd_, POLLIN, 0};
  if (poll(&pfd, 1, static_cast<int>(timeout.count())) <= 0) return std::nullopt;
  char buffer[4096];
  const ssize_t n = recv(fd_, buffer, sizeof(buffer), 0);
  if (n <= 0) return std::nullopt;
  received_.emplace_back(buffer, static_cast<std::size_t>(n));
  return received_.back();
}

std::optional<std::string> NotifySocket::wait_for(const std::string& needle, std::chrono::milliseconds timeout) {
  // Messages already received but not yet matched count first, in order.
  while (consumed_ < received_.size()) {
    const std::string& message = received_[consumed_++];
    if (message.find(needle) != std::string::npos) return message;
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    auto message = receive(left);
    if (!message) return std::nullopt;
    consumed_ = received_.size();
    if (message->find(needle) != std::string::npos) return message;
  }
}

HttpResult http_get(const std::string& host, int port, const std::string& path) {
  return http_request("GET", host, port, path, "");
}

HttpResult http_request(const std::string& method, const std::string& host, int port, const std::string& path,
                        const std::string& body) {
  return http_request(method, host, port, path, body, {{"Content-Type", "application/json"}});
}

HttpResult http_request(const std::string& method, const std::string& host, int port, const std::string& path,
                        const std::string& body, const std::vector<std::pair<std::string, std::string>>& headers) {
  std::string request = method + " " + path + " HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n";
  for (const auto& [name, value] : headers) request += name + ": " + value + "\r\n";
  request += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  return http_send(host, port, request);
}

HttpResult http_send(const std::string& host, int port, const std::string& request) {
  HttpResult result;
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return result;
  timeval timeout{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  inet_pton(AF_INET, host.c_str(), &address.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    close(fd);
    return result;
  }
  // A server may answer (413) and close before reading everything: keep what it said.
  send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string response;
  char buffer[65536];
  ssize_t n = 0;
  while ((n = recv(fd, buffer, sizeof(buffer), 0)) > 0) response.append(buffer, static_cast<std::size_t>(n));
  close(fd);
  if (response.rfind("HTTP/1.1 ", 0) != 0 || response.size() < 12) return result;
  result.status = std::stoi(response.substr(9, 3));
  const auto body_start = response.find("\r\n\r\n");
  if (body_start == std::string::npos) return result;
  result.body = response.substr(body_start + 4);
  result.head = response.substr(0, body_start);
  // A chunked answer (Prometheus sends larger ones so): the chunks' data, joined.
  std::string head = response.substr(0, body_start);
  for (auto& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (head.find("\r\ntransfer-encoding: chunked") != std::string::npos) {
    std::string joined;
    std::size_t at = 0;
    while (at < result.body.size()) {
      const auto line_end = result.body.find("\r\n", at);
      if (line_end == std::string::npos) break;
      const std::size_t size = std::stoul(result.body.substr(at, line_end - at), nullptr, 16);
      if (size == 0) break;
      joined += result.body.substr(line_end + 2, size);
      at = line_end + 2 + size + 2;
    }
    result.body = std::move(joined);
  }
  return result;
}

}  // namespace topupd::testing
