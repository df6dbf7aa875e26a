// What only the SQLite store promises, beyond the contract suite: the data
// survives closing and a killed process; the file is WAL with the current
// schema version; a newer schema or a file that is not a database is refused
// with a message naming the file, and left as it was.
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <iterator>

#include "tests/unit/coordinator/store_test_util.h"

namespace nephron::coord::test {
namespace {

class SqliteStoreTest : public ::testing::Test, public TempDirTest {
 protected:
  void SetUp() override { path_ = (MakeDir() / "coord.db").string(); }
  void TearDown() override { fs::remove_all(dir_); }

  // Bytes [offset, offset+n) of the database file's header, big-endian.
  uint32_t HeaderField(size_t offset, size_t n) {
    std::ifstream in(path_, std::ios::binary);
    std::string header(100, '\0');
    in.read(header.data(), 100);
    uint32_t v = 0;
    for (size_t i = 0; i < n; ++i) v = (v << 8) | static_cast<unsigned char>(header[offset + i]);
    return v;
  }
  void SetHeaderField(size_t offset, uint32_t v) {
    std::fstream f(path_, std::ios::binary | std::ios::in | std::ios::out);
    f.seekp(static_cast<std::streamoff>(offset));
    const char bytes[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
                           static_cast<char>(v)};
    f.write(bytes, 4);
  }

  // One of everything, as a coordinator would have written it.
  void Populate(Store* store, int64_t* exp, std::vector<int64_t>* ids) {
    *exp = Must(store->CreateExperiment(Experiment("kits", 1000), Graph()));
    for (const TaskRecord& t : Must(store->ListTasks(*exp))) ids->push_back(t.id);
    ASSERT_TRUE(Must(store->ClaimTask((*ids)[0], 0, "w1", 2000)));
    ASSERT_TRUE(Must(store->FinishTask((*ids)[0], 1, TaskState::kSucceeded, "", false, 3000)));
    ASSERT_TRUE(Must(store->ClaimTask((*ids)[1], 0, "w1", 3100)));
    ASSERT_TRUE(Must(store->SetProgress((*ids)[1], 1, 0.5, "epoch 2/4")));
    ASSERT_OK(store->AddMetric(Metric((*ids)[1], 0, 1, 0.9)));
    ASSERT_OK(store->AppendLogs((*ids)[1], 1, {"epoch 0", "epoch 1"}, 3200));
    ASSERT_OK(store->AddEvent(*exp, (*ids)[1], "train fold 0 started on w1", 3100));
    ASSERT_OK(store->UpsertWorker(Worker("w1", "busy")));
    ASSERT_OK(store->SetResults(*exp, "{}"));
  }

  void ExpectPopulated(Store* store, int64_t exp, const std::vector<int64_t>& ids) {
    const ExperimentRecord e = Must(store->GetExperiment(exp));
    EXPECT_EQ(e.name, "kits");
    EXPECT_EQ(e.results_json, "{}");
    const std::vector<TaskRecord> tasks = Must(store->ListTasks(exp));
    ASSERT_EQ(tasks.size(), 4u);
    EXPECT_EQ(tasks[0].state, TaskState::kSucceeded);
    EXPECT_EQ(tasks[0].finished_ms, 3000);
    EXPECT_EQ(tasks[1].state, TaskState::kRunning);
    EXPECT_EQ(tasks[1].attempt, 1);
    EXPECT_EQ(tasks[1].worker, "w1");
    EXPECT_EQ(tasks[1].progress_message, "epoch 2/4");
    EXPECT_EQ(tasks[3].deps, (std::vector<int64_t>{ids[2], ids[1]}));
    EXPECT_EQ(Must(store->Metrics(exp)).size(), 1u);
    EXPECT_EQ(Must(store->Logs(ids[1], 0, 10)).size(), 2u);
    EXPECT_EQ(Must(store->Events(exp, 0, 10)).size(), 1u);
    EXPECT_EQ(Must(store->GetWorker("w1")).state, "busy");
    // Ids and sequence numbers continue after a reopen; none is reused.
    const int64_t next = Must(store->CreateExperiment(Experiment("next", 5000), {Task("plan", "plan")}));
    EXPECT_GT(next, exp);
    EXPECT_GT(Must(store->ListTasks(next))[0].id, ids.back());
  }

