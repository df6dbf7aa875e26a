// Files over ZeroMQ (common/file_transfer.h): a FileServer behind a real
// ROUTER socket on loopback, a FileClient fetching and uploading through it —
// chunking with credit, per-chunk hashes (corrupted chunks are fetched again),
// resuming a partial transfer, a server that starts late, paths outside the
// served folder.
#include "common/file_transfer.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "worker/mirror.h"

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

TEST_F(FileTransferTest, ListsFilesRecursivelyWithoutUploadsInProgress) {
  Write(dir_ / "served/exp/plans.json", "{}");
  Write(dir_ / "served/exp/fold_0/checkpoint_latest.pt", "abc");
  Write(dir_ / "served/exp/fold_0/checkpoint_best.pt.part", "half");
  StartServer();
  FileClient c(ctx_, Options());
  auto l = c.List("exp");
  ASSERT_TRUE(l.ok()) << l.status().ToString();
  std::map<std::string, int64_t> got;
  for (const auto& e : *l) got[e.path] = e.size;
  EXPECT_EQ(got, (std::map<std::string, int64_t>{{"plans.json", 2}, {"fold_0/checkpoint_latest.pt", 3}}));
  l = c.List("exp/plans.json");  // one file: itself, as ""
  ASSERT_TRUE(l.ok());
  ASSERT_EQ(l->size(), 1u);
  EXPECT_EQ((*l)[0].path, "");
  EXPECT_EQ(c.List("exp/nothing").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(c.List("../").status().code(), StatusCode::kInvalidArgument);
}

TEST_F(FileTransferTest, ReadOnlyRootsAreServedButNeverWritten) {
  Write(dir_ / "dataset/case_00000/imaging.nii.gz", "image");
  server_->AddReadOnlyRoot((dir_ / "dataset").string());
  StartServer();
  FileClient c(ctx_, Options());
  const std::string remote = (dir_ / "dataset/case_00000/imaging.nii.gz").string();
  ASSERT_TRUE(c.Fetch(remote, (dir_ / "local/img.nii.gz").string()).ok());
  EXPECT_EQ(Read(dir_ / "local/img.nii.gz"), "image");
  Write(dir_ / "local/evil.nii.gz", "overwritten");
  auto st = c.Upload((dir_ / "local/evil.nii.gz").string(), remote);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.status().message().find("read-only"), std::string::npos) << st.status().message();
  EXPECT_EQ(Read(dir_ / "dataset/case_00000/imaging.nii.gz"), "image");
}

TEST_F(FileTransferTest, TheWriteGuardSeesTheTaskAttemptAndCanRefuse) {
  std::vector<std::pair<int64_t, int>> seen;
  std::mutex mu;
  server_->set_write_guard([&](const std::string& path, int64_t task, int attempt) -> Status {
    std::lock_guard<std::mutex> lock(mu);
    seen.push_back({task, attempt});
    if (attempt < 2) return FailedPrecondition("task " + std::to_string(task) + " attempt 1 is stale");
    EXPECT_NE(path.find("fold_0/checkpoint_latest.pt"), std::string::npos) << path;
    return Status::Ok();
  });
  StartServer();
  Write(dir_ / "local/ckpt.pt", RandomBytes(100 << 10, 12));
  FileClientOptions o = Options();
  o.task = 7;
  o.attempt = 1;
  FileClient stale(ctx_, o);
  auto st = stale.Upload((dir_ / "local/ckpt.pt").string(), "exp/fold_0/checkpoint_latest.pt");
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.status().message().find("stale"), std::string::npos) << st.status().message();
  EXPECT_FALSE(fs::exists(dir_ / "served/exp/fold_0/checkpoint_latest.pt"));
  EXPECT_FALSE(fs::exists(dir_ / "served/exp/fold_0/checkpoint_latest.pt.7-1.part"));
  o.attempt = 2;
  FileClient current(ctx_, o);
  st = current.Upload((dir_ / "local/ckpt.pt").string(), "exp/fold_0/checkpoint_latest.pt");
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ(Read(dir_ / "served/exp/fold_0/checkpoint_latest.pt"), Read(dir_ / "local/ckpt.pt"));
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_FALSE(seen.empty());
  for (const auto& [task, attempt] : seen) EXPECT_EQ(task, 7);
}

