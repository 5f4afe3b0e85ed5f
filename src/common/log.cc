#include "common/log.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>

namespace surge {
namespace {

LogLevel InitialLevel() {
  const char* text = std::getenv("SURGE_LOG_LEVEL");
  if (text == nullptr) return LogLevel::kInfo;
  if (std::strcmp(text, "debug") == 0) return LogLevel::kDebug;
  if (std::strcmp(text, "warning") == 0) return LogLevel::kWarning;
  if (std::strcmp(text, "error") == 0) return LogLevel::kError;
  return LogLevel::kInfo;
}

std::atomic<LogLevel>& Level() {
  static std::atomic<LogLevel> level{InitialLevel()};
  return level;
}

}  // namespace

void SetLogLevel(LogLevel level) { Level().store(level); }

void Log(LogLevel level, const char* format, ...) {
  if (level < Level().load(std::memory_order_relaxed)) return;
  static const char* const kNames[] = {"debug", "info", "warning", "error"};
  char line[2048];
  timespec now{};
  ::clock_gettime(CLOCK_REALTIME, &now);
  tm local{};
  ::localtime_r(&now.tv_sec, &local);
  int length = static_cast<int>(std::strftime(line, 32, "%H:%M:%S", &local));
  length += std::snprintf(line + length, sizeof(line) - static_cast<size_t>(length), ".%03ld %s ",
                          now.tv_nsec / 1'000'000, kNames[static_cast<int>(level)]);
  va_list arguments;
  va_start(arguments, format);
  std::vsnprintf(line + length, sizeof(line) - static_cast<size_t>(length) - 1, format, arguments);
  va_end(arguments);
  std::fprintf(stderr, "%s\n", line);
}

}  // namespace surge
