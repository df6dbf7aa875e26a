// CURVE keys and the ZAP handler: key files, loopback detection, and real
// ZeroMQ handshakes over TCP on loopback (authorized, unknown, plain).
#include "common/curve.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "common/fs_util.h"
#include "common/transport.h"
#include "coordinator/coordinator.h"

namespace nephron::net {
namespace {

namespace fs = std::filesystem;

class CurveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("nephron_curve_" + std::to_string(getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "authorized");
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string P(const std::string& name) const { return (dir_ / name).string(); }

  CurveKeyPair Make(const std::string& prefix) {
    auto k = GenerateCurveKeyPair();
    EXPECT_TRUE(k.ok());
    EXPECT_TRUE(WriteCurveKeyFiles(P(prefix), *k).ok());
    return *k;
  }

  // A CURVE server (ZAP on) and a client with `client` keys; returns what the
  // server received within `wait_ms` (nullopt: nothing got through).
  std::optional<std::pair<Frames, std::string>> Exchange(zmq::context_t& ctx, Socket& server,
                                                         const CurveOptions& client, int wait_ms = 1500) {
    auto dealer = Socket::ConnectDealer(ctx, server.endpoint(), "w", client);
    EXPECT_TRUE(dealer.ok());
    EXPECT_TRUE(dealer->Send({"hello"}).ok());
    const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
    while (std::chrono::steady_clock::now() < end) {
      auto got = server.Recv(100);
      EXPECT_TRUE(got.ok());
      if (got.ok() && got->has_value()) return std::make_pair(**got, server.last_user_id());
    }
    return std::nullopt;
  }

  fs::path dir_;
};

TEST_F(CurveTest, KeygenWritesASecretAndAPublicFileThatReadBack) {
  const CurveKeyPair k = Make("keys/w1");
  struct stat st{};
  ASSERT_EQ(::stat(P("keys/w1.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat(P("keys/w1.pub").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
  auto back = ReadCurveSecretKey(P("keys/w1.key"));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->secret_key, k.secret_key);
  EXPECT_EQ(back->public_key, k.public_key);
  EXPECT_EQ(*ReadCurvePublicKey(P("keys/w1.pub")), k.public_key);
  EXPECT_EQ(*ReadCurvePublicKey(P("keys/w1.key")), k.public_key);
  // Never replaced.
  auto again = GenerateCurveKeyPair();
  Status st2 = WriteCurveKeyFiles(P("keys/w1"), *again);
  EXPECT_EQ(st2.code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(ReadCurveSecretKey(P("keys/w1.key"))->secret_key, k.secret_key);
  // A bare 40-character key is read too.
  ASSERT_TRUE(WriteFileAtomic(P("bare.pub"), k.public_key + "\n").ok());
  EXPECT_EQ(*ReadCurvePublicKey(P("bare.pub")), k.public_key);
}

// Z85 uses '#' and '=': keys holding them must not be cut as comments or fields.
TEST_F(CurveTest, KeysWithHashOrEqualsSignsReadBack) {
  int tricky = 0;
  for (int i = 0; i < 300 && tricky < 20; ++i) {
    auto k = GenerateCurveKeyPair();
    ASSERT_TRUE(k.ok());
    if ((k->secret_key + k->public_key).find_first_of("#=") == std::string::npos) continue;
    const std::string prefix = P("k" + std::to_string(i));
    ASSERT_TRUE(WriteCurveKeyFiles(prefix, *k).ok());
    auto back = ReadCurveSecretKey(prefix + ".key");
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(back->secret_key, k->secret_key);
    EXPECT_EQ(*ReadCurvePublicKey(prefix + ".pub"), k->public_key);
    ASSERT_TRUE(WriteFileAtomic(prefix + ".bare", k->public_key + "\n").ok());
    EXPECT_EQ(*ReadCurvePublicKey(prefix + ".bare"), k->public_key);
    ++tricky;
  }
  EXPECT_GT(tricky, 0);
}

TEST_F(CurveTest, BadKeyFilesNameTheFileAndField) {
  const CurveKeyPair k = Make("a");
  const CurveKeyPair other = Make("b");
  ASSERT_TRUE(WriteFileAtomic(P("short.key"), "secret = abc\n").ok());
  auto r = ReadCurveSecretKey(P("short.key"));
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("short.key:1"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("field secret"), std::string::npos);
  r = ReadCurveSecretKey(P("a.pub"));
  EXPECT_NE(r.status().message().find("field secret: missing"), std::string::npos) << r.status().message();
  ASSERT_TRUE(WriteFileAtomic(P("mixed.key"), "public = " + other.public_key + "\nsecret = " + k.secret_key + "\n").ok());
  r = ReadCurveSecretKey(P("mixed.key"));
  EXPECT_NE(r.status().message().find("does not belong"), std::string::npos) << r.status().message();
  ASSERT_TRUE(WriteFileAtomic(P("typo.key"), "secrt = " + k.secret_key + "\n").ok());
  EXPECT_NE(ReadCurveSecretKey(P("typo.key")).status().message().find("unknown field 'secrt'"), std::string::npos);
  EXPECT_FALSE(ReadCurveSecretKey(P("missing.key")).ok());
  ASSERT_TRUE(WriteFileAtomic(P("authorized/broken.pub"), "public = nope\n").ok());
  auto dir = ReadAuthorizedKeys(P("authorized"));
  EXPECT_NE(dir.status().message().find("broken.pub"), std::string::npos);
  EXPECT_EQ(ReadAuthorizedKeys(P("no-such-dir")).status().code(), StatusCode::kNotFound);
}

TEST(LoopbackTest, OnlyLoopbackHostsAreLoopback) {
  EXPECT_TRUE(IsLoopbackEndpoint("tcp://127.0.0.1:5555"));
  EXPECT_TRUE(IsLoopbackEndpoint("tcp://127.0.0.1:0"));
  EXPECT_TRUE(IsLoopbackEndpoint("tcp://localhost:5555"));
  EXPECT_TRUE(IsLoopbackEndpoint("tcp://[::1]:5555"));
  EXPECT_TRUE(IsLoopbackEndpoint("ipc:///tmp/x"));
  EXPECT_FALSE(IsLoopbackEndpoint("tcp://*:5555"));
  EXPECT_FALSE(IsLoopbackEndpoint("tcp://0.0.0.0:5555"));
  EXPECT_FALSE(IsLoopbackEndpoint("tcp://10.0.0.5:5555"));
  EXPECT_FALSE(IsLoopbackEndpoint("tcp://coordinator.example.org:5555"));
}

TEST_F(CurveTest, OnlyAuthorizedKeysGetThroughAndAreNamed) {
  const CurveKeyPair server = Make("coordinator");
  const CurveKeyPair good = Make("authorized/worker-a");
  const CurveKeyPair stranger = Make("stranger");
  zmq::context_t ctx;
  ZapAuthenticator zap(ctx, P("authorized"));
  ASSERT_TRUE(zap.Start().ok());
  CurveOptions so;
  so.secret_key = server.secret_key;
  auto router = Socket::BindRouter(ctx, "tcp://127.0.0.1:0", so);
  ASSERT_TRUE(router.ok());

  CurveOptions ok{good.secret_key, good.public_key, server.public_key};
  auto got = Exchange(ctx, *router, ok);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->first.back(), "hello");
  EXPECT_EQ(got->second, "worker-a");  // identified by its key's name

  CurveOptions unknown{stranger.secret_key, stranger.public_key, server.public_key};
  EXPECT_FALSE(Exchange(ctx, *router, unknown).has_value());
  EXPECT_GE(zap.refused(), 1);
  // Plain TCP to a CURVE server: nothing gets through either.
  EXPECT_FALSE(Exchange(ctx, *router, CurveOptions{}, 800).has_value());
  // A client that trusts another server key: the handshake fails.
  CurveOptions wrong_server{good.secret_key, good.public_key, stranger.public_key};
  EXPECT_FALSE(Exchange(ctx, *router, wrong_server, 800).has_value());

  // Authorizing the stranger needs no restart.
  fs::copy_file(P("stranger.pub"), P("authorized/stranger.pub"));
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  got = Exchange(ctx, *router, unknown, 3000);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->second, "stranger");
}

TEST_F(CurveTest, CoordinatorRefusesPlainTcpOffLoopbackUnlessInsecure) {
  auto store = coord::NewMemoryStore();
  coord::CoordinatorOptions o;
  o.bind = "tcp://0.0.0.0:0";
  {
    coord::Coordinator c(store.get(), o);
    Status st = c.Start();
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(st.message().find("--insecure"), std::string::npos) << st.message();
    EXPECT_NE(st.message().find("--key"), std::string::npos);
  }
  o.insecure = true;
  {
    coord::Coordinator c(store.get(), o);
    EXPECT_TRUE(c.Start().ok());
  }
  o.insecure = false;
  Make("coordinator");
  o.key_file = P("coordinator.key");
  {
    coord::Coordinator c(store.get(), o);  // --key without --authorized-keys
    EXPECT_NE(c.Start().message().find("--authorized-keys"), std::string::npos);
  }
  o.authorized_keys = P("authorized");
  {
    coord::Coordinator c(store.get(), o);
    EXPECT_TRUE(c.Start().ok());
  }
}

}  // namespace
}  // namespace nephron::net
