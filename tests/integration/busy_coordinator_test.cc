// A coordinator busy serving files keeps heartbeating its workers: a client
// fetching a large file keeps the coordinator's queue from ever emptying (a
// new chunk request arrives while the others are answered), and a
// coordinator that handled its whole queue before each tick went silent for
// the length of the transfer, so its workers took it for gone and
// reconnected. An in-process coordinator, a bare DEALER registered as a
// worker that records when heartbeats arrive, and a FileClient fetching.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

#include "common/file_transfer.h"
#include "common/protocol.h"
#include "common/transport.h"
#include "coordinator/coordinator.h"

namespace nephron {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

TEST(BusyCoordinatorTest, KeepsHeartbeatingWhileServingALargeFile) {
  const fs::path dir = fs::temp_directory_path() / ("nephron_busy_" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "data");
  const int64_t size = 256ll << 20;
  {
    std::ofstream out(dir / "data/big.bin", std::ios::binary);
    std::vector<char> block(1 << 20);
    for (int64_t i = 0; i < size; i += static_cast<int64_t>(block.size())) {
      std::fill(block.begin(), block.end(), static_cast<char>(i >> 20));
      out.write(block.data(), static_cast<std::streamsize>(block.size()));
    }
  }
  auto store = coord::NewMemoryStore();
  coord::CoordinatorOptions o;
  o.data_root = (dir / "data").string();
  o.scheduler.heartbeat_ms = 200;
  o.scheduler.liveness = 4;  // a worker gives up on a coordinator silent for 800 ms
  coord::Coordinator c(store.get(), o);
  ASSERT_TRUE(c.Start().ok());
  std::atomic<bool> stop{false};
  std::thread loop([&] { c.Run(&stop); });
  struct Joined {  // the loop stops however the test ends
    std::atomic<bool>& stop;
    std::thread& loop;
    ~Joined() {
      stop = true;
      if (loop.joinable()) loop.join();
    }
  } joined{stop, loop};

  zmq::context_t ctx;
  auto worker = net::Socket::ConnectDealer(ctx, c.endpoint(), "w~1");
  ASSERT_TRUE(worker.ok());
  proto::RegisterMsg reg;
  reg.name = "w";
  ASSERT_TRUE(worker->Send({proto::Encode(reg)}).ok());

  // Four workers fetching at once: the coordinator is the slow side, so
  // requests are always waiting.
  constexpr int kClients = 4;
  std::atomic<int> fetching{kClients};
  std::vector<Status> fetched(kClients);
  std::atomic<bool> started{false};
  Clock::time_point fetch_start, fetch_end;
  std::vector<std::thread> clients;
  for (int i = 0; i < kClients; ++i)
    clients.emplace_back([&, i] {
      std::this_thread::sleep_for(std::chrono::milliseconds(300));  // registered, heartbeats flowing
      net::FileClientOptions f;
      f.endpoint = c.endpoint();
      f.name = "files" + std::to_string(i);
      net::FileClient fc(ctx, f);
      if (!started.exchange(true)) fetch_start = Clock::now();
      fetched[i] = fc.Fetch("big.bin", (dir / ("copy" + std::to_string(i) + ".bin")).string()).status();
      if (--fetching == 0) fetch_end = Clock::now();
    });
  // Heartbeats from the coordinator, and when they came; this "worker"
  // answers each with one of its own, as a worker does.
  std::vector<Clock::time_point> beats;
  while (fetching > 0) {
    auto r = worker->Recv(20);
    if (!r.ok() || !r->has_value()) continue;
    auto d = proto::Decode((**r)[0]);
    if (!d.ok() || d->envelope.type != proto::MsgType::kHeartbeat) continue;
    beats.push_back(Clock::now());
    (void)worker->Send({proto::Encode(proto::HeartbeatMsg{})});
  }
  for (auto& t : clients) t.join();
  for (const Status& st : fetched) ASSERT_TRUE(st.ok()) << st.ToString();
  const double fetch_ms = std::chrono::duration<double, std::milli>(fetch_end - fetch_start).count();
  // The longest silence while the file was being served.
  double longest = 0;
  Clock::time_point prev = fetch_start;
  for (const auto& t : beats) {
    if (t < fetch_start) continue;
    longest = std::max(longest, std::chrono::duration<double, std::milli>(t - prev).count());
    prev = t;
  }
  longest = std::max(longest, std::chrono::duration<double, std::milli>(fetch_end - prev).count());
  // A transfer that ends within the window proves nothing either way.
  EXPECT_GT(fetch_ms, 800) << "the fetch was too quick to tell: make the file larger";
  EXPECT_LT(longest, 800) << "the coordinator was silent for " << longest << " ms of a " << fetch_ms
                          << " ms fetch";
  std::printf("longest silence %.0f ms while serving %d fetches for %.0f ms\n", longest, kClients, fetch_ms);
  auto w = store->GetWorker("w");
  ASSERT_TRUE(w.ok());
  EXPECT_NE(w->state, "lost");
  fs::remove_all(dir);
}

}  // namespace
}  // namespace nephron
