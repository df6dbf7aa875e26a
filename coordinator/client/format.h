// Plain-text views of the coordinator API's JSON (coordinator/http_api.h) for
// the client commands and `nephron local`. Pure functions: JSON in, text out;
// missing or null fields print as "-", never throw.
#pragma once

#include <string>
#include <vector>

#include "common/json_util.h"

namespace nephron::client {

// Columns padded to their widest cell; a row of one cell that starts with
// "#" is a section heading printed as is (without the "#").
class TextTable {
 public:
  explicit TextTable(std::vector<std::string> header) { rows_.push_back(std::move(header)); }
  void Add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  void Section(const std::string& title) { rows_.push_back({"#" + title}); }
  std::string Render(const std::string& indent = "") const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

std::string Duration(double seconds);                    // "42s", "3m05s", "2h07m"
std::string Fixed(const Json& number, int decimals = 3);  // "0.912", or "-" for null/absent
std::string Percent(const Json& fraction);                // "42%"
std::string Str(const Json& value);                       // strings unquoted, numbers as numbers
std::string ClockTime(int64_t ms_since_epoch);            // local "12:01:03"

// GET /api/experiments
std::string ExperimentsTable(const Json& experiments);
// GET /api/experiments/{id} + its metrics: tasks grouped by stage.
std::string ExperimentStatus(const Json& experiment, const Json& metrics);
// GET /api/workers
std::string WorkersTable(const Json& workers);
// The results JSON: per-fold CV Dice, per-case test Dice, means, composite, folders.
std::string ResultsTable(const Json& results);

}  // namespace nephron::client
