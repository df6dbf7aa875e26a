#include "common/logging.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace nephron {

void SetUpLogging(const std::string& level) {
  auto logger = spdlog::stderr_color_mt("nephron");
  logger->set_pattern("%^[%H:%M:%S.%e %L]%$ %v");
  logger->set_level(spdlog::level::from_str(level));
  spdlog::set_default_logger(logger);
}

}  // namespace nephron
