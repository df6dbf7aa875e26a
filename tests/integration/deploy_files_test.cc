// Lint of the deployment files in deploy/: they parse, hold what their
// platform needs, and every flag they pass to a Nephron program is one that
// program's --help lists (so a renamed flag breaks this test, not a cluster).
// What is not checked here: that the images build and the manifests apply on
// a real cluster (no registry, Docker daemon, Slurm or Kubernetes in CI).
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "tests/fakes/run_nephron.h"

namespace nephron {
namespace {

namespace fs = std::filesystem;

const fs::path kDeploy = fs::path(NEPHRON_SOURCE_DIR) / "deploy";

std::string Slurp(const fs::path& p) {
  std::ifstream in(p);
  EXPECT_TRUE(in.good()) << p;
  return std::string(std::istreambuf_iterator<char>(in), {});
}

testing::CmdResult Shell(const std::string& cmd) {
  testing::CmdResult r;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

// The --flags a program's --help lists.
std::set<std::string> HelpFlags(const std::string& program) {
  const auto r = Shell(program + " --help");
  EXPECT_EQ(r.code, 0) << r.out;
  std::set<std::string> flags;
  static const std::regex kFlag("--[a-z][a-z0-9-]*");
  for (auto it = std::sregex_iterator(r.out.begin(), r.out.end(), kFlag); it != std::sregex_iterator(); ++it)
    flags.insert(it->str());
  return flags;
}

// Checks each "--flag" in `args` (after the program name) against its --help.
void ExpectKnownFlags(const std::string& where, const std::vector<std::string>& args) {
  ASSERT_FALSE(args.empty()) << where;
  static std::map<std::string, std::set<std::string>> cache;
  std::string program = fs::path(args[0]).filename().string();
  std::string binary = program == "nephron-coordinator" ? NEPHRON_COORDINATOR
                       : program == "nephron-worker"    ? NEPHRON_WORKER
                       : program == "nephron"           ? NEPHRON_BINARY
                                                        : "";
  ASSERT_FALSE(binary.empty()) << where << ": unknown program " << args[0];
  if (program == "nephron" && args.size() > 1) binary += " " + args[1];
  if (!cache.count(binary)) cache[binary] = HelpFlags(binary);
  for (size_t i = 1; i < args.size(); ++i) {
    if (args[i].rfind("--", 0) != 0) continue;
    const std::string flag = args[i].substr(0, args[i].find('='));
    EXPECT_TRUE(cache[binary].count(flag)) << where << ": " << program << " has no flag " << flag;
  }
}

std::vector<std::string> Words(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> w;
  for (std::string s; in >> s;) w.push_back(s);
  return w;
}

std::vector<std::string> Strings(const YAML::Node& seq) {
  std::vector<std::string> v;
  for (const auto& n : seq) v.push_back(n.as<std::string>());
  return v;
}

TEST(DeployFilesTest, ComposeHasACoordinatorWithStateAndCurveWorkers) {
  const YAML::Node c = YAML::LoadFile((kDeploy / "docker/compose.yaml").string());
  const YAML::Node coord = c["services"]["coordinator"], worker = c["services"]["worker"];
  ASSERT_TRUE(coord && worker);
  ExpectKnownFlags("compose coordinator", Strings(coord["command"]));
  ExpectKnownFlags("compose worker", Strings(worker["command"]));
  const std::string cc = Slurp(kDeploy / "docker/compose.yaml");
  for (const char* f : {"--key=", "--authorized-keys=", "--server-key="})
    EXPECT_NE(cc.find(f), std::string::npos) << f;
  // Every named volume a service mounts is declared.
  for (const auto& svc : c["services"])
    for (const auto& v : svc.second["volumes"]) {
      const std::string spec = v.as<std::string>();
      const std::string name = spec.substr(0, spec.find(':'));
      if (name.rfind("./", 0) == 0 || name.rfind("/", 0) == 0) continue;
      EXPECT_TRUE(c["volumes"][name]) << "volume " << name << " is not declared";
    }
  EXPECT_TRUE(coord["restart"]);
  EXPECT_TRUE(worker["deploy"]["replicas"]);
}

TEST(DeployFilesTest, KubernetesManifestsAreConsistent) {
  std::map<std::string, YAML::Node> by_kind;
  std::set<std::string> claims;
  for (const char* file : {"coordinator.yaml", "workers.yaml"})
    for (const auto& doc : YAML::LoadAllFromFile((kDeploy / "k8s" / file).string())) {
      ASSERT_TRUE(doc["apiVersion"] && doc["kind"] && doc["metadata"]["name"]) << file;
      by_kind[doc["kind"].as<std::string>() + "/" + doc["metadata"]["name"].as<std::string>()] = doc;
      if (doc["kind"].as<std::string>() == "PersistentVolumeClaim") claims.insert(doc["metadata"]["name"].as<std::string>());
    }
  const YAML::Node sts = by_kind["StatefulSet/nephron-coordinator"];
  const YAML::Node svc = by_kind["Service/nephron-coordinator"];
  const YAML::Node dep = by_kind["Deployment/nephron-worker"];
  ASSERT_TRUE(sts && svc && dep);
  EXPECT_EQ(sts["spec"]["serviceName"].as<std::string>(), "nephron-coordinator");
  ASSERT_TRUE(sts["spec"]["volumeClaimTemplates"]);
  EXPECT_EQ(sts["spec"]["replicas"].as<int>(), 1);  // one SQLite writer
  // The Service selects the coordinator's pods and exposes both ports.
  for (const auto& kv : svc["spec"]["selector"])
    EXPECT_EQ(sts["spec"]["template"]["metadata"]["labels"][kv.first.as<std::string>()].as<std::string>(),
              kv.second.as<std::string>());
  EXPECT_EQ(svc["spec"]["ports"].size(), 2u);
  const YAML::Node wc = dep["spec"]["template"]["spec"]["containers"][0];
  EXPECT_EQ(wc["resources"]["limits"]["nvidia.com/gpu"].as<int>(), 1);
  ExpectKnownFlags("k8s coordinator", Strings(sts["spec"]["template"]["spec"]["containers"][0]["args"]));
  ExpectKnownFlags("k8s worker", Strings(wc["args"]));
  EXPECT_NE(Strings(wc["args"])[1].find("nephron-coordinator:5555"), std::string::npos);

  // Every mount has a volume (or a claim template); every claim and Secret used is provided.
  const std::string keys_md = Slurp(kDeploy / "k8s/keys.md");
  for (const YAML::Node* w : {&sts, &dep}) {
    const YAML::Node pod = (*w)["spec"]["template"]["spec"];
    std::set<std::string> volumes;
    for (const auto& v : pod["volumes"]) {
      volumes.insert(v["name"].as<std::string>());
      if (v["persistentVolumeClaim"]) {
        EXPECT_TRUE(claims.count(v["persistentVolumeClaim"]["claimName"].as<std::string>()));
      }
      if (v["secret"]) {
        const std::string secret = v["secret"]["secretName"].as<std::string>();
        EXPECT_NE(keys_md.find("create secret generic " + secret), std::string::npos) << secret;
      }
    }
    for (const auto& t : (*w)["spec"]["volumeClaimTemplates"]) volumes.insert(t["metadata"]["name"].as<std::string>());
    for (const auto& c : pod["containers"])
      for (const auto& m : c["volumeMounts"]) EXPECT_TRUE(volumes.count(m["name"].as<std::string>())) << m["name"];
  }
}

// systemd unit files: sections and keys, and the ExecStart flags.
TEST(DeployFilesTest, SystemdUnitsRestartAndUseKnownFlags) {
  for (const char* unit : {"nephron-coordinator.service", "nephron-worker@.service"}) {
    const std::string text = Slurp(kDeploy / "systemd" / unit);
    std::map<std::string, std::map<std::string, std::string>> ini;
    std::string section;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
      if (line.empty() || line[0] == '#') continue;
      if (line[0] == '[') {
        section = line.substr(1, line.find(']') - 1);
        continue;
      }
      const auto eq = line.find('=');
      ASSERT_NE(eq, std::string::npos) << unit << ": " << line;
      ASSERT_FALSE(section.empty()) << unit << ": key before a section";
      ini[section][line.substr(0, eq)] = line.substr(eq + 1);
    }
    for (const char* s : {"Unit", "Service", "Install"}) EXPECT_TRUE(ini.count(s)) << unit << " [" << s << "]";
    EXPECT_TRUE(ini["Service"].count("Restart")) << unit;
    EXPECT_EQ(ini["Install"]["WantedBy"], "multi-user.target");
    ExpectKnownFlags(unit, Words(ini["Service"]["ExecStart"]));
  }
  if (Shell("command -v systemd-analyze").code == 0) {
    const auto r = Shell("systemd-analyze verify --man=no " + (kDeploy / "systemd/nephron-coordinator.service").string());
    // Missing binaries and users on this machine are expected; syntax errors are not.
    EXPECT_EQ(r.out.find("Unknown key"), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("Invalid section"), std::string::npos) << r.out;
  }
}

TEST(DeployFilesTest, SlurmScriptParsesAndStartsOneWorkerPerGpu) {
  const fs::path script = kDeploy / "slurm/nephron-workers.sbatch";
  const auto r = Shell("bash -n " + script.string());
  EXPECT_EQ(r.code, 0) << r.out;
  const std::string text = Slurp(script);
  EXPECT_NE(text.find("#SBATCH --gpus-per-node"), std::string::npos);
  EXPECT_NE(text.find("--gpus-per-task=1"), std::string::npos);
  EXPECT_NE(text.find("#SBATCH --signal=TERM"), std::string::npos);
  ExpectKnownFlags("slurm", {"nephron-worker", "--coordinator", "--device", "--threads", "--name", "--key",
                             "--server-key"});
  EXPECT_NE(text.find("exec \"$0\""), std::string::npos);
  for (const std::string flag : {"--coordinator", "--device", "--threads", "--name", "--key", "--server-key"})
    EXPECT_NE(text.find(flag + " "), std::string::npos) << flag;
  // Without a coordinator address it explains itself.
  const auto usage = Shell("env -u NEPHRON_COORDINATOR bash " + script.string());
  EXPECT_EQ(usage.code, 2);
  EXPECT_NE(usage.out.find("usage:"), std::string::npos);
}

TEST(DeployFilesTest, DockerfilesAreWellFormed) {
  static const std::set<std::string> kInstructions = {"FROM", "RUN",   "CMD",        "LABEL", "EXPOSE", "ENV",
                                                      "ADD",  "COPY",  "ENTRYPOINT", "VOLUME", "USER", "WORKDIR",
                                                      "ARG",  "SHELL", "HEALTHCHECK", "STOPSIGNAL"};
  for (const char* file : {"Dockerfile.cpu", "Dockerfile.cuda"}) {
    const std::string text = Slurp(kDeploy / "docker" / file);
    std::istringstream in(text);
    std::vector<std::string> instructions;
    std::set<std::string> stages;
    bool continued = false;
    for (std::string line; std::getline(in, line);) {
      const bool this_continues = !line.empty() && line.back() == '\\';
      if (!continued && !line.empty() && line[0] != '#' && line[0] != ' ') {
        const auto w = Words(line);
        instructions.push_back(w[0]);
        EXPECT_TRUE(kInstructions.count(w[0])) << file << ": unknown instruction " << w[0];
        if (w[0] == "FROM" && w.size() == 4) stages.insert(w[3]);
        for (const auto& word : w) {
          if (word.rfind("--from=", 0) == 0) {
            EXPECT_TRUE(stages.count(word.substr(7))) << file << ": " << word;
          }
        }
      }
      continued = this_continues;
    }
    ASSERT_FALSE(instructions.empty());
    EXPECT_EQ(instructions[0], "FROM") << file;
    EXPECT_NE(text.find("nephron-coordinator"), std::string::npos);
    EXPECT_NE(text.find("nephron-worker"), std::string::npos);
  }
  EXPECT_NE(Slurp(kDeploy / "docker/Dockerfile.cuda").find("FROM pytorch/pytorch:"), std::string::npos);
  for (const char* script : {"docker/runtime-packages.sh", "docker/make-keys.sh", "install-deps.sh", "build.sh",
                             "demo.sh", "test.sh", "gpu-bench.sh"}) {
    const auto r = Shell("bash -n " + (kDeploy / script).string());
    EXPECT_EQ(r.code, 0) << script << ": " << r.out;
  }
}

TEST(DeployFilesTest, MakeKeysWritesWhatComposeMounts) {
  const fs::path dir = fs::temp_directory_path() / ("nephron_keys_" + std::to_string(getpid()));
  fs::remove_all(dir);
  const auto r = Shell("bash " + (kDeploy / "docker/make-keys.sh").string() + " " + dir.string() + " " + NEPHRON_BINARY);
  EXPECT_EQ(r.code, 0) << r.out;
  for (const char* f : {"coordinator.key", "coordinator.pub", "worker.key", "worker.pub", "workers/worker.pub"})
    EXPECT_TRUE(fs::exists(dir / f)) << f;
  EXPECT_EQ(fs::status(dir / "worker.key").permissions() & fs::perms::others_read, fs::perms::none);
  // Idempotent: a second run keeps the keys.
  const std::string before = Slurp(dir / "worker.key");
  EXPECT_EQ(Shell("bash " + (kDeploy / "docker/make-keys.sh").string() + " " + dir.string() + " " + NEPHRON_BINARY).code, 0);
  EXPECT_EQ(Slurp(dir / "worker.key"), before);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace nephron
