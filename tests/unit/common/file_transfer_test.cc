// Files over ZeroMQ (common/file_transfer.h): a FileServer behind a real
// ROUTER socket on loopback, a FileClient fetching and uploading through it —
// chunking with credit, per-chunk hashes (corrupted chunks are fetched again),
// resuming a partial transfer, a server that starts late, paths outside the
// served folder.
#include "common/file_transfer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

namespace nephron::net {
namespace {

namespace fs = std::filesystem;

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

void Write(const fs::path& p, const std::string& data) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << data;
}

std::string Read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class FileTransferTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("nephron_xfer_" + std::to_string(getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "served");
    fs::create_directories(dir_ / "local");
    server_ = std::make_unique<FileServer>(std::vector<std::string>{(dir_ / "served").string()});
  }
  void TearDown() override {
    StopServer();
    fs::remove_all(dir_);
  }

  // Serves on a ROUTER of its own thread; `delay_ms` before binding.
  void StartServer(int delay_ms = 0, const std::string& endpoint = "tcp://127.0.0.1:0") {
    bound_ = false;
    thread_ = std::thread([this, delay_ms, endpoint] {
      std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
      auto s = Socket::BindRouter(ctx_, endpoint);
      ASSERT_TRUE(s.ok()) << s.status().ToString();
      if (delay_ms == 0) endpoint_ = s->endpoint();
      bound_ = true;
      ServeFiles(*s, *server_, stop_);
    });
    if (delay_ms == 0)
      while (!bound_) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  void StopServer() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    stop_ = false;
  }
  FileClientOptions Options() {
    FileClientOptions o;
    o.endpoint = endpoint_;
    o.chunk_bytes = 64 << 10;
    o.credit = 4;
    o.timeout_ms = 2000;
    return o;
  }

  fs::path dir_;
  zmq::context_t ctx_;
  std::unique_ptr<FileServer> server_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> bound_{false};
  std::string endpoint_;
};

TEST_F(FileTransferTest, FetchesInChunksThenFindsItCached) {
  const std::string data = RandomBytes((1 << 20) + 12345, 1);
  Write(dir_ / "served/exp/fold_0/checkpoint_latest.pt", data);
  StartServer();
  FileClient c(ctx_, Options());
  auto st = c.Fetch("exp/fold_0/checkpoint_latest.pt", (dir_ / "local/ckpt.pt").string());
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ(Read(dir_ / "local/ckpt.pt"), data);
  EXPECT_EQ(st->bytes, static_cast<int64_t>(data.size()));
  EXPECT_FALSE(st->cached);
  EXPECT_EQ(server_->chunks_sent(), 17);  // ceil(1 MiB + 12345 over 64 KiB)
  EXPECT_FALSE(fs::exists(dir_ / "local/ckpt.pt.part"));
  st = c.Fetch("exp/fold_0/checkpoint_latest.pt", (dir_ / "local/ckpt.pt").string());
  ASSERT_TRUE(st.ok());
  EXPECT_TRUE(st->cached);
  EXPECT_EQ(server_->chunks_sent(), 17);  // nothing sent again
  // A new version of the file (same size) is hashed again and fetched.
  const std::string changed = RandomBytes(data.size(), 11);
  Write(dir_ / "served/exp/fold_0/checkpoint_latest.pt", changed);
  st = c.Fetch("exp/fold_0/checkpoint_latest.pt", (dir_ / "local/ckpt.pt").string());
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_FALSE(st->cached);
  EXPECT_EQ(Read(dir_ / "local/ckpt.pt"), changed);
}

TEST_F(FileTransferTest, CorruptedChunksAreDetectedAndFetchedAgain) {
  const std::string data = RandomBytes(700 << 10, 2);
  Write(dir_ / "served/case.npy", data);
  server_->set_corrupt_every(3);
  StartServer();
  FileClient c(ctx_, Options());
  auto st = c.Fetch("case.npy", (dir_ / "local/case.npy").string());
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_GT(st->chunks_refetched, 0);
  EXPECT_EQ(Read(dir_ / "local/case.npy"), data);
}

