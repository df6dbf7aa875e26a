// `nephron bench transfer`: MB/s of moving one file over the coordinator-worker
// link (common/file_transfer.h) on loopback — a FileServer on a ROUTER in this
// process, a FileClient fetching and uploading — next to a plain file copy on
// the same disk. Prints a table; not a test.
#include <CLI/CLI.hpp>
#include <malloc.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "common/file_transfer.h"
#include "coordinator/client/client_flags.h"
#include "jobs/cli/commands.h"

namespace nephron::cli {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

Status WriteRandomFile(const std::string& path, int64_t bytes) {
  std::ofstream out(path, std::ios::binary);
  std::mt19937_64 rng(42);
  std::vector<uint64_t> block(1 << 17);  // 1 MiB
  for (int64_t done = 0; done < bytes;) {
    for (auto& v : block) v = rng();
    const int64_t n = std::min<int64_t>(bytes - done, static_cast<int64_t>(block.size() * 8));
    out.write(reinterpret_cast<const char*>(block.data()), n);
    done += n;
  }
  return out ? Status::Ok() : Internal("cannot write " + path);
}

}  // namespace

int RunBenchTransfer(int argc, char** argv) {
  CLI::App app{"Fetch and upload one file over ZeroMQ on loopback (chunks with credit-based flow control, SHA-256\n"
               "per chunk and per file) and copy it with the file system, and print MB/s for each.",
               "nephron bench transfer"};
  int64_t size_mb = 1024;
  int64_t chunk_kb = 1024;
  int credit = 8;
  std::string dir = (fs::temp_directory_path() / "nephron-bench-transfer").string();
  app.add_option("--size-mb", size_mb, "file size in MiB")->capture_default_str();
  app.add_option("--chunk-kb", chunk_kb, "chunk size in KiB")->capture_default_str();
  app.add_option("--credit", credit, "chunks in flight")->capture_default_str();
  app.add_option("--dir", dir, "scratch folder (removed at the end)")->capture_default_str();
  if (int rc = client::ParseFlags(app, argc, argv); rc >= 0) return rc;
  net::KeepChunkBuffersInHeap();
  const int64_t bytes = size_mb << 20;
  std::error_code ec;
  fs::remove_all(dir, ec);
  fs::create_directories(dir + "/served");
  fs::create_directories(dir + "/local");
  std::printf("writing a %lld MiB file in %s ...\n", static_cast<long long>(size_mb), dir.c_str());
  std::fflush(stdout);
  if (Status s = WriteRandomFile(dir + "/served/artifact.bin", bytes); !s.ok()) return client::Fail("bench", s);

  zmq::context_t ctx;
  net::FileServer server({dir + "/served"});
  auto sock = net::Socket::BindRouter(ctx, "tcp://127.0.0.1:0");
  if (!sock.ok()) return client::Fail("bench", sock.status());
  const std::string endpoint = sock->endpoint();
  std::atomic<bool> stop{false};
  std::thread serving([&] { net::ServeFiles(*sock, server, stop); });
  net::FileClientOptions o;
  o.endpoint = endpoint;
  o.chunk_bytes = chunk_kb << 10;
  o.credit = credit;
  net::FileClient client(ctx, o);

  struct Row {
    std::string what;
    double seconds;
  };
  std::vector<Row> rows;
  auto t0 = Clock::now();
  fs::copy_file(dir + "/served/artifact.bin", dir + "/local/copy.bin", fs::copy_options::overwrite_existing, ec);
  rows.push_back({"plain file copy (std::filesystem::copy_file)", Seconds(t0)});
  t0 = Clock::now();
  auto f = client.Fetch("artifact.bin", dir + "/local/fetched.bin");
  rows.push_back({"fetch over ZeroMQ (worker <- coordinator)", Seconds(t0)});
  t0 = Clock::now();
  auto u = f.ok() ? client.Upload(dir + "/local/fetched.bin", "uploaded.bin") : f;
  rows.push_back({"upload over ZeroMQ (worker -> coordinator)", Seconds(t0)});
  t0 = Clock::now();
  auto sha = net::Sha256OfFile(dir + "/served/artifact.bin");
  rows.push_back({"SHA-256 of the file alone (one core)", Seconds(t0)});
  stop = true;
  serving.join();
  fs::remove_all(dir, ec);
  if (!f.ok()) return client::Fail("bench", f.status());
  if (!u.ok()) return client::Fail("bench", u.status());

  std::printf("\nnephron bench transfer: %lld MiB, chunks of %lld KiB, %d in flight, loopback\n\n",
              static_cast<long long>(size_mb), static_cast<long long>(chunk_kb), credit);
  std::printf("%-48s %10s %10s\n", "", "seconds", "MB/s");
  for (const auto& r : rows)
    std::printf("%-48s %10.2f %10.1f\n", r.what.c_str(), r.seconds, bytes / 1e6 / std::max(r.seconds, 1e-9));
  std::printf("\nFetch and upload include hashing every chunk on both sides and the whole file at the end\n"
              "(and, for the fetch, the server's SHA-256 of the file before the first chunk).\n");
  return 0;
}

}  // namespace nephron::cli
