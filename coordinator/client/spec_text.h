// Makes a job spec self-contained before it leaves this machine: the
// coordinator and the workers may run elsewhere, in another working folder,
// so a relative `dataset.root` is resolved here against the spec file's
// folder (a leading `~/` against $HOME).
//
// The edit is made in place in the text: comments and layout survive, the
// root becomes a double-quoted absolute path. Only when the root is written in
// a form that cannot be replaced in place (a multi-line scalar) is the whole
// document re-emitted by yaml-cpp (comments lost). Text that is not valid
// YAML is returned unchanged: the coordinator reports its problems.
#pragma once

#include <string>

#include "common/status.h"

namespace nephron::client {

// `base_dir` must be absolute.
std::string ResolveDatasetRoot(const std::string& yaml_text, const std::string& base_dir);

// Reads SPEC.yaml (NotFound naming it) and resolves its dataset root.
Result<std::string> ReadSpecForSubmit(const std::string& path);

}  // namespace nephron::client