int64_t AtimeNs(const fs::path& p) {
  struct stat st;
  if (::stat(p.c_str(), &st) != 0) return -1;
  return static_cast<int64_t>(st.st_atim.tv_sec) * 1000000000 + st.st_atim.tv_nsec;
}

TEST_F(FileTransferTest, MirrorPullsWhatMatchesSkipsWhatIsUnchangedAndDropsWhatIsGone) {
  const fs::path exp = dir_ / "served/exp";
  Write(exp / "plans.json", "plans");
  Write(exp / "nnUNetPlans_3d_fullres/case_00000.npy", RandomBytes(200 << 10, 13));
  Write(exp / "fold_0/checkpoint_latest.pt", RandomBytes(90 << 10, 14));
  Write(exp / "fold_1/checkpoint_latest.pt", "another fold");
  StartServer();
  const std::vector<std::string> patterns = {"plans.json", "nnUNetPlans_3d_fullres/*", "fold_0/*"};
  worker::Mirror m(ctx_, Options(), (dir_ / "cache").string(), int64_t{1} << 30);
  ASSERT_TRUE(m.Pull(exp.string(), patterns).ok());
  const fs::path local = m.Local(exp.string());
  EXPECT_EQ(local, dir_ / "cache/mirror" / exp.relative_path());
  EXPECT_EQ(Read(local / "plans.json"), "plans");
  EXPECT_EQ(Read(local / "fold_0/checkpoint_latest.pt"), Read(exp / "fold_0/checkpoint_latest.pt"));
  EXPECT_FALSE(fs::exists(local / "fold_1"));  // not asked for
  EXPECT_EQ(m.stats().files_fetched, 3);
  const int64_t chunks = server_->chunks_sent();

  // Again, with a new Mirror (the index on disk): nothing is fetched, nothing hashed on the server.
  m.SaveIndex();
  worker::Mirror again(ctx_, Options(), (dir_ / "cache").string(), int64_t{1} << 30);
  ASSERT_TRUE(again.Pull(exp.string(), patterns).ok());
  EXPECT_EQ(again.stats().files_fetched, 0);
  EXPECT_EQ(again.stats().files_unchanged, 3);
  EXPECT_EQ(server_->chunks_sent(), chunks);

  // The coordinator's checkpoint changes and a case disappears; a local extra goes too.
  Write(exp / "fold_0/checkpoint_latest.pt", "newer checkpoint");
  fs::remove(exp / "nnUNetPlans_3d_fullres/case_00000.npy");
  Write(local / "fold_0/stale.txt", "left by an older attempt");
  ASSERT_TRUE(again.Pull(exp.string(), patterns).ok());
  EXPECT_EQ(Read(local / "fold_0/checkpoint_latest.pt"), "newer checkpoint");
  EXPECT_FALSE(fs::exists(local / "nnUNetPlans_3d_fullres/case_00000.npy"));
  EXPECT_FALSE(fs::exists(local / "fold_0/stale.txt"));
  EXPECT_EQ(again.stats().files_removed, 2);

  // A missing remote: an error when required, else the local copy goes.
  EXPECT_EQ(again.Pull((dir_ / "served/nothing").string()).code(), StatusCode::kNotFound);
  Write(again.Local((dir_ / "served/gone.txt").string()), "old");
  ASSERT_TRUE(again.Pull((dir_ / "served/gone.txt").string(), {}, /*required=*/false).ok());
  EXPECT_FALSE(fs::exists(again.Local((dir_ / "served/gone.txt").string())));
}

