#pragma once
// Every line the gateway's logger writes while a LogCapture lives (the logger is process-wide).

#include <cstdio>
#include <string>

#include "gateway/log.hpp"

namespace keygate::testing {

class LogCapture {
 public:
  LogCapture() : file_(std::tmpfile()) { gateway::Logger::instance().set_output(file_); }
  ~LogCapture() {
    gateway::Logger::instance().flush();
    gateway::Logger::instance().set_output(stderr);
    std::fclose(file_);
  }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;

  std::string text() {
    gateway::Logger::instance().flush();
    std::fflush(file_);
    std::rewind(file_);
    std::string out;
    char buf[4096];
    while (std::size_t n = std::fread(buf, 1, sizeof buf, file_)) {
      out.append(buf, n);
    }
    return out;
  }

 private:
  std::FILE* file_;
};

}  // namespace keygate::testing
