// Logging set-up shared by every binary. Call once from main(); libraries log
// through spdlog's default logger and never configure it themselves.
#pragma once

#include <string>

namespace nephron {

// level: "debug", "info", "warn", "error". Logs go to stderr so that a
// command's stdout carries only its results.
void SetUpLogging(const std::string& level);

}  // namespace nephron