TEST_F(FileTransferTest, MirrorPushUploadsAndTrimDropsTheLeastRecentlyUsed) {
  StartServer();
  const int64_t limit = 250 << 10;
  worker::Mirror m(ctx_, Options(), (dir_ / "cache").string(), limit);
  const std::string old_f = (dir_ / "served/exp/old.bin").string(), new_f = (dir_ / "served/exp/new.bin").string();
  Write(m.Local(old_f), RandomBytes(150 << 10, 15));
  Write(m.Local(new_f), RandomBytes(150 << 10, 16));
  ASSERT_TRUE(m.Push(old_f).ok());
  ASSERT_TRUE(m.Push(new_f).ok());
  EXPECT_EQ(Read(old_f), Read(m.Local(old_f)));
  // Pulling marks files as used: new.bin last.
  ASSERT_TRUE(m.Pull(old_f).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_TRUE(m.Pull(new_f).ok());
  ASSERT_LT(AtimeNs(m.Local(old_f)), AtimeNs(m.Local(new_f)));
  m.Trim();  // 300 KiB > 250 KiB: the older one goes
  EXPECT_FALSE(fs::exists(m.Local(old_f)));
  EXPECT_TRUE(fs::exists(m.Local(new_f)));
  m.Trim();  // under the limit: nothing more
  EXPECT_TRUE(fs::exists(m.Local(new_f)));
  EXPECT_TRUE(fs::exists(old_f));  // the coordinator's copy is untouched
}

// The server hashes an upload as its chunks arrive; the commit still checks
// the client's whole-file hash against it, and the new version's hash serves
// the next FileStat.
TEST_F(FileTransferTest, CommitChecksTheRunningHashOfTheUpload) {
  auto call = [&](const auto& msg) {
    auto d = proto::Decode(proto::Encode(msg, 1));
    EXPECT_TRUE(d.ok());
    return *proto::Decode(server_->Handle(*d));
  };
  const std::string a = RandomBytes(1000, 21), b = RandomBytes(500, 22);
  for (const auto& [offset, data] : {std::pair<int64_t, std::string>{0, a}, {1000, b}}) {
    auto w = call(proto::FileWriteMsg{"up.bin", offset, data, Sha256Hex(data.data(), data.size())}).Body<proto::FileWrittenMsg>();
    ASSERT_TRUE(w.ok() && w->error.empty()) << (w.ok() ? w->error : w.status().message());
  }
  auto bad = call(proto::FileCommitMsg{"up.bin", 1500, std::string(64, '0')}).Body<proto::FileWrittenMsg>();
  ASSERT_TRUE(bad.ok());
  EXPECT_FALSE(bad->committed);
  EXPECT_NE(bad->error.find("hash mismatch"), std::string::npos) << bad->error;
  EXPECT_FALSE(fs::exists(dir_ / "served/up.bin"));
  // Again, with the right hash.
  const std::string whole = a + b;
  for (const auto& [offset, data] : {std::pair<int64_t, std::string>{0, a}, {1000, b}})
    ASSERT_TRUE(call(proto::FileWriteMsg{"up.bin", offset, data, Sha256Hex(data.data(), data.size())}).Body<proto::FileWrittenMsg>().ok());
  auto good = call(proto::FileCommitMsg{"up.bin", 1500, Sha256Hex(whole.data(), whole.size())}).Body<proto::FileWrittenMsg>();
  ASSERT_TRUE(good.ok());
  EXPECT_TRUE(good->committed) << good->error;
  EXPECT_EQ(Read(dir_ / "served/up.bin"), whole);
  auto info = call(proto::FileStatMsg{"up.bin"}).Body<proto::FileInfoMsg>();
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->sha256, Sha256Hex(whole.data(), whole.size()));
}