  std::string path_;
};

TEST_F(SqliteStoreTest, ReopeningKeepsEverything) {
  int64_t exp = 0;
  std::vector<int64_t> ids;
  {
    std::unique_ptr<Store> store = Must(OpenSqliteStore(path_));
    Populate(store.get(), &exp, &ids);
  }
  std::unique_ptr<Store> store = Must(OpenSqliteStore(path_));
  ExpectPopulated(store.get(), exp, ids);
}

TEST_F(SqliteStoreTest, SurvivesAKilledProcess) {
  const pid_t child = ::fork();
  ASSERT_NE(child, -1);
  if (child == 0) {
    // No destructors, no close: as if the coordinator got SIGKILL.
    auto store = OpenSqliteStore(path_);
    int64_t exp = 0;
    std::vector<int64_t> ids;
    if (store.ok()) Populate(store->get(), &exp, &ids);
    ::kill(::getpid(), SIGKILL);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status));
  std::unique_ptr<Store> store = Must(OpenSqliteStore(path_));
  const std::vector<ExperimentRecord> exps = Must(store->ListExperiments());
  ASSERT_EQ(exps.size(), 1u);
  std::vector<int64_t> ids;
  for (const TaskRecord& t : Must(store->ListTasks(exps[0].id))) ids.push_back(t.id);
  ExpectPopulated(store.get(), exps[0].id, ids);
}

TEST_F(SqliteStoreTest, NewFileUsesWalAndTheCurrentSchemaVersion) {
  Must(OpenSqliteStore(path_)).reset();
  EXPECT_EQ(HeaderField(18, 1), 2u);  // write version 2: WAL
  EXPECT_EQ(HeaderField(60, 4), 4u);  // user_version: the latest migration (4: workers.files)
}

// A database of an older schema (2: before workers.key_name and
// workers.files) opens, keeps its rows and gains both columns.
TEST_F(SqliteStoreTest, SchemaTwoIsMigratedKeepingItsWorkers) {
  {
    std::unique_ptr<Store> store = Must(OpenSqliteStore(path_));
    WorkerRecord w;
    w.name = "old-worker";
    w.host = "node";
    ASSERT_TRUE(store->UpsertWorker(w).ok());
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "ALTER TABLE workers DROP COLUMN key_name; ALTER TABLE workers DROP COLUMN files; "
                                   "PRAGMA user_version = 2;", nullptr, nullptr,
                         nullptr),
            SQLITE_OK)
      << sqlite3_errmsg(db);
  sqlite3_close(db);
  EXPECT_EQ(HeaderField(60, 4), 2u);
  std::unique_ptr<Store> store = Must(OpenSqliteStore(path_));
  WorkerRecord w = Must(store->GetWorker("old-worker"));
  EXPECT_EQ(w.host, "node");
  EXPECT_EQ(w.key_name, "");
  EXPECT_EQ(w.files, "");
  w.key_name = "k";
  w.files = "shared";
  ASSERT_TRUE(store->UpsertWorker(w).ok());
  EXPECT_EQ(Must(store->GetWorker("old-worker")).key_name, "k");
  EXPECT_EQ(Must(store->GetWorker("old-worker")).files, "shared");
  store.reset();  // the last connection checkpoints the WAL into the file
  EXPECT_EQ(HeaderField(60, 4), 4u);
}

TEST_F(SqliteStoreTest, NewerSchemaIsRefusedNamingTheFile) {
  Must(OpenSqliteStore(path_)).reset();
  SetHeaderField(60, 999);  // PRAGMA user_version = 999
  const Status st = OpenSqliteStore(path_).status();
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition) << st.ToString();
  EXPECT_NE(st.message().find(path_), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("999"), std::string::npos) << st.message();
  EXPECT_EQ(HeaderField(60, 4), 999u);  // left as it was
}

TEST_F(SqliteStoreTest, NonDatabaseFileIsRefusedAndLeftAlone) {
  const std::string text = std::string(4096, 'x') + "\nthis is a spec, not a database\n";
  std::ofstream(path_) << text;
  const Status st = OpenSqliteStore(path_).status();
  EXPECT_EQ(st.code(), StatusCode::kDataLoss) << st.ToString();
  EXPECT_NE(st.message().find(path_), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("not a database"), std::string::npos) << st.message();
  std::ifstream in(path_);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), text);
}

TEST_F(SqliteStoreTest, MissingDirectoryIsUnavailableNamingTheFile) {
  const std::string path = (dir_ / "no" / "such" / "coord.db").string();
  const Status st = OpenSqliteStore(path).status();
  EXPECT_EQ(st.code(), StatusCode::kUnavailable) << st.ToString();
  EXPECT_NE(st.message().find(path), std::string::npos) << st.message();
}


}  // namespace
}  // namespace nephron::coord::test
