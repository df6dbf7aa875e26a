#include "coordinator/client/format.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <map>

namespace nephron::client {
namespace {

const Json& At(const Json& j, const char* key) {
  static const Json kNull;
  if (!j.is_object()) return kNull;
  auto it = j.find(key);
  return it == j.end() ? kNull : *it;
}

int64_t Int(const Json& j, int64_t fallback = 0) { return j.is_number() ? j.get<int64_t>() : fallback; }

std::string FirstLine(const std::string& s, size_t max_chars = 120) {
  std::string line = s.substr(0, s.find('\n'));
  if (line.size() > max_chars) line = line.substr(0, max_chars - 3) + "...";
  return line;
}

// Per-class pseudo Dice "0.912/0.431".
std::string DiceList(const Json& dice) {
  if (!dice.is_array() || dice.empty()) return "-";
  std::string out;
  for (const auto& d : dice) out += (out.empty() ? "" : "/") + Fixed(d);
  return out;
}

}  // namespace

std::string TextTable::Render(const std::string& indent) const {
  std::vector<size_t> width;
  for (const auto& row : rows_) {
    if (row.size() == 1 && !row[0].empty() && row[0][0] == '#') continue;
    for (size_t i = 0; i < row.size(); ++i) {
      if (width.size() <= i) width.push_back(0);
      width[i] = std::max(width[i], row[i].size());
    }
  }
  std::string out;
  for (const auto& row : rows_) {
    if (row.size() == 1 && !row[0].empty() && row[0][0] == '#') {
      out += row[0].substr(1) + "\n";
      continue;
    }
    std::string line = indent;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

std::string Duration(double seconds) {
  if (!(seconds >= 0)) return "-";
  const int64_t s = static_cast<int64_t>(seconds + 0.5);
  char buf[32];
  if (s < 60) {
    std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(s));
  } else if (s < 3600) {
    std::snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(s / 60), static_cast<long long>(s % 60));
  } else {
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", static_cast<long long>(s / 3600),
                  static_cast<long long>(s / 60 % 60));
  }
  return buf;
}