TEST_F(FileTransferTest, AttemptsUploadingTheSameFileAtOnceNeverMixTheirChunks) {
  // Two fingerprint shards on two hosts both write experiment.json (the same
  // content) and upload it at the same time; their chunks arrive interleaved.
  auto call = [&](const auto& msg) {
    auto d = proto::Decode(proto::Encode(msg, 1));
    EXPECT_TRUE(d.ok());
    auto w = proto::Decode(server_->Handle(*d))->template Body<proto::FileWrittenMsg>();
    EXPECT_TRUE(w.ok());
    return *w;
  };
  const std::string a = RandomBytes(1500, 31), b = RandomBytes(1500, 32);
  auto write = [&](int64_t task, const std::string& data, int64_t offset, int64_t length) {
    const std::string chunk = data.substr(static_cast<size_t>(offset), static_cast<size_t>(length));
    proto::FileWriteMsg m{"exp/experiment.json", offset, chunk, Sha256Hex(chunk.data(), chunk.size()), task, 1};
    auto w = call(m);
    EXPECT_TRUE(w.error.empty()) << w.error;
    EXPECT_EQ(w.size, offset + length);
  };
  auto commit = [&](int64_t task, const std::string& data) {
    return call(proto::FileCommitMsg{"exp/experiment.json", static_cast<int64_t>(data.size()),
                                     Sha256Hex(data.data(), data.size()), task, 1});
  };
  write(3, a, 0, 1000);
  write(4, b, 0, 1000);
  write(3, a, 1000, 500);
  write(4, b, 1000, 500);
  auto first = commit(3, a);
  EXPECT_TRUE(first.committed) << first.error;
  EXPECT_EQ(Read(dir_ / "served/exp/experiment.json"), a);
  auto second = commit(4, b);
  EXPECT_TRUE(second.committed) << second.error;
  EXPECT_EQ(Read(dir_ / "served/exp/experiment.json"), b);  // the last commit wins, whole
  for (const auto& f : fs::recursive_directory_iterator(dir_ / "served"))
    EXPECT_FALSE(IsPartFile(f.path().filename().string())) << f.path();
}

TEST_F(FileTransferTest, RemoveUploadPartsTakesOnlyThatAttemptsUnfinishedUploads) {
  EXPECT_EQ(UploadPartPath("/e/fold_0/ckpt.pt", 5, 2), "/e/fold_0/ckpt.pt.5-2.part");
  EXPECT_EQ(UploadPartPath("/e/up.bin", 0, 0), "/e/up.bin.part");
  Write(dir_ / "served/exp/fold_0/ckpt.pt.5-2.part", "x");
  Write(dir_ / "served/exp/reports/r.json.5-2.part", "x");
  Write(dir_ / "served/exp/fold_0/ckpt.pt.5-1.part", "x");
  Write(dir_ / "served/exp/fold_0/ckpt.pt.15-2.part", "x");
  Write(dir_ / "served/exp/fold_0/ckpt.pt", "x");
  EXPECT_EQ(RemoveUploadParts((dir_ / "served/exp").string(), 5, 2), 2);
  EXPECT_FALSE(fs::exists(dir_ / "served/exp/fold_0/ckpt.pt.5-2.part"));
  EXPECT_FALSE(fs::exists(dir_ / "served/exp/reports/r.json.5-2.part"));
  EXPECT_TRUE(fs::exists(dir_ / "served/exp/fold_0/ckpt.pt.5-1.part"));
  EXPECT_TRUE(fs::exists(dir_ / "served/exp/fold_0/ckpt.pt.15-2.part"));
  EXPECT_TRUE(fs::exists(dir_ / "served/exp/fold_0/ckpt.pt"));
  EXPECT_EQ(RemoveUploadParts((dir_ / "nowhere").string(), 5, 2), 0);
}

TEST(MirrorPatternTest, MatchesAny) {
  EXPECT_TRUE(worker::MatchesAny("anything", {}));
  EXPECT_TRUE(worker::MatchesAny("fold_3/checkpoint_final.pt", {"fold_*/checkpoint_final.pt"}));
  EXPECT_TRUE(worker::MatchesAny("nnUNetPlans_3d_fullres/a/b.npy", {"nnUNetPlans_3d_fullres/*"}));
  EXPECT_FALSE(worker::MatchesAny("fold_3/validation/x.nii.gz", {"fold_*/checkpoint_final.pt", "plans.json"}));
  EXPECT_FALSE(worker::MatchesAny("plans.json.bak", {"plans.json"}));
}

}  // namespace
}  // namespace nephron::net
