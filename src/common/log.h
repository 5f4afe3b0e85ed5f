// Minimal leveled logging to stderr, one line per call, safe from any thread.
#pragma once

#include <cstdarg>

namespace surge {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// Messages below this level are dropped (default kInfo; SURGE_LOG_LEVEL=debug|info|warning|error).
void SetLogLevel(LogLevel level);

void Log(LogLevel level, const char* format, ...) __attribute__((format(printf, 2, 3)));

}  // namespace surge

#define SURGE_LOG_INFO(...) ::surge::Log(::surge::LogLevel::kInfo, __VA_ARGS__)
#define SURGE_LOG_WARNING(...) ::surge::Log(::surge::LogLevel::kWarning, __VA_ARGS__)
#define SURGE_LOG_ERROR(...) ::surge::Log(::surge::LogLevel::kError, __VA_ARGS__)
#define SURGE_LOG_DEBUG(...) ::surge::Log(::surge::LogLevel::kDebug, __VA_ARGS__)
