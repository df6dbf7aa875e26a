// Small helpers shared by the HTTP API's handlers (http_api.cc, web_ui.cc):
// JSON replies, error bodies, status-code mapping, number parsing.
#pragma once

#include <cstdint>
#include <string>

#include "common/json_util.h"
#include "common/status.h"

namespace httplib {
struct Response;
}

namespace nephron::coord {

// 400 InvalidArgument, 404 NotFound, 409 AlreadyExists/FailedPrecondition,
// 503 Unavailable, 500 anything else.
int HttpStatusFor(StatusCode code);
// Never throws on invalid UTF-8 (log lines and names come from processes and
// users): bad bytes are replaced.
void SendJson(httplib::Response& res, int status, const Json& body);
void SendError(httplib::Response& res, int status, const std::string& message);
// {"error"} with the status's code; an invalid spec's multi-line message also
// gets "problems", one per line.
void SendStatus(httplib::Response& res, const Status& st);
// Decimal digits only (no sign, at most 18 digits).
bool ParseInt64(const std::string& text, int64_t* out);

}  // namespace nephron::coord