std::string Fixed(const Json& number, int decimals) {
  if (!number.is_number()) return "-";
  const double v = number.get<double>();
  if (!std::isfinite(v)) return "-";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string Percent(const Json& fraction) {
  if (!fraction.is_number()) return "-";
  return std::to_string(static_cast<int>(std::floor(fraction.get<double>() * 100 + 1e-9))) + "%";
}

std::string Str(const Json& value) {
  if (value.is_null()) return "-";
  if (value.is_string()) return value.get<std::string>().empty() ? "-" : value.get<std::string>();
  return value.dump();
}

std::string ClockTime(int64_t ms_since_epoch) {
  const std::time_t t = static_cast<std::time_t>(ms_since_epoch / 1000);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%H:%M:%S", &tm);
  return buf;
}

std::string ExperimentsTable(const Json& experiments) {
  if (!experiments.is_array() || experiments.empty()) return "no experiments yet (nephron submit SPEC.yaml)\n";
  TextTable t({"ID", "NAME", "STATE", "PROGRESS", "TASKS", "ELAPSED", "BEST CV DICE"});
  for (const auto& e : experiments) {
    t.Add({Str(At(e, "id")), Str(At(e, "name")), Str(At(e, "state")), Percent(At(e, "progress")),
           Str(At(e, "tasks_done")) + "/" + Str(At(e, "tasks_total")),
           Duration(At(e, "elapsed_s").is_number() ? At(e, "elapsed_s").get<double>() : -1),
           Fixed(At(e, "best_cv_dice"))});
  }
  return t.Render();
}

std::string ExperimentStatus(const Json& e, const Json& metrics) {
  std::string out = "experiment " + Str(At(e, "id")) + " " + Str(At(e, "name")) + ": " + Str(At(e, "state")) + ", " +
                    Str(At(e, "tasks_done")) + "/" + Str(At(e, "tasks_total")) + " tasks done (" +
                    Percent(At(e, "progress")) + "), elapsed " +
                    Duration(At(e, "elapsed_s").is_number() ? At(e, "elapsed_s").get<double>() : -1) + "\n";
  if (At(e, "dir").is_string() && !At(e, "dir").get<std::string>().empty()) out += "folder: " + Str(At(e, "dir")) + "\n";
  if (At(e, "error").is_string() && !At(e, "error").get<std::string>().empty())
    out += "error: " + At(e, "error").get<std::string>() + "\n";

  // The latest epoch of each training task.
  std::map<int64_t, const Json*> latest;
  if (metrics.is_array()) {
    for (const auto& m : metrics) {
      const int64_t task = Int(At(m, "task_id"));
      if (!latest.count(task) || Int(At(m, "epoch")) >= Int(At(*latest[task], "epoch"))) latest[task] = &m;
    }
  }
  static const std::vector<std::string> kStages = {"fingerprint", "plan",     "preprocess", "train",
                                                   "validate",    "crossval", "predict",    "evaluate"};
  const Json& tasks = At(e, "tasks");
  auto stage_of = [&](const Json& task) {
    const std::string kind = Str(At(task, "kind"));
    return static_cast<size_t>(std::find(kStages.begin(), kStages.end(), kind) - kStages.begin());
  };
  std::vector<const Json*> order;
  if (tasks.is_array())
    for (const auto& task : tasks) order.push_back(&task);
  std::stable_sort(order.begin(), order.end(), [&](const Json* a, const Json* b) { return stage_of(*a) < stage_of(*b); });

  TextTable t({"ID", "TASK", "STATE", "ATTEMPT", "WORKER", "PROGRESS", "DETAIL"});
  std::string stage;
  for (const Json* task : order) {
    const std::string kind = Str(At(*task, "kind"));
    if (kind != stage) t.Section(stage.empty() ? kind : "\n" + kind), stage = kind;
    const std::string state = Str(At(*task, "state"));
    std::string detail = At(*task, "progress_message").is_string() ? At(*task, "progress_message").get<std::string>() : "";
    auto m = latest.find(Int(At(*task, "id")));
    if (m != latest.end()) {
      detail += std::string(detail.empty() ? "" : "; ") + "epoch " + Str(At(*m->second, "epoch")) + ": pseudo Dice " +
                DiceList(At(*m->second, "dice")) + ", EMA " + Fixed(At(*m->second, "ema_dice"));
    }
    const Json& error = At(*task, "error");
    if (error.is_string() && !error.get<std::string>().empty() && state != "succeeded")
      detail += std::string(detail.empty() ? "" : "; ") + FirstLine(error.get<std::string>());
    const bool started = Int(At(*task, "attempt")) > 0;
    t.Add({Str(At(*task, "id")), Str(At(*task, "name")), state, started ? Str(At(*task, "attempt")) : "-",
           Str(At(*task, "worker")), state == "succeeded" ? "100%" : (started ? Percent(At(*task, "progress")) : "-"),
           detail.empty() ? "" : detail});
  }
  return out + "\n" + t.Render("  ");
}

std::string WorkersTable(const Json& workers) {
  if (!workers.is_array() || workers.empty())
    return "no workers have registered (start one with nephron-worker --coordinator tcp://HOST:PORT)\n";
  TextTable t({"NAME", "HOST", "DEVICE", "FILES", "STATE", "TASK", "HEARTBEAT", "DONE"});
  for (const auto& w : workers) {
    std::string state = Str(At(w, "state"));
    if (At(w, "draining") == true && state != "draining") state += " (draining)";
    const Json& age = At(w, "heartbeat_age_s");
    const std::string files = Str(At(w, "files"));
    t.Add({Str(At(w, "name")), Str(At(w, "host")), Str(At(w, "device")), files.empty() ? "-" : files, state,
           Int(At(w, "task")) > 0 ? Str(At(w, "task")) + " (attempt " + Str(At(w, "attempt")) + ")" : "-",
           age.is_number() ? Fixed(age, 1) + " s ago" : "-", Str(At(w, "tasks_done"))});
  }
  return t.Render();
}

std::string ResultsTable(const Json& r) {
  std::string out = "experiment " + Str(At(r, "experiment_id")) + " " + Str(At(r, "name")) + ": " +
                    Str(At(r, "state")) + "\n";
  const Json& folds = At(r, "folds");
  if (folds.is_array() && !folds.empty()) {
    TextTable t({"FOLD", "KIDNEY DICE", "TUMOR DICE", "COMPOSITE", "CASES"});
    for (const auto& f : folds)
      t.Add({Str(At(f, "fold")), Fixed(At(f, "kidney_dice")), Fixed(At(f, "tumor_dice")), Fixed(At(f, "composite")),
             Str(At(f, "cases"))});
    const Json& cv = At(r, "cv");
    t.Add({"mean", Fixed(At(cv, "kidney_dice")), Fixed(At(cv, "tumor_dice")), Fixed(At(cv, "composite")), ""});
    out += "\ncross-validation (each fold's held-out cases)\n" + t.Render("  ");
  }
  const Json& cases = At(r, "cases");
  if (cases.is_array() && !cases.empty()) {
    TextTable t({"CASE", "KIDNEY DICE", "TUMOR DICE", "COMPOSITE"});
    for (const auto& c : cases)
      t.Add({Str(At(c, "id")), Fixed(At(c, "kidney_dice")), Fixed(At(c, "tumor_dice")), Fixed(At(c, "composite"))});
    t.Add({"mean", Fixed(At(r, "kidney_dice")), Fixed(At(r, "tumor_dice")), Fixed(At(r, "composite"))});
    out += "\ntest set (ensemble of the folds)\n" + t.Render("  ");
  }
  out += "\nKiTS composite Dice (test mean): " + Fixed(At(r, "composite")) + "\n";
  if (At(r, "predictions_dir").is_string()) out += "predictions: " + Str(At(r, "predictions_dir")) + "\n";
  if (At(r, "previews_dir").is_string()) out += "previews:    " + Str(At(r, "previews_dir")) + "\n";
  if (At(r, "dir").is_string()) out += "experiment:  " + Str(At(r, "dir")) + "\n";
  return out;
}

}  // namespace nephron::client