TEST_F(FileTransferTest, AlwaysCorruptedIsDataLossAndNothingAppears) {
  Write(dir_ / "served/case.npy", RandomBytes(100 << 10, 3));
  server_->set_corrupt_every(1);
  StartServer();
  FileClient c(ctx_, Options());
  auto st = c.Fetch("case.npy", (dir_ / "local/case.npy").string());
  EXPECT_EQ(st.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(st.status().message().find("corrupted"), std::string::npos) << st.status().message();
  EXPECT_FALSE(fs::exists(dir_ / "local/case.npy"));
}

TEST_F(FileTransferTest, AnInterruptedFetchResumesWhereItStopped) {
  const std::string data = RandomBytes(600 << 10, 4);
  Write(dir_ / "served/big.bin", data);
  Write(dir_ / "local/big.bin.part", data.substr(0, 300 << 10));  // what an interrupted fetch left
  StartServer();
  FileClient c(ctx_, Options());
  auto st = c.Fetch("big.bin", (dir_ / "local/big.bin").string());
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ(st->resumed_from, 300 << 10);
  EXPECT_EQ(st->bytes, 300 << 10);
  EXPECT_EQ(Read(dir_ / "local/big.bin"), data);
}

TEST_F(FileTransferTest, AWrongPartialFileIsCaughtByTheWholeFileHash) {
  const std::string data = RandomBytes(200 << 10, 5);
  Write(dir_ / "served/f.bin", data);
  Write(dir_ / "local/f.bin.part", RandomBytes(100 << 10, 99));  // not a prefix of the file
  StartServer();
  FileClient c(ctx_, Options());
  auto st = c.Fetch("f.bin", (dir_ / "local/f.bin").string());
  EXPECT_EQ(st.status().code(), StatusCode::kDataLoss);
  EXPECT_FALSE(fs::exists(dir_ / "local/f.bin"));
  EXPECT_FALSE(fs::exists(dir_ / "local/f.bin.part"));
  st = c.Fetch("f.bin", (dir_ / "local/f.bin").string());  // the next try starts clean
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ(Read(dir_ / "local/f.bin"), data);
}

TEST_F(FileTransferTest, AServerThatStartsLateIsWaitedFor) {
  Write(dir_ / "served/f.bin", RandomBytes(50 << 10, 6));
  // A fixed port, so the client can connect before the server binds.
  endpoint_ = "tcp://127.0.0.1:" + std::to_string(30000 + getpid() % 20000);
  StartServer(/*delay_ms=*/600, endpoint_);
  FileClientOptions o = Options();
  o.timeout_ms = 300;
  FileClient c(ctx_, o);
  auto st = c.Fetch("f.bin", (dir_ / "local/f.bin").string());
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ(Read(dir_ / "local/f.bin"), Read(dir_ / "served/f.bin"));
}

TEST_F(FileTransferTest, UploadsAndResumesAnInterruptedUpload) {
  const std::string data = RandomBytes((500 << 10) + 7, 7);
  Write(dir_ / "local/checkpoint_latest.pt", data);
  StartServer();
  FileClient c(ctx_, Options());
  auto st = c.Upload((dir_ / "local/checkpoint_latest.pt").string(), "exp/fold_1/checkpoint_latest.pt");
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ(Read(dir_ / "served/exp/fold_1/checkpoint_latest.pt"), data);
  EXPECT_EQ(st->resumed_from, 0);
  EXPECT_FALSE(fs::exists(dir_ / "served/exp/fold_1/checkpoint_latest.pt.part"));

  // An upload that stopped after 192 KiB continues from there.
  const std::string next = RandomBytes(400 << 10, 8);
  Write(dir_ / "local/next.pt", next);
  Write(dir_ / "served/exp/next.pt.part", next.substr(0, 192 << 10));
  st = c.Upload((dir_ / "local/next.pt").string(), "exp/next.pt");
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ(st->resumed_from, 192 << 10);
  EXPECT_EQ(st->bytes, (400 - 192) << 10);
  EXPECT_EQ(Read(dir_ / "served/exp/next.pt"), next);

  // An empty file too.
  Write(dir_ / "local/empty.txt", "");
  st = c.Upload((dir_ / "local/empty.txt").string(), "exp/empty.txt");
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_TRUE(fs::exists(dir_ / "served/exp/empty.txt"));
}

TEST_F(FileTransferTest, PathsOutsideTheServedFolderAreRefused) {
  Write(dir_ / "secret.txt", "no");
  StartServer();
  FileClient c(ctx_, Options());
  auto st = c.Fetch("../secret.txt", (dir_ / "local/s.txt").string());
  EXPECT_EQ(st.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.status().message().find("outside"), std::string::npos) << st.status().message();
  st = c.Fetch((dir_ / "secret.txt").string(), (dir_ / "local/s.txt").string());
  EXPECT_EQ(st.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(c.Fetch("missing.bin", (dir_ / "local/m.bin").string()).status().code(), StatusCode::kNotFound);
  Write(dir_ / "local/up.txt", "x");
  st = c.Upload((dir_ / "local/up.txt").string(), "../../escaped.txt");
  EXPECT_FALSE(st.ok());
  EXPECT_FALSE(fs::exists(dir_.parent_path() / "escaped.txt"));
}

}  // namespace
}  // namespace nephron::net
