#include "coordinator/http_util.h"

#include <httplib.h>

namespace nephron::coord {

int HttpStatusFor(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return 200;
    case StatusCode::kInvalidArgument: return 400;
    case StatusCode::kNotFound: return 404;
    case StatusCode::kAlreadyExists:
    case StatusCode::kFailedPrecondition: return 409;
    case StatusCode::kUnavailable: return 503;
    default: return 500;
  }
}

void SendJson(httplib::Response& res, int status, const Json& body) {
  res.status = status;
  res.set_content(body.dump(-1, ' ', false, Json::error_handler_t::replace), "application/json");
}

void SendError(httplib::Response& res, int status, const std::string& message) {
  SendJson(res, status, Json{{"error", message}});
}

void SendStatus(httplib::Response& res, const Status& st) {
  Json body{{"error", st.message()}};
  // An invalid spec's message is a heading plus one "  problem" per line.
  if (st.code() == StatusCode::kInvalidArgument && st.message().find('\n') != std::string::npos) {
    Json problems = Json::array();
    size_t start = st.message().find('\n');
    while (start != std::string::npos) {
      const size_t end = st.message().find('\n', start + 1);
      std::string line = st.message().substr(start + 1, end == std::string::npos ? end : end - start - 1);
      line.erase(0, line.find_first_not_of(' '));
      if (!line.empty()) problems.push_back(line);
      start = end;
    }
    body["problems"] = problems;
  }
  SendJson(res, HttpStatusFor(st.code()), body);
}

bool ParseInt64(const std::string& text, int64_t* out) {
  if (text.empty() || text.size() > 18) return false;
  int64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *out = v;
  return true;
}

}  // namespace nephron::coord
